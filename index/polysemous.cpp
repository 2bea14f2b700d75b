#include "index/polysemous.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "index/list_scan.hpp"
#include "kernels/argmin.hpp"
#include "kernels/hamming.hpp"
#include "kernels/pq_codes.hpp"

namespace ivfstream {

namespace {

/// Rows per scan block (distances and gathered codes stay in fixed buffers) and the padding rules of
/// list_scan.cpp: adc_scan is called on whole groups of 4 rows plus 4 guard rows, so every distance
/// we use comes from the kernel's vector body and equals the one scan_list computes for that code.
constexpr std::size_t k_block = 256, k_row_group = 4, k_guard_rows = 4;

/// ‖c_i − c_j‖ for all pairs: ksub × ksub row-major.
std::vector<float> pair_distances(const float* c, std::size_t ksub, std::size_t dsub) {
  std::vector<float> dist(ksub * ksub, 0.0f);
  for (std::size_t i = 0; i < ksub; ++i)
    for (std::size_t j = i + 1; j < ksub; ++j) {
      double s = 0;
      for (std::size_t t = 0; t < dsub; ++t) {
        const double v = double(c[i * dsub + t]) - c[j * dsub + t];
        s += v * v;
      }
      dist[i * ksub + j] = dist[j * ksub + i] = static_cast<float>(std::sqrt(s));
    }
  return dist;
}

inline int popcount(std::uint32_t v) { return __builtin_popcount(v); }

/// Change of Σ_{k} w (H − t)² over the pairs of a and of b when a and b exchange codes (pairs (a, b)
/// keep their Hamming distance); target and weight symmetric ksub × ksub:
///   2 Σ_{k≠a,b} (hb − ha) · [w_ak (ha + hb − 2 t_ak) − w_bk (ha + hb − 2 t_bk)],
///   ha = H(p[a], p[k]), hb = H(p[b], p[k])   (ordered pairs: each unordered pair counts twice)
double swap_delta(const std::vector<std::uint32_t>& perm, const float* target, const float* weight, std::size_t ksub,
                  std::size_t a, std::size_t b) {
  const float* ta = &target[a * ksub];
  const float* tb = &target[b * ksub];
  const float* wa = &weight[a * ksub];
  const float* wb = &weight[b * ksub];
  const std::uint32_t pa = perm[a], pb = perm[b];
  double d = 0;
  for (std::size_t k = 0; k < ksub; ++k) {
    if (k == a || k == b) continue;
    const float ha = float(popcount(pa ^ perm[k])), hb = float(popcount(pb ^ perm[k]));
    d += (hb - ha) * (wa[k] * (ha + hb - 2 * ta[k]) - wb[k] * (ha + hb - 2 * tb[k]));
  }
  return 2.0 * d;
}

/// polysemous_objective_kind::faiss (polysemous.hpp): the published FAISS objective and schedule.
std::vector<std::uint32_t> anneal_faiss(const float* c, std::size_t ksub, std::size_t dsub, unsigned nbits,
                                        const polysemous_options& opt) {
  std::vector<std::uint32_t> perm(ksub);
  std::iota(perm.begin(), perm.end(), 0u);
  const std::vector<float> dist = pair_distances(c, ksub, dsub);
  double sum = 0, sum2 = 0;
  for (float v : dist) sum += double(v) * v, sum2 += double(v) * v * double(v) * v;
  const double n2 = double(ksub * ksub), mu = sum / n2, sigma = std::sqrt(std::max(0.0, sum2 / n2 - mu * mu));
  if (!(sigma > 0)) return perm;  // all centroids equal: any order is as good
  std::vector<float> target(ksub * ksub), weight(ksub * ksub);
  for (std::size_t k = 0; k < ksub * ksub; ++k) {
    const double t = (double(dist[k]) * dist[k] - mu) / sigma * std::sqrt(nbits / 4.0) + nbits / 2.0;
    target[k] = static_cast<float>(t);
    weight[k] = static_cast<float>(std::exp(-std::log(2.0) * t));
  }
  std::mt19937_64 rng(opt.seed);
  std::uniform_int_distribution<std::size_t> pick(0, ksub - 1);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  constexpr double k_init_temperature = 0.7;
  const double decay = std::pow(0.9, 1.0 / 500.0);
  double temp = k_init_temperature;
  for (std::size_t it = 0; it < opt.iterations; ++it) {
    temp *= decay;
    const std::size_t a = pick(rng);
    std::size_t b = pick(rng);
    while (b == a) b = pick(rng);
    const double d = swap_delta(perm, target.data(), weight.data(), ksub, a, b);
    if (d < 0 || unit(rng) < temp) std::swap(perm[a], perm[b]);
  }
  return perm;
}

}  // namespace

std::vector<std::uint32_t> train_polysemous_permutation(const float* centroids, std::size_t ksub, std::size_t dsub,
                                                        unsigned nbits, const polysemous_options& opt) {
  std::vector<std::uint32_t> perm(ksub);
  std::iota(perm.begin(), perm.end(), 0u);
  if (ksub < 3) return perm;
  if (opt.objective == polysemous_objective_kind::faiss) return anneal_faiss(centroids, ksub, dsub, nbits, opt);
  const std::vector<float> dist = pair_distances(centroids, ksub, dsub);
  double mean = 0;
  for (float v : dist) mean += v;
  mean /= double(ksub * (ksub - 1));
  if (!(mean > 0)) return perm;  // all centroids equal: any order is as good
  // target t_ij and weight w_ij (see polysemous.hpp), ksub × ksub
  std::vector<float> target(ksub * ksub), weight(ksub * ksub);
  const double s = (nbits / 2.0) / mean;
  for (std::size_t k = 0; k < ksub * ksub; ++k) {
    target[k] = static_cast<float>(s * dist[k]);
    weight[k] = static_cast<float>(std::exp(-2.0 * dist[k] / mean));
  }
  // Change of L when centroids a and b exchange codes: swap_delta.
  auto delta = [&](std::size_t a, std::size_t b) { return swap_delta(perm, target.data(), weight.data(), ksub, a, b); };
  std::mt19937_64 rng(opt.seed);
  std::uniform_int_distribution<std::size_t> pick(0, ksub - 1);
  auto pick_pair = [&] {
    std::size_t a = pick(rng), b = pick(rng);
    while (b == a) b = pick(rng);
    return std::pair{a, b};
  };
  // Initial temperature: a typical uphill move is accepted with probability ½ at first; the
  // temperature then falls geometrically to 1/1000 of that (the last moves are nearly greedy).
  double uphill = 0;
  std::size_t n_up = 0;
  for (int i = 0; i < 200; ++i) {
    const auto [a, b] = pick_pair();
    const double d = delta(a, b);
    if (d > 0) uphill += d, ++n_up;
  }
  if (n_up == 0 || opt.iterations == 0) return perm;
  const double t0 = uphill / double(n_up) / std::log(2.0);
  const double cooling = std::pow(1e-3, 1.0 / double(opt.iterations));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double temp = t0;
  for (std::size_t it = 0; it < opt.iterations; ++it, temp *= cooling) {
    const auto [a, b] = pick_pair();
    const double d = delta(a, b);
    if (d <= 0 || unit(rng) < std::exp(-d / temp)) std::swap(perm[a], perm[b]);
  }
  return perm;
}

void permute_codebook(float* codebook, std::size_t ksub, std::size_t dsub, const std::vector<std::uint32_t>& perm) {
  std::vector<float> old(codebook, codebook + ksub * dsub);
  for (std::size_t i = 0; i < ksub; ++i) std::copy_n(&old[i * dsub], dsub, codebook + std::size_t{perm[i]} * dsub);
}

double hamming_distance_correlation(const float* codebook, std::size_t ksub, std::size_t dsub) {
  const std::vector<float> dist = pair_distances(codebook, ksub, dsub);
  double sh = 0, sd = 0, shh = 0, sdd = 0, shd = 0, n = 0;
  for (std::size_t i = 0; i < ksub; ++i)
    for (std::size_t j = i + 1; j < ksub; ++j) {
      const double h = popcount(static_cast<std::uint32_t>(i ^ j)), d = dist[i * ksub + j];
      sh += h, sd += d, shh += h * h, sdd += d * d, shd += h * d, n += 1;
    }
  if (n < 2) return 0.0;
  const double cov = shd / n - (sh / n) * (sd / n);
  const double vh = shh / n - (sh / n) * (sh / n), vd = sdd / n - (sd / n) * (sd / n);
  return vh > 0 && vd > 0 ? cov / std::sqrt(vh * vd) : 0.0;
}

void make_polysemous(float* pq_codebooks, std::size_t M, std::size_t ksub, std::size_t dsub, unsigned nbits,
                     const polysemous_options& opt) {
  for (std::size_t m = 0; m < M; ++m) {
    polysemous_options o = opt;
    o.seed = opt.seed + m;
    float* cb = pq_codebooks + m * ksub * dsub;
    permute_codebook(cb, ksub, dsub, train_polysemous_permutation(cb, ksub, dsub, nbits, o));
  }
}

void query_code_from_table(const float* lut, std::size_t M, unsigned nbits, std::uint8_t* code) {
  std::uint16_t stack[64];
  std::vector<std::uint16_t> heap_sub(M > 64 ? M : 0);
  std::uint16_t* sub = M > 64 ? heap_sub.data() : stack;
  kernels::argmin_rows(lut, M, std::size_t{1} << nbits, sub);
  kernels::pack_codes(sub, 1, M, nbits, code);
}

void scan_list_polysemous(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list,
                          const probe_table& pt, const std::uint8_t* query_code, unsigned max_hamming,
                          kernels::topk_heap& heap, scan_counters& counters) {
  IVF_ASSERT(!pt.terms || list.keeps_terms());
  const std::size_t n = list.size(), cs = list.code_size(), M = cb.num_sub_vectors();
  const unsigned nbits = cb.params().num_bits;
  const float* terms = pt.terms ? list.terms() : nullptr;
  const float bias = pt.shared ? 0.0f : pt.bias;  // shared: added by finish_probe_distances, as scan_list does
  std::uint32_t slots[k_block];
  float gathered_terms[k_block];
  float dist[k_block + k_row_group + k_guard_rows];
  std::vector<std::uint8_t> gathered((k_block + k_row_group + k_guard_rows) * cs);
  const bool all_live = list.all_live();
  IVF_ASSERT(list.codes() != nullptr);  // row-major codes (polysemous search is for num_bits > 4)
  for (std::size_t b = 0; b < n; b += k_block) {
    const std::size_t nb = std::min(k_block, n - b);
    const std::size_t hits = kernels::hamming_filter(list.codes() + b * cs, nb, cs, query_code, max_hamming, slots);
    counters.skipped += nb - hits;
    std::size_t r = 0;
    for (std::size_t h = 0; h < hits; ++h) {
      const auto slot = static_cast<std::uint32_t>(b + slots[h]);
      if (!all_live && !list.is_live(slot)) continue;
      list.read_code(slot, &gathered[r * cs]);
      if (terms) gathered_terms[r] = terms[slot];
      slots[r++] = slot;
    }
    if (r == 0) continue;
    counters.scanned += r;
    const std::size_t padded = (r + k_row_group - 1) / k_row_group * k_row_group + k_guard_rows;
    std::memset(&gathered[r * cs], 0, (padded - r) * cs);  // code 0 in every sub-space: valid, ignored
    kt.adc_scan(gathered.data(), padded, M, nbits, pt.lut, bias, dist);
    finish_probe_distances(pt, terms ? gathered_terms : nullptr, r, dist);
    float bound = heap.threshold();
    for (std::size_t i = 0; i < r; ++i) {
      if (dist[i] > bound) continue;
      if (heap.push(dist[i], list.id(slots[i]))) bound = heap.threshold();
    }
  }
}

}  // namespace ivfstream
