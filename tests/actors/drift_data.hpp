#pragma once
// A drifting stream for the retraining suites: the first half comes from one set of Gaussian
// clusters, the second half from new clusters shifted away from the first (the distribution moves).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/index/synthetic_data.hpp"

namespace ivfstream::test {

/// n × d floats: rows [0, n/2) from `clusters` blobs (seed), rows [n/2, n) from as many new blobs
/// (seed + 1) whose every coordinate is shifted by `shift`.
inline std::vector<float> drifting_stream(std::size_t n, std::size_t d, std::size_t clusters, std::uint64_t seed,
                                          float shift = 2.5f) {
  const std::size_t half = n / 2;
  auto first = clustered_data(half, d, clusters, seed);
  auto second = clustered_data(n - half, d, clusters, seed + 1);
  for (auto& v : second) v += shift;
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

}  // namespace ivfstream::test
