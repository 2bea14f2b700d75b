#pragma once
// Distributed Lloyd k-means through sufficient statistics (issue 6, "distributed training").
//
// Each node holds a shard of the training data. Per iteration:
//   worker:  s_i = kmeans_local_stats(shard_i, current centroids)       (one pass over the shard)
//   leader:  S   = s_0 ⊕ s_1 ⊕ … ⊕ s_{N−1}  (merge_kmeans_stats, in shard order)
//            c'  = kmeans_update(S, c)                                  (new centroids, published)
// Because a Lloyd update only needs, per centroid, the sum and the count of the points assigned to it
// (plus, for the empty-cluster repair, each cluster's farthest point), the result of N shards equals
// the result of one node holding the concatenation of the shards, up to float summation order
// (sums are kept in double, so the difference is far below float resolution in practice).
//
// PQ codebooks are M independent k-means problems over the dsub-column sub-spaces of the residuals:
// subspace_local_stats computes the statistics of sub-space m of n rows of width d directly (no copy).
//
// Deterministic ties: within a shard the farthest point of a cluster is the first row of largest
// distance; across shards merge keeps the earlier shard on equal distance, so ties resolve as they
// would on the concatenation. Pure functions, no shared state: reentrant.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream::kernels {

/// Sufficient statistics of one Lloyd assignment pass over some rows.
/// Layout: sums k × d doubles (row-major, Σ of the rows assigned to each centroid); counts k;
/// far_dist k floats (squared distance of each cluster's farthest assigned row, −1 when none);
/// far_row k × d floats (that row); objective = Σ squared distance of every row to its centroid.
struct kmeans_stats {
  std::size_t k = 0;
  std::size_t d = 0;
  std::vector<double> sums;
  std::vector<std::uint64_t> counts;
  std::vector<float> far_dist;
  std::vector<float> far_row;
  double objective = 0;

  /// Empty statistics (identity of merge) for k centroids of dimension d.
  static kmeans_stats zero(std::size_t k, std::size_t d);
  /// Rows these statistics cover.
  std::uint64_t rows() const noexcept;
};

/// Assigns each of the n rows of x (n × d, row-major) to its nearest of the k centroids (k × d, squared
/// L2, ties to the lower index, kernels::assign_nearest) and returns the statistics. n may be 0.
/// @pre k >= 1, d >= 1.
kmeans_stats kmeans_local_stats(const float* x, std::size_t n, std::size_t d, const float* centroids,
                                std::size_t k);

/// Statistics of sub-space m of a PQ problem: rows are x_i[m·dsub … (m+1)·dsub) of the n rows of x
/// (n × d, row-major), centroids are ksub × dsub. The returned stats have d = dsub.
/// @pre (m + 1) · dsub <= d, ksub >= 1.
kmeans_stats subspace_local_stats(const float* x, std::size_t n, std::size_t d, std::size_t m, std::size_t dsub,
                                  const float* centroids, std::size_t ksub);

/// into ⊕= from. `into` covers earlier rows than `from` (shard order) for the tie rule.
/// @pre same k and d.
void merge_kmeans_stats(kmeans_stats& into, const kmeans_stats& from);

/// Leader step: the new centroids (k × d) from the merged statistics and the previous centroids
/// (k × d). A cluster that got rows moves to their mean; an empty cluster takes the farthest row of the
/// largest cluster that has not yet donated one this step (and has ≥ 2 rows); if none is left it keeps
/// its previous position. spherical renormalises each row to unit length.
std::vector<float> kmeans_update(const kmeans_stats& total, const float* previous, bool spherical = false);

/// Reference driver (one process, shards in memory): `iterations` Lloyd steps from `init` (k × d)
/// over the shards, each shard given as (pointer, rows). This is exactly what the nodes and the leader
/// compute together; with a single shard it is single-node training with the same init.
struct shard_view {
  const float* x = nullptr;
  std::size_t n = 0;
};
struct distributed_kmeans_result {
  std::vector<float> centroids;  ///< k × d
  double objective = 0;          ///< of the last assignment pass (before the last update)
};
distributed_kmeans_result distributed_kmeans(const std::vector<shard_view>& shards, std::size_t d,
                                             const std::vector<float>& init, std::size_t k,
                                             std::size_t iterations, bool spherical = false);

}  // namespace ivfstream::kernels
