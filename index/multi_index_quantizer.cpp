#include "index/multi_index_quantizer.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "kernels/assert.hpp"
#include "kernels/gemm.hpp"

namespace ivfstream {

namespace {

/// Copies columns [first, first + w) of n rows of width d into out (n × w).
void gather_columns(const float* x, std::size_t n, std::size_t d, std::size_t first, std::size_t w, float* out) {
  for (std::size_t i = 0; i < n; ++i) std::copy_n(x + i * d + first, w, out + i * w);
}

std::vector<float> row_norms(const float* x, std::size_t n, std::size_t w) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    float s = 0;
    for (std::size_t j = 0; j < w; ++j) s += x[i * w + j] * x[i * w + j];
    out[i] = s;
  }
  return out;
}

/// Heap order of multi_sequence: the smallest (key, cell) on top.
bool later(const multi_sequence_scratch::item& a, const multi_sequence_scratch::item& b) {
  if (a.key != b.key) return a.key > b.key;
  return a.cell > b.cell;
}

}  // namespace

multi_index_quantizer::multi_index_quantizer(std::size_t d, unsigned bits, std::vector<float> codebooks)
    : d_(d), d1_(d / 2), k_(std::size_t{1} << bits), cb_(std::move(codebooks)) {
  IVF_ASSERT(d >= 2 && bits >= 1 && bits <= 16 && cb_.size() == k_ * d);
  n1_ = row_norms(half1(), k_, d1_);
  n2_ = row_norms(half2(), k_, d2());
}

kernels::device_status multi_index_quantizer::train(const kernels::accelerator_choice& device, const float* x,
                                                    std::size_t n, std::size_t d, unsigned bits,
                                                    const kernels::kmeans_options& opt, const kernels::log_sink& log,
                                                    std::vector<float>* out) {
  const std::size_t k = std::size_t{1} << bits, d1 = d / 2, d2 = d - d1;
  // Both halves train on one seeded sample of k × max_points_per_centroid rows (all when n is smaller),
  // so the half copies stay small whatever n is.
  std::vector<std::size_t> rows(n);
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  const std::size_t want = std::max<std::size_t>(1, opt.max_points_per_centroid) * k;
  if (want < n) {
    std::mt19937_64 rng(opt.seed ^ 0x696d69ull);
    for (std::size_t i = 0; i < want; ++i) std::swap(rows[i], rows[std::uniform_int_distribution<std::size_t>(i, n - 1)(rng)]);
    rows.resize(want);
    std::sort(rows.begin(), rows.end());
  }
  const std::size_t ns = rows.size();
  out->assign(k * d, 0.0f);
  std::vector<float> half(ns * d2);  // d2 ≥ d1
  for (int h = 0; h < 2; ++h) {
    const std::size_t first = h == 0 ? 0 : d1, w = h == 0 ? d1 : d2;
    for (std::size_t i = 0; i < ns; ++i) std::copy_n(x + rows[i] * d + first, w, half.data() + i * w);
    kernels::kmeans_options o = opt;
    o.seed = opt.seed + static_cast<std::uint64_t>(h);
    kernels::kmeans_result r;
    if (auto st = kernels::train_kmeans(device, half.data(), ns, w, k, o, log, &r); !st) return st;
    std::copy(r.centroids.begin(), r.centroids.end(), out->begin() + (h == 0 ? 0 : k * d1));
  }
  return {};
}

void multi_index_quantizer::cell_centroid(std::uint32_t cell, float* out) const noexcept {
  const std::size_t i = cell / k_, j = cell % k_;
  std::copy_n(half1() + i * d1_, d1_, out);
  std::copy_n(half2() + j * d2(), d2(), out + d1_);
}

