#pragma once
// Test data for the index suites: clustered Gaussian vectors with a fixed seed, and brute-force
// ground truth in LanceDB semantics. Header-only, shared by the suites of tests/index/.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "index/metric.hpp"

namespace ivfstream::test {

/// n × d floats, row-major: `clusters` Gaussian blobs (centres ~ N(0, 1), spread `sigma`), seeded.
inline std::vector<float> clustered_data(std::size_t n, std::size_t d, std::size_t clusters, std::uint64_t seed,
                                         float sigma = 0.35f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centres(clusters * d);
  for (float& c : centres) c = g(rng);
  std::uniform_int_distribution<std::size_t> pick(0, clusters - 1);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = pick(rng);
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = centres[c * d + j] + sigma * g(rng);
  }
  return x;
}

/// Exact distance in LanceDB semantics (cosine normalises both sides).
inline float exact_distance(metric m, const float* q, const float* x, std::size_t d) {
  double dot = 0, qq = 0, xx = 0, l2 = 0;
  for (std::size_t j = 0; j < d; ++j) {
    dot += double(q[j]) * x[j];
    qq += double(q[j]) * q[j];
    xx += double(x[j]) * x[j];
    l2 += (double(q[j]) - x[j]) * (double(q[j]) - x[j]);
  }
  switch (m) {
    case metric::l2: return float(l2);
    case metric::cosine: return float(1.0 - dot / std::sqrt(qq * xx));
    case metric::dot: return float(1.0 - dot);
  }
  return 0;
}

/// Ids (= row numbers) of the k nearest rows of x (n × d) to q, nearest first.
inline std::vector<std::uint64_t> brute_force(metric m, const float* q, const float* x, std::size_t n, std::size_t d,
                                              std::size_t k) {
  std::vector<std::pair<float, std::uint64_t>> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = {exact_distance(m, q, x + i * d, d), i};
  k = std::min(k, n);
  std::partial_sort(all.begin(), all.begin() + k, all.end());
  std::vector<std::uint64_t> ids(k);
  for (std::size_t i = 0; i < k; ++i) ids[i] = all[i].second;
  return ids;
}

/// |found ∩ truth| / |truth|.
inline double recall(const std::vector<std::uint64_t>& found, const std::vector<std::uint64_t>& truth) {
  const std::set<std::uint64_t> t(truth.begin(), truth.end());
  std::size_t hit = 0;
  for (auto id : found) hit += t.count(id);
  return truth.empty() ? 1.0 : double(hit) / double(truth.size());
}

/// 0, 1, …, n − 1.
inline std::vector<std::uint64_t> iota_ids(std::size_t n, std::uint64_t first = 0) {
  std::vector<std::uint64_t> ids(n);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

}  // namespace ivfstream::test
