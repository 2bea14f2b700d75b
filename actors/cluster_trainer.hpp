#pragma once
// cluster_trainer: trains a codebook version on the samples of every node of a cluster (issue 6,
// "distributed training"), as the codebook_trainer of the node that trains (the leader,
// actors/leadership.hpp). index/distributed_training.hpp is the algorithm; this is
// its wiring into running nodes:
//   - the leader seeds the centroids (k-means++) on its own sample, then for each Lloyd iteration
//     sends the current centroids to every connected peer (TrainStatsRequest over the peer link,
//     actors/train_codec.hpp), computes its own statistics meanwhile, and reduces them in a fixed
//     order (itself, then the peers in peers.nodes order): coarse centroids first, then the PQ
//     sub-codebooks of the residuals;
//   - a peer answers from its training sample (the retrain reservoir, or before the first training the
//     vectors it buffered), frozen for the whole training (the request's round), on a thread of its own
//     (actors/shard_training.cpp).
// The result is published on the codebooks topic and swapped in by every node as before
// (actors/codebook_topic.hpp). With the same samples it equals index-level train_distributed over
// their union (tests/actors/cluster_training_test.cpp).
//
// Retrains that keep the coarse centroids (retrain.refresh_centroids = false) run only the PQ phase,
// the same way (train_with_centroids).
//
// Falls back to this node's sample alone (codebook_set::train or train_with_centroids), and says why in report(), when: the
// parameters cannot be trained from statistics (distributed_training_unsupported: opq, imi, lopq,
// rq/lsq), or no peer is connected. A peer that fails or misses peer_timeout in some iteration is
// left out of the rest of that training (named in report()); the training goes on with the others,
// which is still Lloyd's algorithm over the samples that remain.
//
// Weighting: each training opens with a census (every peer says how many sample rows it has and how many
// vectors of its data they stand for); each node then contributes rows in proportion to its data, at
// most max_rows_per_node, strided over its sample (weighted_rows below). So the union is a sample of
// all the nodes' data at one rate, as one node holding it all would draw; without the census a node
// with a tenth of the data but a full reservoir would weigh as much as the others. The default
// max_rows_per_node is what codebook_set::train would sample on one node (sample_rate ×
// max(num_partitions, 2^num_bits)); the training node seeds k-means on up to that many of its own rows.
// Thread-safety: train() runs on one thread at a time (the engine trains one version at a time);
// report() may be called from any thread.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/cluster_search.hpp"
#include "index/codebook_trainer.hpp"

namespace ivfstream::actors {

struct distributed_training_options {
  std::chrono::milliseconds peer_timeout{120000};  ///< one iteration's statistics from one peer
  std::uint32_t max_rows_per_node = 0;             ///< 0 = sample_rate × max(num_partitions, 2^num_bits)
};

/// What the trainings through one cluster_trainer did.
struct distributed_training_report {
  std::uint64_t trainings = 0;             ///< trainings run
  std::uint64_t distributed = 0;           ///< of which used at least one peer's statistics to the end
  std::uint32_t last_nodes = 0;            ///< nodes whose samples the last training used to its end (itself included)
  std::uint64_t last_rows = 0;             ///< rows of all those nodes in its last iteration
  std::vector<std::string> last_left_out;  ///< peers left out of the last training, "host:port: reason"
  std::string last_local_reason;           ///< why the last training used this node alone, "" if it did not
  bool last_kept_centroids = false;        ///< the last training kept the coarse centroids (PQ phase only)
  double last_ms = 0;                      ///< its duration
};

/// What one node offers a training: rows of its sample standing for `population` vectors of its data
/// (a population below rows counts as rows).
struct node_offer {
  std::uint64_t rows = 0;
  std::uint64_t population = 0;
};

/// How many rows of each node a training reads, so that every node is sampled at one rate: node i
/// offers A_i = min(rows_i, max_rows); with rate = min_i A_i / P_i, it reads max(1, round(rate × P_i))
/// rows, at most A_i (0 for a node with no rows). Equal populations (or samples that hold all the
/// data) read every offered row; a node holding a tenth of the data reads a tenth of the rows.
std::vector<std::uint64_t> weighted_rows(const std::vector<node_offer>& offers, std::uint64_t max_rows);

class cluster_trainer final : public codebook_trainer {
public:
  /// `coordinator` names the peers connected now (links_atom); `sys` runs the blocking requests.
  cluster_trainer(caf::actor_system& sys, cluster_search_actor coordinator, distributed_training_options options);
  result<std::shared_ptr<const codebook_set>> train(const index_params& p, const float* x, std::size_t n,
                                                    std::uint64_t population, std::uint64_t version) const override;
  /// Only the PQ phase, under the kept centroids (train_distributed_with_centroids), same fallbacks.
  result<std::shared_ptr<const codebook_set>> train_with_centroids(const index_params& p, const float* x,
                                                                   std::size_t n, std::uint64_t population,
                                                                   std::vector<float> centroids,
                                                                   std::uint64_t version) const override;
  distributed_training_report report() const;

private:
  // keep: the coarse centroids to keep, or null to train them too.
  result<std::shared_ptr<const codebook_set>> run(const index_params& p, const float* x, std::size_t n,
                                                  std::uint64_t population, std::vector<float>* keep,
                                                  std::uint64_t version) const;

  caf::actor_system* sys_;
  cluster_search_actor coordinator_;
  distributed_training_options options_;
  mutable std::mutex mutex_;
  mutable distributed_training_report report_;
};

}  // namespace ivfstream::actors
