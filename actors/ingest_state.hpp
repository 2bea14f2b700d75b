#pragma once
// The logic of the ingest actor, free of CAF: validates upserts/deletes, buffers vectors until the
// index is trained (then trains once), encodes batches with the codebook_set and routes each entry
// to the partition owning its list (list l → partition l % P). Keeps a global id → partition map so an
// upsert that moves an id to a list of another partition also removes it from the old one.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/messages.hpp"
#include "index/codebook_set.hpp"
#include "index/codebook_trainer.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream::actors {

/// Result of staging one batch: what each partition must apply, in this order.
struct routed_batch {
  /// Set when this batch triggered training: install on every partition before `updates`.
  std::shared_ptr<const codebook_set> new_codebooks;
  /// One entry per partition (index = partition); empty updates need not be sent.
  std::vector<partition_update> updates;
  /// Vectors that became searchable with this batch (routed now, including a trained buffer).
  std::size_t routed_vectors = 0;
  /// During a hot swap: the same batch encoded under the shadow version (index = partition owning the
  /// new list); each also removes the batch's ids from every other partition's shadow. Else empty.
  std::vector<partition_update> shadow_updates;
};

/// Counters of the ingest path.
struct ingest_counters {
  std::uint64_t upserts = 0;         ///< ids accepted for upsert
  std::uint64_t deletes = 0;         ///< ids accepted for delete
  std::uint64_t routed = 0;          ///< vectors encoded and sent to partitions
  std::uint64_t buffered = 0;        ///< vectors waiting for training now
  std::uint64_t rejected = 0;        ///< batches rejected (bad dimension, NaN/Inf, …)
};

/// Not thread-safe: owned by the ingest actor (or a test).
class ingest_state {
public:
  /// @pre num_partitions ≥ 1.
  explicit ingest_state(std::uint32_t num_partitions);

  /// Configures the index. Training happens automatically once `train_after` distinct vectors are
  /// buffered (0 = default: max(40 × num_partitions, 2^num_bits, 1000)). Errors: invalid params; an
  /// index already configured with other params.
  status create_index(const index_params& params, std::size_t train_after = 0);
  /// Trains now on x (n × d) and returns the batch that routes everything buffered so far.
  /// @pre create_index() was called. Errors: those of codebook_set::train; already trained.
  result<routed_batch> train(const float* x, std::size_t n);
  /// Installs codebooks trained elsewhere (the codebooks topic, actors/codebook_topic.hpp) instead of
  /// training here, and returns the batch that routes everything buffered so far (as train() does).
  /// @pre create_index() was called. Errors: already trained; codebooks of another code layout
  /// (check_codebook_layout, index/index_params.hpp: quantizer, coarse quantizer, opq, lopq, polysemous,
  /// num_bits, …; the message names both values). A refusal changes nothing: the buffer stays.
  result<routed_batch> install(std::shared_ptr<const codebook_set> codebooks);
  /// Adopts restored codebooks (checkpoint) and rebuilds the routing map from partition contents.
  void adopt(std::shared_ptr<const codebook_set> codebooks);
  /// What train_after = 0 means: max(40 × num_partitions, 2^num_bits, 1000).
  static std::size_t default_train_after(const index_params& p);
  /// Trains the first version once this many distinct vectors are buffered (a node that starts or stops
  /// training for a cluster). @pre configured(), n ≥ 1.
  void set_train_after(std::size_t n) { train_after_ = n; }
  /// The first training, when enough vectors are buffered already (after set_train_after lowered the
  /// bound); nullopt when not due. Errors: those of the training.
  result<std::optional<routed_batch>> train_if_due();
  /// Where later trainings run (index_params::accelerator, runtime only: restored codebooks say cpu).
  /// @pre configured().
  void set_accelerator(kernels::accelerator a) { params_->accelerator = a; }
  /// Who trains the first version (and, through the retrain driver, later ones); null = this node alone
  /// (codebook_set::train). A cluster sets actors/cluster_trainer.hpp.
  void set_trainer(std::shared_ptr<const codebook_trainer> t) { trainer_ = std::move(t); }
  const std::shared_ptr<const codebook_trainer>& trainer() const noexcept { return trainer_; }
  /// Records that partition p holds id (restore).
  void note_route(std::uint64_t id, std::uint32_t partition) { route_[id] = partition; }