void multi_index_quantizer::assign(const float* x, std::size_t n, std::uint32_t* cells, int max_threads) const {
  constexpr std::size_t block = 1024;  // bounds scratch whatever n is
  const std::size_t nb_max = std::min(n, block);
  std::vector<float> half(nb_max * d2());
  std::vector<std::uint32_t> l1(nb_max), l2(nb_max);
  for (std::size_t b = 0; b < n; b += block) {
    const std::size_t nb = std::min(block, n - b);
    gather_columns(x + b * d_, nb, d_, 0, d1_, half.data());
    kernels::assign_nearest(half.data(), nb, half1(), k_, d1_, l1.data(), nullptr, max_threads);
    gather_columns(x + b * d_, nb, d_, d1_, d2(), half.data());
    kernels::assign_nearest(half.data(), nb, half2(), k_, d2(), l2.data(), nullptr, max_threads);
    for (std::size_t i = 0; i < nb; ++i) cells[b + i] = static_cast<std::uint32_t>(l1[i] * k_ + l2[i]);
  }
}

void multi_index_quantizer::half_keys(const float* x, std::size_t nb, bool dot, float* s1, float* s2,
                                      std::vector<float>& scratch) const {
  scratch.resize(nb * d2());
  for (int h = 0; h < 2; ++h) {
    const std::size_t first = h == 0 ? 0 : d1_, w = h == 0 ? d1_ : d2();
    const float* cb = h == 0 ? half1() : half2();
    const std::vector<float>& cn = h == 0 ? n1_ : n2_;
    float* s = h == 0 ? s1 : s2;
    gather_columns(x, nb, d_, first, w, scratch.data());
    kernels::matmul_nt(scratch.data(), nb, cb, k_, w, s);
    for (std::size_t r = 0; r < nb; ++r) {
      float* row = s + r * k_;
      if (dot) {
        for (std::size_t c = 0; c < k_; ++c) row[c] = -row[c];
      } else {
        const float* xr = scratch.data() + r * w;
        float xn = 0;
        for (std::size_t j = 0; j < w; ++j) xn += xr[j] * xr[j];
        for (std::size_t c = 0; c < k_; ++c) row[c] = std::max(0.0f, xn - 2.0f * row[c] + cn[c]);
      }
    }
  }
}

void multi_sequence(const float* s1, const float* s2, std::size_t K, std::size_t count, std::uint32_t* cells,
                    float* keys, multi_sequence_scratch& sc) {
  IVF_ASSERT(K >= 1 && count >= 1 && count <= K * K);
  auto sort_half = [K](const float* s, std::vector<std::uint32_t>& order) {
    order.resize(K);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [s](std::uint32_t a, std::uint32_t b) {
      if (s[a] != s[b]) return s[a] < s[b];
      return a < b;
    });
  };
  sort_half(s1, sc.order1);
  sort_half(s2, sc.order2);
  const std::uint32_t* o1 = sc.order1.data();
  const std::uint32_t* o2 = sc.order2.data();
  auto make = [&](std::uint32_t u, std::uint32_t v) {
    return multi_sequence_scratch::item{s1[o1[u]] + s2[o2[v]], static_cast<std::uint32_t>(o1[u] * K + o2[v]), u, v};
  };
  sc.heap.clear();
  sc.out.clear();
  sc.heap.push_back(make(0, 0));
  while (!sc.heap.empty()) {
    // Stop once `count` cells are out and the next key is larger than the last one taken: every cell
    // of key ≤ that last key has then been popped (each unpopped one has an ancestor in the heap with a
    // key no larger), so the boundary ties are complete.
    if (sc.out.size() >= count && sc.heap.front().key > sc.out.back().key) break;
    std::pop_heap(sc.heap.begin(), sc.heap.end(), later);
    const multi_sequence_scratch::item top = sc.heap.back();
    sc.heap.pop_back();
    sc.out.push_back(top);
    if (top.v + 1 < K) {
      sc.heap.push_back(make(top.u, top.v + 1));
      std::push_heap(sc.heap.begin(), sc.heap.end(), later);
    }
    if (top.v == 0 && top.u + 1 < K) {
      sc.heap.push_back(make(top.u + 1, 0));
      std::push_heap(sc.heap.begin(), sc.heap.end(), later);
    }
  }
  // Pops came out by key, but equal keys in heap order of discovery: order them by cell as a full sort would.
  std::sort(sc.out.begin(), sc.out.end(), [](const auto& a, const auto& b) { return later(b, a); });
  for (std::size_t i = 0; i < count; ++i) {
    cells[i] = sc.out[i].cell;
    keys[i] = sc.out[i].key;
  }
}

}  // namespace ivfstream
