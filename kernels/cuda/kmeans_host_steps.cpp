#include "kernels/cuda/kmeans_host_steps.hpp"

#include <cmath>
#include <random>
#include <unordered_set>
#include <vector>

#include "kernels/assert.hpp"

namespace ivfstream::kernels {
namespace {

// A uniform double in [0, 1) from the top 53 bits: identical on every standard library, unlike
// std::uniform_real_distribution, so GPU and CPU runs built with different toolchains agree.
double unit_interval(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

// A uniform integer in [0, bound) (bound ≥ 1), also toolchain-independent.
std::uint64_t below(std::mt19937_64& rng, std::uint64_t bound) {
  return static_cast<std::uint64_t>(unit_interval(rng) * static_cast<double>(bound)) % bound;
}

}  // namespace

std::vector<std::size_t> sample_distinct_rows(std::size_t n, std::size_t k, std::uint64_t seed) {
  IVF_ASSERT(k <= n);
  std::mt19937_64 rng(seed);
  std::unordered_set<std::size_t> taken;
  taken.reserve(k * 2);
  std::vector<std::size_t> rows;
  rows.reserve(k);
  for (std::size_t j = n - k; j < n; ++j) {
    std::size_t t = static_cast<std::size_t>(below(rng, j + 1));
    if (!taken.insert(t).second) {
      t = j;
      taken.insert(t);
    }
    rows.push_back(t);
  }
  return rows;
}

void sample_initial_centroids(const float* x, std::size_t n, std::size_t d, std::size_t M,
                              std::size_t k, std::uint64_t seed, float* out) {
  IVF_ASSERT(M >= 1 && d % M == 0 && k >= 1 && n >= k);
  const std::size_t dsub = d / M;
  for (std::size_t m = 0; m < M; ++m) {
    const std::vector<std::size_t> rows = sample_distinct_rows(n, k, seed + m);
    for (std::size_t c = 0; c < k; ++c) {
      const float* src = x + rows[c] * d + m * dsub;
      float* dst = out + (m * k + c) * dsub;
      for (std::size_t t = 0; t < dsub; ++t) dst[t] = src[t];
    }
  }
}

std::uint64_t repair_seed(std::uint64_t seed, std::size_t iteration, std::size_t m) noexcept {
  // Odd multipliers (golden ratio, and a 64-bit prime) spread consecutive (iteration, m) apart.
  return seed ^ ((iteration + 1) * 0x9E3779B97F4A7C15ULL) ^ ((m + 1) * 0xC2B2AE3D27D4EB4FULL);
}

std::size_t repair_empty_clusters(float* centroids, std::uint32_t* counts, std::size_t k,
                                  std::size_t dsub, std::uint64_t seed) {
  constexpr float k_split_eps = 1.0f / 1024.0f;
  std::mt19937_64 rng(seed);
  std::size_t repaired = 0;
  for (std::size_t ci = 0; ci < k; ++ci) {
    if (counts[ci] != 0) continue;
    std::uint64_t spare = 0;  // points that could move to a new cluster: Σ max(count − 1, 0)
    for (std::size_t j = 0; j < k; ++j) spare += counts[j] > 1 ? counts[j] - 1 : 0;
    if (spare == 0) break;
    std::uint64_t r = below(rng, spare);
    std::size_t cj = 0;
    for (; cj < k; ++cj) {
      const std::uint64_t w = counts[cj] > 1 ? counts[cj] - 1 : 0;
      if (r < w) break;
      r -= w;
    }
    IVF_ASSERT(cj < k);
    float* to = centroids + ci * dsub;
    float* from = centroids + cj * dsub;
    double sq = 0.0;
    for (std::size_t t = 0; t < dsub; ++t) sq += double(from[t]) * from[t];
    // An all-zero centroid still needs distinct copies: fall back to an absolute push.
    const float floor_scale = sq > 0.0 ? static_cast<float>(std::sqrt(sq / double(dsub))) : 1.0f;
    for (std::size_t t = 0; t < dsub; ++t) {
      const float mag = from[t] != 0.0f ? std::fabs(from[t]) : floor_scale;
      const float delta = (t % 2 == 0 ? 1.0f : -1.0f) * k_split_eps * mag;
      const float base = from[t];
      to[t] = base + delta;
      from[t] = base - delta;
    }
    counts[ci] = counts[cj] / 2;
    counts[cj] -= counts[ci];
    ++repaired;
  }
  return repaired;
}

}  // namespace ivfstream::kernels
