#pragma once
// Codebook training over data spread across nodes (issue 6): every node computes sufficient statistics
// (kernels/kmeans_stats.hpp) on its local, prepared training rows; a leader reduces them each iteration
// and publishes the new centroids. Two phases, each `params.max_iterations` Lloyd steps:
//   1. coarse:  stats of the rows against the current coarse centroids (nlist × d);
//   2. PQ:      per sub-space m, stats of the residuals x − c(x) (c = final coarse centroids) against
//               the current sub-codebook (ksub × dsub).
// The init (k-means++ on a sample the leader holds, seeded by params.seed) is the only place a single
// node's data matters; everything after it is exact sums, so N nodes reproduce one node holding the
// union (same init, same iterations) up to float summation order.
// This file holds the per-node and per-leader steps as pure functions, plus an in-process driver that
// runs them over shards in memory (tests, and the reference for an actor-level protocol).
// Not supported: OPQ (params.opq) — its rotation needs the residual sample in one place.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"
#include "kernels/kmeans_stats.hpp"

namespace ivfstream {

/// Why `p` cannot be trained from per-node statistics (opq, imi, lopq, rq/lsq), or "" when it can.
std::string distributed_training_unsupported(const index_params& p);

/// Leader: initial coarse centroids (num_partitions × d) by seeded k-means++ on the prepared sample
/// (n × d). Errors: invalid params, n < num_partitions, params.opq, imi, lopq, quantizer rq/lsq.
result<std::vector<float>> initial_coarse_centroids(const index_params& p, const float* prepared_sample,
                                                    std::size_t n);
/// Leader: initial PQ codebooks (M × ksub × dsub) by seeded k-means++ per sub-space on the residuals
/// of the prepared sample against `coarse`. Errors: n < ksub.
result<std::vector<float>> initial_pq_codebooks(const index_params& p, const float* prepared_sample,
                                                std::size_t n, const std::vector<float>& coarse);

/// Node: coarse statistics of its n prepared rows (n × d) against coarse (num_partitions × d).
kernels::kmeans_stats coarse_stats(const index_params& p, const float* prepared, std::size_t n,
                                   const std::vector<float>& coarse);
/// Node: PQ statistics, one per sub-space (M entries, each ksub × dsub), of the residuals of its n
/// prepared rows against their nearest coarse centroid, for the codebooks pq (M × ksub × dsub).
std::vector<kernels::kmeans_stats> pq_stats(const index_params& p, const float* prepared, std::size_t n,
                                            const std::vector<float>& coarse, const std::vector<float>& pq);
/// Leader: one update of all M sub-codebooks from the merged per-sub-space statistics.
std::vector<float> pq_update(const index_params& p, const std::vector<kernels::kmeans_stats>& merged,
                             const std::vector<float>& pq);

/// Where the leader's statistics come from each iteration: its own rows and, in a running cluster,
/// every peer's (actors/cluster_trainer.hpp). Each call returns the merged statistics of every shard
/// that takes part, in a fixed shard order; a failure aborts the training.
class training_shards {
public:
  virtual ~training_shards() = default;
  /// Merged coarse statistics (num_partitions × d) against `coarse`.
  virtual result<kernels::kmeans_stats> coarse(const index_params& p, const std::vector<float>& coarse) = 0;
  /// Merged PQ statistics, one per sub-space (M entries), for the codebooks `pq` (M × ksub × dsub).
  virtual result<std::vector<kernels::kmeans_stats>> pq(const index_params& p, const std::vector<float>& coarse,
                                                        const std::vector<float>& pq) = 0;
};

/// The driver: leader init on init_sample (prepared rows), then params.max_iterations Lloyd steps per
/// phase with the statistics `shards` returns; with params.polysemous the leader then permutes the
/// merged PQ codebooks (index/polysemous.hpp) as codebook_set::train does. Errors: those of the init
/// functions, of `shards`, and of codebook_set::from_parts.
result<std::shared_ptr<const codebook_set>> train_distributed(const index_params& p, training_shards& shards,
                                                              const float* init_sample, std::size_t init_n,
                                                              std::uint64_t version = 1);

/// A retrain that keeps the coarse quantizer (retrain.refresh_centroids = false, as
/// codebook_set::train_with_centroids on one node): `centroids` (num_partitions × d, prepared space)
/// stay, and only the PQ phase above runs, its statistics from `shards`. Errors: those of
/// train_distributed, parameters distributed_training_unsupported names, centroids of the wrong size
/// or not finite.
result<std::shared_ptr<const codebook_set>> train_distributed_with_centroids(const index_params& p,
                                                                             training_shards& shards,
                                                                             const float* init_sample,
                                                                             std::size_t init_n,
                                                                             std::vector<float> centroids,
                                                                             std::uint64_t version);

/// In-process form: the nodes' shards (prepared rows) held in memory, the leader's init sample (prepared), and the
/// steps above for params.max_iterations per phase; with params.polysemous the leader then permutes the
/// merged PQ codebooks (index/polysemous.hpp) as codebook_set::train does. Returns codebooks built with from_parts.
/// Errors: those of the init functions and of codebook_set::from_parts.
result<std::shared_ptr<const codebook_set>> train_distributed(const index_params& p,
                                                              const std::vector<kernels::shard_view>& shards,
                                                              const float* init_sample, std::size_t init_n,
                                                              std::uint64_t version = 1);

/// In-process form of train_distributed_with_centroids (shards and init sample as above).
result<std::shared_ptr<const codebook_set>> train_distributed_with_centroids(
    const index_params& p, const std::vector<kernels::shard_view>& shards, const float* init_sample,
    std::size_t init_n, std::vector<float> centroids, std::uint64_t version = 1);

}  // namespace ivfstream
