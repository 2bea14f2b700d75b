#pragma once
// Who trains a codebook version from a node's sample. A single node trains on its own rows
// (codebook_set::train, the default wherever no trainer is given); a node of a cluster may train on
// every node's sample instead (actors/cluster_trainer.hpp: distributed k-means statistics).
// The engine calls it where it would call codebook_set::train: the first training (on the buffered
// vectors) and retrains with refresh_centroids (on the reservoir sample); and train_with_centroids
// where it would call codebook_set::train_with_centroids: retrains that keep the coarse centroids.
// Always off the query path.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream {

class codebook_trainer {
public:
  virtual ~codebook_trainer() = default;
  /// Codebooks of `version` for `p` from n rows x (n × p.dimension, as codebook_set::train takes them)
  /// that stand for `population` vectors of this node's data (n when they are all of it; a retrain
  /// reservoir's: every insert it was drawn from): a cluster trainer weighs the nodes by it.
  /// Called from one thread at a time (the engine trains one version at a time); may block for as
  /// long as the training takes. Errors: those of the training.
  virtual result<std::shared_ptr<const codebook_set>> train(const index_params& p, const float* x, std::size_t n,
                                                            std::uint64_t population, std::uint64_t version) const = 0;
  /// As train(), keeping `centroids` (num_partitions × d, prepared space) as the coarse quantizer. The
  /// default trains on this node's rows alone (codebook_set::train_with_centroids). Same threading.
  virtual result<std::shared_ptr<const codebook_set>> train_with_centroids(const index_params& p, const float* x,
                                                                           std::size_t n, std::uint64_t population,
                                                                           std::vector<float> centroids,
                                                                           std::uint64_t version) const {
    (void)population;
    return codebook_set::train_with_centroids(p, x, n, std::move(centroids), version);
  }
};

}  // namespace ivfstream
