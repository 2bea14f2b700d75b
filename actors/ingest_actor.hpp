#pragma once
// ingest_actor: the single writer of a node. Validates and stages upserts/deletes (embedded API and,
// when a source is attached, the Kafka vectors topic), trains the first codebooks once enough
// vectors arrived, encodes batches and routes them to the partition actors, and takes checkpoints.
// It answers a write only once every partition it touched has applied it (then it is searchable).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/checkpoint.hpp"
#include "actors/ingest_state.hpp"
#include "actors/messages.hpp"
#include "actors/partition_actor.hpp"
#include "actors/partition_ownership.hpp"
#include "actors/query_actor.hpp"
#include "actors/swap_protocol.hpp"
#include "actors/vector_feed.hpp"

namespace ivfstream::actors {

/// Produce → searchable latency of the last 1000 Kafka records that carry created_at_us (µs).
struct freshness_summary {
  std::uint64_t samples = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

/// What stats_atom returns.
struct ingest_stats {
  ingest_counters counters;
  bool configured = false;
  std::uint64_t codebook_version = 0;       ///< 0 = not trained
  std::uint64_t train_after = 0;
  std::uint64_t last_checkpoint = 0;        ///< sequence of the newest checkpoint, 0 = none
  offset_map offsets;                       ///< next Kafka offset per topic-partition staged
  std::uint64_t inflight_batches = 0;       ///< batches sent to partitions but not yet applied
  std::uint64_t snapshots_written = 0;      ///< partition snapshots written by checkpoints
  std::uint64_t snapshots_reused = 0;       ///< unchanged partition snapshots referenced again (incremental)
  feed_counters feed;                       ///< Kafka records read / dead-lettered
  std::uint64_t applied_vectors = 0;        ///< vectors acknowledged by the partitions
  std::uint64_t pending_vectors = 0;        ///< Kafka vectors staged but not yet applied (back-pressure)
  std::uint64_t peak_pending_vectors = 0;   ///< largest pending_vectors seen
  std::uint64_t consumer_pauses = 0;        ///< times the vectors consumer was paused for back-pressure
  bool consumer_paused = false;             ///< paused now
  freshness_summary freshness;              ///< produce → searchable (Kafka records)
  std::optional<ivfstream::error> last_error;  ///< last failure of the Kafka path / checkpoints
  retrain_status retrain;                   ///< continuous retraining / hot swap
};

/// Messages the ingest actor understands.
using ingest_actor = caf::typed_actor<
    /// Configures the index; train_after = 0 picks the default.
    caf::replies_to<create_atom, index_params, std::uint64_t>::with<ack_reply>,
    /// Trains now on a training set (n × d floats) and routes what was buffered.
    caf::replies_to<train_atom, std::vector<float>>::with<ack_reply>,
    /// Installs codebooks trained elsewhere (codebooks topic) instead of training, routes what was buffered.
    caf::replies_to<codebooks_atom, std::shared_ptr<const codebook_set>>::with<ack_reply>,
    /// Upserts ids with vectors (n × d); replies once searchable (or buffered before training).
    caf::replies_to<upsert_atom, std::vector<std::uint64_t>, std::vector<float>>::with<ack_reply>,
    /// Deletes ids; replies once applied.
    caf::replies_to<remove_atom, std::vector<std::uint64_t>>::with<ack_reply>,
    /// Writes a checkpoint (partition snapshots + manifest); count = its sequence.
    caf::replies_to<checkpoint_atom>::with<ack_reply>,
    caf::replies_to<stats_atom>::with<ingest_stats>,
    /// Takes over a Kafka feed and starts polling it.
    caf::reacts_to<attach_atom, std::shared_ptr<vector_feed>>,
    /// Self-tick of the Kafka loop (poll, stage, periodic checkpoint).
    caf::reacts_to<poll_atom>,
    /// Retrains now and hot-swaps the new version in (swap_protocol.hpp); count = the new version.
    caf::replies_to<retrain_atom>::with<ack_reply>,
    caf::replies_to<rebalance_atom>::with<ack_reply>,
    /// Who trains from now on (null: this node alone, codebook_set::train); see index/codebook_trainer.hpp.
    caf::replies_to<trainer_atom, std::shared_ptr<const codebook_trainer>>::with<ack_reply>,
    /// This node's training sample (prepared rows, row-major): the retrain reservoir, or before the
    /// first training without one the buffered vectors; empty when it has neither.
    caf::replies_to<sample_atom>::with<training_sample>,
    /// Whether and when this node trains from now on (engine::set_training): train_after and the retrain
    /// policy; trains at once when the new train_after is already reached.
    caf::replies_to<policy_atom, std::uint64_t, retrain_policy>::with<ack_reply>,
    /// Self-tick of the retrain time schedule.
    caf::reacts_to<rtick_atom>>;

/// Construction arguments of an ingest actor.
struct ingest_setup {
  std::shared_ptr<ingest_state> state;          ///< possibly restored
  std::vector<partition_actor> partitions;
  std::vector<query_actor> queries;
  std::string data_dir;                         ///< empty: checkpoints are refused
  std::uint64_t last_checkpoint = 0;            ///< restored sequence
  /// Snapshot file of each partition in the restored checkpoint (absolute paths; empty = none). An
  /// incremental checkpoint references these again for partitions that did not change since.
  std::vector<std::string> snapshot_files;
  std::uint64_t checkpoint_interval_ms = 0;     ///< Kafka loop: checkpoint this often (0 = never by time)
  std::uint64_t checkpoint_interval_records = 0;///< ... or after this many records (0 = never by count)
  std::size_t max_inflight_batches = 64;        ///< Kafka loop: stop polling above this backlog
  retrain_policy retrain;                       ///< continuous retraining (off by default)
  /// Kafka loop back-pressure: pause the vectors consumer (rd_kafka pause) once this many vectors are
  /// staged but not yet applied by the partitions; resume at half of it. A round polls only as many
  /// records as fit under the bound (by the largest record seen), so pending ≤ bound + one record.
  std::uint64_t max_pending_vectors = 500000;
  /// Restored checkpoint of a consumer-group node (checkpoint_manifest::owned_ids): which ids came from
  /// which topic-partition. Empty otherwise.
  std::map<topic_partition_key, std::vector<std::uint64_t>> restored_owned_ids;
};

struct ingest_actor_state {
  ingest_setup setup;
  std::shared_ptr<retrain_driver> retrain = std::make_shared<retrain_driver>();  ///< swap_protocol.hpp
  bool checkpoint_running = false;
  /// Per partition: changed since its newest snapshot (an update or codebooks were sent to it).
  std::vector<bool> dirty;
  std::uint64_t snapshot_codebook_version = 0;  ///< codebook version of the newest snapshots
  std::uint64_t snapshots_written = 0;          ///< partition snapshots written by checkpoints
  std::uint64_t snapshots_reused = 0;           ///< unchanged partitions referenced from an older checkpoint
  std::uint64_t inflight = 0;
  std::shared_ptr<vector_feed> feed;
  std::uint64_t applied_vectors = 0;
  std::uint64_t pending_vectors = 0;            ///< Kafka vectors dispatched, not yet acknowledged
  std::uint64_t peak_pending_vectors = 0;
  std::uint64_t largest_record_vectors = 0;     ///< ids in the largest upsert record seen (poll sizing)
  bool consumer_paused = false;
  std::uint64_t consumer_pauses = 0;
  std::vector<float> freshness_us;              ///< recent samples (bounded)
  std::size_t freshness_next = 0;
  std::uint64_t freshness_count = 0;
  std::chrono::steady_clock::time_point last_checkpoint_time = std::chrono::steady_clock::now();
  std::uint64_t records_since_checkpoint = 0;
  std::optional<ivfstream::error> last_error;
  partition_ownership ownership;                ///< group mode: which partition each id came from
  static inline const char* name = "ivfstream.ingest";
};

/// Spawnable behaviour.
ingest_actor::behavior_type ingest_behavior(ingest_actor::stateful_pointer<ingest_actor_state> self,
                                            ingest_setup setup);

/// Sends a routed batch to the partitions (codebooks first when it trained them) and calls `done`
/// once all applied (failure = the first partition error). Used by the ingest actor and the Kafka
/// ingest path. Must run inside `self`'s handler.
template <class Self>
void dispatch_batch(Self* self, const std::vector<partition_actor>& partitions, const std::vector<query_actor>& queries,
                    routed_batch batch, std::function<void(ack_reply)> done);

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::ingest_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::retrain_policy)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const ivfstream::codebook_trainer>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<ivfstream::actors::vector_feed>)

#include "actors/internal/dispatch_batch.hpp"