  /// Upserts n vectors (x: n × d): the last occurrence of a repeated id wins. Errors (nothing
  /// staged): not configured, dimension/NaN/Inf.
  result<routed_batch> upsert(const std::uint64_t* ids, const float* x, std::size_t n, std::size_t d);
  /// The checks upsert() runs, without staging or counting anything (Kafka path: one record at a time).
  status check_upsert(const std::uint64_t* ids, const float* x, std::size_t n, std::size_t d) const;
  /// Deletes n ids (unknown ids are ignored).
  result<routed_batch> remove(const std::uint64_t* ids, std::size_t n);

  bool configured() const noexcept { return params_.has_value(); }
  bool trained() const noexcept { return codebooks_ != nullptr; }
  const std::optional<index_params>& params() const noexcept { return params_; }
  const std::shared_ptr<const codebook_set>& codebooks() const noexcept { return codebooks_; }
  std::uint32_t num_partitions() const noexcept { return num_partitions_; }
  std::size_t train_after() const noexcept { return train_after_; }
  /// The vectors buffered for the first training, prepared (index/codebook_set.hpp prepare_vectors), in
  /// id order (buffered × d); empty once trained.
  std::vector<float> buffered_sample() const;
  /// Ids currently held (routed + buffered).
  std::size_t size() const noexcept { return route_.size() + pending_.size(); }
  const ingest_counters& counters() const noexcept { return counters_; }

  /// Next Kafka offset of every topic-partition whose records were staged (for checkpoints).
  const std::map<std::pair<std::string, std::int32_t>, std::int64_t>& offsets() const noexcept { return offsets_; }
  /// Records that the record at `offset` of (topic, partition) was staged (or rejected).
  void note_offset(const std::string& topic, std::int32_t partition, std::int64_t offset);
  /// Restores offsets from a checkpoint.
  void set_offsets(std::map<std::pair<std::string, std::int32_t>, std::int64_t> offsets) {
    offsets_ = std::move(offsets);
  }

  // ---- Hot swap (ingest_swap.cpp): while a shadow version exists every batch is routed under both.

  /// Starts dual routing under `next` (a version newer than the live one: live + 1 after a local retrain,
  /// possibly more from the codebooks topic). Fails when not trained, not newer, or a shadow exists.
  status begin_shadow(std::shared_ptr<const codebook_set> next);
  /// Records that the shadow of `partition` holds `ids` (a partition's begin_shadow answer: kept ids,
  /// or emigrants sent to it), unless a batch routed them directly since the shadow began.
  void note_shadow_members(std::uint32_t partition, const std::vector<std::uint64_t>& ids);
  /// Switches codebooks and routes to the shadow (every partition holds it complete). The replaced
  /// routes are kept for take_retired_routes() (freeing ~10^5 map nodes is milliseconds of work).
  status commit_shadow();
  /// The routes the last commit_shadow replaced (empty afterwards), for the caller to free where it
  /// does not hold up anything (the ingest actor frees them on a thread of their own).
  std::unordered_map<std::uint64_t, std::uint32_t> take_retired_routes() noexcept {
    auto r = std::move(retired_route_);
    retired_route_.clear();
    return r;
  }
  /// Drops the shadow (abandoned swap).
  void abort_shadow();
  /// The shadow codebooks, null when no swap runs.
  const std::shared_ptr<const codebook_set>& shadow() const noexcept { return shadow_; }

private:
  routed_batch empty_batch() const;
  void route_shadow(const std::uint64_t* ids, const float* prepared, std::size_t n, routed_batch& out);
  result<routed_batch> train_on_buffer(const float* extra, std::size_t n_extra);
  status route(const std::uint64_t* ids, const float* x, std::size_t n, routed_batch& out);

  std::uint32_t num_partitions_;
  std::optional<index_params> params_;
  std::size_t train_after_ = 0;
  std::shared_ptr<const codebook_set> codebooks_;
  std::shared_ptr<const codebook_trainer> trainer_;                 // null: codebook_set::train
  std::unordered_map<std::uint64_t, std::uint32_t> route_;          // routed id → partition
  std::unordered_map<std::uint64_t, std::vector<float>> pending_;   // before training: id → raw vector
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> offsets_;
  ingest_counters counters_;
  std::shared_ptr<const codebook_set> shadow_;                     // hot swap: next version, or null
  std::unordered_map<std::uint64_t, std::uint32_t> shadow_route_;   // id → partition under shadow_
  std::unordered_set<std::uint64_t> shadow_touched_;               // ids routed directly under shadow_
  std::unordered_map<std::uint64_t, std::uint32_t> retired_route_;  // route_ before the last commit
};

}  // namespace ivfstream::actors
