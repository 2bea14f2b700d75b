#pragma once
// Host-side steps of Lloyd k-means that the GPU trainer (gpu_kmeans.cu) and any CPU reference share, so
// that both start from the same centroids and repair empty clusters the same way: initial centroids
// sampled from the training set, and the split of a large cluster into an empty one.
// Plain C++17, standard library only (compiled by g++ in the CMake build and by nvcc in tests/gpu/).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream::kernels {

/// `count` distinct indices of [0, n), drawn with `seed` (Floyd's sampling), in draw order.
/// @pre count ≤ n. Pure function; thread-safe.
std::vector<std::size_t> sample_distinct_rows(std::size_t n, std::size_t count, std::uint64_t seed);

/// Fills `out` (M × k × dsub floats, row-major; dsub = d / M) with k distinct training rows per sub-space:
/// sub-space m takes the m-th dsub-slice of k rows drawn without replacement with seed `seed + m`.
/// x: n × d floats, row-major. @pre n ≥ k ≥ 1, M ≥ 1, d % M == 0. Pure function; thread-safe.
void sample_initial_centroids(const float* x, std::size_t n, std::size_t d, std::size_t M,
                              std::size_t k, std::uint64_t seed, float* out);

/// The seed that iteration `iteration` uses to repair sub-space `m` (same on GPU and CPU).
std::uint64_t repair_seed(std::uint64_t seed, std::size_t iteration, std::size_t m) noexcept;

/// Gives every empty cluster of one sub-space a centroid: a cluster j is drawn with probability
/// proportional to counts[j] − 1, its centroid is copied into the empty one, and the two are pushed
/// apart by ±1/1024 of each coordinate's magnitude (alternating sign per dimension), so the next
/// assignment splits j's points between them; counts[j] is shared between the two.
/// centroids: k × dsub floats, row-major; counts: k cluster sizes (updated). Returns the number of
/// clusters repaired (less than the number of empty ones only when fewer than k points are distinct
/// enough to split, i.e. Σ max(counts − 1, 0) reaches 0). Pure function of its arguments; thread-safe.
std::size_t repair_empty_clusters(float* centroids, std::uint32_t* counts, std::size_t k,
                                  std::size_t dsub, std::uint64_t seed);

}  // namespace ivfstream::kernels
