#include "tests/gpu/cpu_lloyd.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels/cuda/kmeans_host_steps.hpp"

namespace ivfstream::gpu_check {
namespace {

constexpr std::size_t k_rows = 4;            // rows per micro-kernel call
constexpr std::size_t k_cols = 16;           // centroids per panel
constexpr std::size_t k_block_rows = 64;     // rows kept hot while a chunk of panels is scanned
constexpr std::size_t k_chunk_panels = 32;   // 512 centroids per chunk (256 KiB at dsub = 128)

// Centroids of one sub-space, transposed into panels of 16: panel p is dsub × 16 (centroid p·16 + u in
// column u), zero-padded; norms are padded with +inf so padding never wins.
struct panel_set {
  std::size_t count = 0;      // panels
  std::vector<float> data;    // count × dsub × 16
  std::vector<float> norms;   // count × 16
};

panel_set make_panels(const float* cents, std::size_t k, std::size_t dsub) {
  panel_set p;
  p.count = (k + k_cols - 1) / k_cols;
  p.data.assign(p.count * dsub * k_cols, 0.0f);
  p.norms.assign(p.count * k_cols, std::numeric_limits<float>::infinity());
  for (std::size_t c = 0; c < k; ++c) {
    float s = 0.0f;
    for (std::size_t t = 0; t < dsub; ++t) {
      const float v = cents[c * dsub + t];
      p.data[(c / k_cols) * dsub * k_cols + t * k_cols + c % k_cols] = v;
      s += v * v;
    }
    p.norms[c] = s;
  }
  return p;
}

// out[r][u] = ⟨xr[r], centroid u of the panel⟩ over dsub floats.
inline void dot_4x16(const float* const xr[k_rows], const float* panel, std::size_t dsub,
                     float out[k_rows][k_cols]) {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc[k_rows][2];
  for (std::size_t r = 0; r < k_rows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (std::size_t t = 0; t < dsub; ++t) {
    const __m256 p0 = _mm256_loadu_ps(panel + t * k_cols);
    const __m256 p1 = _mm256_loadu_ps(panel + t * k_cols + 8);
    for (std::size_t r = 0; r < k_rows; ++r) {
      const __m256 xv = _mm256_broadcast_ss(xr[r] + t);
      acc[r][0] = _mm256_fmadd_ps(xv, p0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xv, p1, acc[r][1]);
    }
  }
  for (std::size_t r = 0; r < k_rows; ++r) {
    _mm256_storeu_ps(out[r], acc[r][0]);
    _mm256_storeu_ps(out[r] + 8, acc[r][1]);
  }
#else
  for (std::size_t r = 0; r < k_rows; ++r)
    for (std::size_t u = 0; u < k_cols; ++u) out[r][u] = 0.0f;
  for (std::size_t t = 0; t < dsub; ++t)
    for (std::size_t r = 0; r < k_rows; ++r)
      for (std::size_t u = 0; u < k_cols; ++u) out[r][u] += xr[r][t] * panel[t * k_cols + u];
#endif
}

// For rows [b, e) of sub-space m: calls visit(row, first_centroid, vals) with vals[u] = ‖c‖² − 2⟨x,c⟩
// for the 16 centroids of each panel, panels in ascending order per row.
template <class Visit>
void scan_rows(const float* x, std::size_t b, std::size_t e, std::size_t d, std::size_t m,
               std::size_t dsub, const panel_set& p, Visit&& visit) {
  float dots[k_rows][k_cols];
  for (std::size_t i0 = b; i0 < e; i0 += k_block_rows) {
    const std::size_t i1 = std::min(e, i0 + k_block_rows);
    for (std::size_t c0 = 0; c0 < p.count; c0 += k_chunk_panels) {
      const std::size_t c1 = std::min(p.count, c0 + k_chunk_panels);
      for (std::size_t g = i0; g < i1; g += k_rows) {
        const float* xr[k_rows];
        for (std::size_t r = 0; r < k_rows; ++r) xr[r] = x + std::min(g + r, i1 - 1) * d + m * dsub;
        const std::size_t valid = std::min(k_rows, i1 - g);
        for (std::size_t q = c0; q < c1; ++q) {
          dot_4x16(xr, p.data.data() + q * dsub * k_cols, dsub, dots);
          for (std::size_t r = 0; r < valid; ++r) {
            float vals[k_cols];
            for (std::size_t u = 0; u < k_cols; ++u) vals[u] = p.norms[q * k_cols + u] - 2.0f * dots[r][u];
            visit(g + r, q * k_cols, vals);
          }
        }
      }
    }
  }
}

float sq_norm(const float* v, std::size_t len) {
  float s = 0.0f;
  for (std::size_t t = 0; t < len; ++t) s += v[t] * v[t];
  return s;
}

// Sorted (ascending) bounded list of the best `cap` (value, index) pairs.
struct top_list {
  std::vector<float> vals;
  std::vector<std::uint32_t> ids;
  std::size_t cap;
  explicit top_list(std::size_t c) : cap(c) {}
  void push(float v, std::uint32_t id) {
    if (vals.size() == cap && !(v < vals.back())) return;
    std::size_t pos = vals.size() == cap ? cap - 1 : vals.size();
    if (vals.size() < cap) {
      vals.push_back(v);
      ids.push_back(id);
    }
    while (pos > 0 && v < vals[pos - 1]) {
      vals[pos] = vals[pos - 1];
      ids[pos] = ids[pos - 1];
      --pos;
    }
    vals[pos] = v;
    ids[pos] = id;
  }
};

}  // namespace

void cpu_assign(const float* x, std::size_t n, std::size_t d, std::size_t M, std::size_t k,
                const float* centroids, unsigned threads, std::uint32_t* codes, float* dists) {
  const std::size_t dsub = d / M;
  for (std::size_t m = 0; m < M; ++m) {
    const panel_set p = make_panels(centroids + m * k * dsub, k, dsub);
    parallel_for(n, threads, [&](std::size_t b, std::size_t e) {
      std::vector<float> best(e - b, std::numeric_limits<float>::infinity());
      std::vector<std::uint32_t> arg(e - b, 0);
      scan_rows(x, b, e, d, m, dsub, p, [&](std::size_t row, std::size_t c0, const float* vals) {
        for (std::size_t u = 0; u < k_cols; ++u)
          if (vals[u] < best[row - b]) {
            best[row - b] = vals[u];
            arg[row - b] = static_cast<std::uint32_t>(c0 + u);
          }
      });
      for (std::size_t i = b; i < e; ++i) {
        codes[i * M + m] = arg[i - b];
        if (dists != nullptr) dists[i * M + m] = std::max(0.0f, sq_norm(x + i * d + m * dsub, dsub) + best[i - b]);
      }
    });
  }
}

double cpu_lloyd(const float* x, std::size_t n, std::size_t d, std::size_t M, std::size_t k,
                 std::size_t iterations, std::uint64_t seed, unsigned threads, float* centroids) {
  const std::size_t dsub = d / M, cents = k * d;
  std::vector<std::uint32_t> codes(n * M);
  threads = std::max(1u, threads);
  std::vector<std::vector<double>> sums(threads, std::vector<double>(cents));
  std::vector<std::vector<std::uint32_t>> counts(threads, std::vector<std::uint32_t>(M * k));
  for (std::size_t it = 0; it < iterations; ++it) {
    cpu_assign(x, n, d, M, k, centroids, threads, codes.data(), nullptr);
    const std::size_t chunk = (n + threads - 1) / threads;
    parallel_for(threads, threads, [&](std::size_t tb, std::size_t te) {
      for (std::size_t t = tb; t < te; ++t) {
        std::fill(sums[t].begin(), sums[t].end(), 0.0);
        std::fill(counts[t].begin(), counts[t].end(), 0u);
        for (std::size_t i = t * chunk; i < std::min(n, (t + 1) * chunk); ++i)
          for (std::size_t m = 0; m < M; ++m) {
            const std::size_t row = m * k + codes[i * M + m];
            ++counts[t][row];
            const float* xs = x + i * d + m * dsub;
            double* s = sums[t].data() + row * dsub;
            for (std::size_t u = 0; u < dsub; ++u) s[u] += xs[u];
          }
      }
    });
    std::vector<std::uint32_t> total(M * k, 0);
    for (unsigned t = 0; t < threads; ++t)
      for (std::size_t r = 0; r < M * k; ++r) total[r] += counts[t][r];
    parallel_for(M * k, threads, [&](std::size_t b, std::size_t e) {
      for (std::size_t r = b; r < e; ++r) {
        if (total[r] == 0) continue;
        for (std::size_t u = 0; u < dsub; ++u) {
          double s = 0.0;
          for (unsigned t = 0; t < threads; ++t) s += sums[t][r * dsub + u];
          centroids[r * dsub + u] = static_cast<float>(s / total[r]);
        }
      }
    });
    for (std::size_t m = 0; m < M; ++m)
      (void)kernels::repair_empty_clusters(centroids + m * k * dsub, total.data() + m * k, k, dsub,
                                           kernels::repair_seed(seed, it, m));
  }
  std::vector<float> dists(n * M);
  cpu_assign(x, n, d, M, k, centroids, threads, codes.data(), dists.data());
  double obj = 0.0;
  for (float v : dists) obj += v;
  return obj;
}

void cpu_knn(const float* base, std::size_t nb, const float* queries, std::size_t nq, std::size_t d,
             std::size_t topk, unsigned threads, std::vector<std::uint32_t>* out) {
  const panel_set p = make_panels(base, nb, d);  // base rows play the centroids
  out->assign(nq * topk, 0);
  parallel_for(nq, threads, [&](std::size_t b, std::size_t e) {
    std::vector<top_list> lists(e - b, top_list(topk));
    scan_rows(queries, b, e, d, 0, d, p, [&](std::size_t row, std::size_t c0, const float* vals) {
      for (std::size_t u = 0; u < k_cols && c0 + u < nb; ++u)
        lists[row - b].push(vals[u], static_cast<std::uint32_t>(c0 + u));
    });
    for (std::size_t i = b; i < e; ++i)
      std::copy(lists[i - b].ids.begin(), lists[i - b].ids.end(), out->begin() + i * topk);
  });
}

void pq_adc_knn(const std::uint32_t* codes, std::size_t nb, const float* codebooks, std::size_t M,
                std::size_t ksub, const float* queries, std::size_t nq, std::size_t d, std::size_t topk,
                unsigned threads, std::vector<std::uint32_t>* out) {
  const std::size_t dsub = d / M;
  out->assign(nq * topk, 0);
  parallel_for(nq, threads, [&](std::size_t b, std::size_t e) {
    std::vector<float> lut(M * ksub);
    for (std::size_t q = b; q < e; ++q) {
      for (std::size_t m = 0; m < M; ++m)
        for (std::size_t c = 0; c < ksub; ++c) {
          float s = 0.0f;
          for (std::size_t t = 0; t < dsub; ++t) {
            const float diff = queries[q * d + m * dsub + t] - codebooks[(m * ksub + c) * dsub + t];
            s += diff * diff;
          }
          lut[m * ksub + c] = s;
        }
      top_list best(topk);
      for (std::size_t i = 0; i < nb; ++i) {
        float s = 0.0f;
        for (std::size_t m = 0; m < M; ++m) s += lut[m * ksub + codes[i * M + m]];
        best.push(s, static_cast<std::uint32_t>(i));
      }
      std::copy(best.ids.begin(), best.ids.end(), out->begin() + q * topk);
    }
  });
}

double recall_at(const std::vector<std::uint32_t>& found, const std::vector<std::uint32_t>& truth,
                 std::size_t nq, std::size_t topk) {
  std::size_t hits = 0;
  for (std::size_t q = 0; q < nq; ++q)
    for (std::size_t a = 0; a < topk; ++a)
      for (std::size_t t = 0; t < topk; ++t)
        if (found[q * topk + a] == truth[q * topk + t]) {
          ++hits;
          break;
        }
  return static_cast<double>(hits) / static_cast<double>(nq * topk);
}

}  // namespace ivfstream::gpu_check
