// AVX2 k-means inner steps; bit-identical to kmeans_steps_scalar.cpp on any data, ties to the lowest index.
// This file is compiled with -ffp-contract=off (kernels/CMakeLists.txt): otherwise GCC fuses the
// kmeanspp_update distances' acc + diff·diff into an FMA and min_d differs from scalar on real-valued data.
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx2 {

void nearest_from_ip(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,
                     std::uint32_t* labels, float* best) {
  const __m256 two = _mm256_set1_ps(2.f);
  const __m256i eight = _mm256_set1_epi32(8);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = ip + r * k;
    if (k < 8) {
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    __m256 bv = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256i bi = _mm256_setzero_si256();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    std::size_t j = 0;
    for (; j + 8 <= k; j += 8, idx = _mm256_add_epi32(idx, eight)) {
      const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(c_norms + j), _mm256_mul_ps(two, _mm256_loadu_ps(row + j)));
      const __m256 lt = _mm256_cmp_ps(v, bv, _CMP_LT_OQ);
      bv = _mm256_blendv_ps(bv, v, lt);
      bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), lt));
    }
    alignas(32) float vals[8];
    alignas(32) std::uint32_t ids[8];
    _mm256_store_ps(vals, bv);
    _mm256_store_si256(reinterpret_cast<__m256i*>(ids), bi);
    float b = vals[0];
    std::uint32_t bj = ids[0];
    for (int l = 1; l < 8; ++l)
      if (vals[l] < b || (vals[l] == b && ids[l] < bj)) {
        b = vals[l];
        bj = ids[l];
      }
    for (; j < k; ++j) {  // tail: larger indices, so strict < keeps the lowest index on ties
      const float v = c_norms[j] - 2.f * row[j];
      if (v < b) {
        b = v;
        bj = static_cast<std::uint32_t>(j);
      }
    }
    if (b != b) {  // NaNs: the scalar definition
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    labels[r] = bj;
    best[r] = b;
  }
}

void accumulate_f64(double* acc, const float* x, std::size_t d) {
  std::size_t t = 0;
  for (; t + 4 <= d; t += 4)
    _mm256_storeu_pd(acc + t, _mm256_add_pd(_mm256_loadu_pd(acc + t), _mm256_cvtps_pd(_mm_loadu_ps(x + t))));
  for (; t < d; ++t) acc[t] += x[t];
}

void add_scaled(const float* a, float alpha, const float* b, std::size_t n, float* out) {
  const __m256 s = _mm256_set1_ps(alpha);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(s, _mm256_loadu_ps(b + i), _mm256_loadu_ps(a + i)));
  for (; i < n; ++i) out[i] = std::fma(alpha, b[i], a[i]);
}

void kmeanspp_update(const float* xt, std::size_t n, std::size_t d, const float* c, float* min_d,
                     float* block_sums) {
  constexpr std::size_t block = 256, vecs = block / 8;
  for (std::size_t i0 = 0, b = 0; i0 < n; i0 += block, ++b) {
    const std::size_t len = n - i0 < block ? n - i0 : block;
    if (len < block) {  // the last, partial block: the scalar definition (rows of xt are n apart)
      float acc[block];
      for (std::size_t j = 0; j < len; ++j) acc[j] = 0.f;
      for (std::size_t t = 0; t < d; ++t)
        for (std::size_t j = 0; j < len; ++j) {
          const float diff = xt[t * n + i0 + j] - c[t];
          acc[j] = acc[j] + diff * diff;
        }
      float sum = 0.f;
      for (std::size_t j = 0; j < len; ++j) {
        float& m = min_d[i0 + j];
        m = acc[j] < m ? acc[j] : m;
        sum += m;
      }
      block_sums[b] = sum;
      continue;
    }
    __m256 acc[vecs];
    for (std::size_t v = 0; v < vecs; ++v) acc[v] = _mm256_setzero_ps();
    for (std::size_t t = 0; t < d; ++t) {
      const float* x = xt + t * n + i0;
      const __m256 ct = _mm256_set1_ps(c[t]);
      for (std::size_t v = 0; v < vecs; ++v) {
        const __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(x + 8 * v), ct);
        acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(diff, diff));
      }
    }
    __m256 sum = _mm256_setzero_ps();
    for (std::size_t v = 0; v < vecs; ++v) {
      float* m = min_d + i0 + 8 * v;
      const __m256 nm = _mm256_min_ps(acc[v], _mm256_loadu_ps(m));
      _mm256_storeu_ps(m, nm);
      sum = _mm256_add_ps(sum, nm);
    }
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    block_sums[b] = _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
  }
}

}  // namespace ivfstream::kernels::avx2
