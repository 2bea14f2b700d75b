#pragma once
// ivfstream::engine — the embedded API. Owns a CAF actor system with the partition, query and ingest
// actors; usable with no Kafka at all. LanceDB-like:
//
//   auto eng = ivfstream::engine::open({});                 // result<std::unique_ptr<engine>>
//   (*eng)->create_index(params);                            // trains after train_after vectors
//   (*eng)->upsert(ids, x, n);                               // searchable when it returns
//   auto hits = (*eng)->search(q).nprobes(10).limit(10).refine_factor(2).to_list();
//
// Thread-safety: every member may be called from any number of threads at once (each call is a
// message to the actors); destroy the engine only when no call is running.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "actors/peer_tls.hpp"
#include "actors/query_admission.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"
#include "index/search_hit.hpp"
#include "actors/trainer_state.hpp"

namespace caf {
class actor_system;
}

namespace ivfstream {

struct service_config;
class codebook_set;

/// How an engine is laid out.
struct engine_options {
  std::uint32_t partition_actors = 4;     ///< actors sharing the inverted lists (list l → l % P), ≥ 1
  std::uint32_t query_actors = 2;         ///< actors planning/merging queries, ≥ 1
  std::uint32_t scheduler_threads = 0;    ///< CAF worker threads; 0 = hardware concurrency
  std::string data_dir;                   ///< checkpoints; empty = none (nothing survives a restart)
  std::chrono::milliseconds query_deadline{1000};  ///< default deadline of a search
  std::uint64_t train_after = 0;          ///< train after this many vectors; 0 = default (ingest_state)
  search_params default_search;           ///< what search() starts from (within caps)
  /// What a search may ask for, and how many may run at once ([caps]); a search over a cap fails
  /// with resource_exhausted before anything is allocated for it.
  actors::query_caps caps;
  std::uint64_t checkpoint_interval_ms = 5000;        ///< Kafka ingest: checkpoint this often (0 = never by time)
  std::uint64_t checkpoint_interval_records = 100000; ///< ... or after this many records (0 = never by count)
  std::uint64_t max_pending_vectors = 500000;         ///< Kafka ingest: pause the consumer above this backlog

  actors::retrain_policy retrain;                     ///< continuous retraining + hot swap (off by default)
  /// Load CAF's middleman (caf::io) so that a peer_service can publish this node and reach its peers
  /// (scale-out, actors/peer_service.hpp). Off: no network thread, nothing listens.
  bool network = false;
  /// Mutual TLS on those peer links (actors/peer_tls.hpp); needs network = true. Off: plain TCP.
  actors::peer_tls_options peer_tls;

  /// The engine part of a service configuration ([engine], [search]).
  static engine_options from(const service_config& cfg);
  /// Checks the values (message names the field and the allowed range).
  status validate() const;
};

/// Answer of one search.
struct search_result {
  std::vector<search_hit> hits;                   ///< nearest first
  bool partial = false;                           ///< a partition missed the deadline or failed
  std::vector<std::uint32_t> missing_partitions;  ///< those partitions (sorted)
  std::uint64_t codebook_version = 0;             ///< the codebook version every partition answered with
  /// Cluster search (actors/peer_service.hpp): peers ("host:port") whose data is absent or incomplete
  /// (down, missed the deadline, other codebooks); `partial` is then true. Empty for a single node.
  std::vector<std::string> missing_peers;
};

/// Sizes and counters of an engine.
struct engine_stats {
  bool configured = false;
  std::uint64_t codebook_version = 0;          ///< 0 = not trained
  std::uint64_t vectors = 0;                   ///< live vectors in the partitions
  std::uint64_t buffered = 0;                  ///< vectors waiting for training
  std::uint64_t upserts = 0, deletes = 0, rejected = 0;
  std::uint64_t last_checkpoint = 0;           ///< newest checkpoint sequence, 0 = none
  std::vector<std::uint64_t> partition_sizes;  ///< live vectors per partition actor
  std::vector<std::pair<std::uint32_t, std::uint64_t>> list_sizes;  ///< (list, live vectors), by list
  std::vector<std::tuple<std::string, std::int32_t, std::int64_t>> offsets;  ///< Kafka (topic, partition, next)
  std::uint64_t applied_vectors = 0;           ///< vectors acknowledged by partitions (Kafka path)
  std::uint64_t pending_vectors = 0;           ///< Kafka vectors staged, not yet applied (back-pressure)
  std::uint64_t peak_pending_vectors = 0;      ///< largest pending_vectors so far
  std::uint64_t consumer_pauses = 0;           ///< times the vectors consumer was paused for back-pressure
  std::uint64_t kafka_records = 0;             ///< vectors-topic records read
  std::uint64_t dead_letters = 0;              ///< records sent to the dead-letter topic
  std::uint64_t lost_records = 0;              ///< vectors-topic records the broker dropped before they were read
  std::uint64_t freshness_samples = 0;         ///< Kafka records timed produce → searchable
  double freshness_p50_us = 0, freshness_p99_us = 0, freshness_max_us = 0;
  std::string last_error;                      ///< last Kafka/checkpoint failure, "" if none
  // Continuous retraining (actors/swap_protocol.hpp).
  std::string retrain_phase = "idle";          ///< idle | training | building | committing
  std::uint64_t building_version = 0;          ///< version being trained or swapped in, 0 = none
  double drift = 0;                            ///< recent quantisation error / error at the last training
  std::uint64_t reservoir_vectors = 0;         ///< vectors in the trainer's reservoir sample
  std::uint64_t inserts_since_training = 0;    ///< inserts since the last training started (0: it saw them all)
  std::uint64_t swaps = 0, failed_swaps = 0;   ///< completed / abandoned hot swaps
  std::uint64_t rebalances = 0;                ///< completed swaps that split or merged lists (retrain.rebalance)
  std::string last_rebalance;                  ///< what the last rebalance plan did, "" if none ran
  double last_train_ms = 0, last_swap_ms = 0;  ///< training time and swap time of the last version
  std::string last_train_device;               ///< where the last retrain trained: cpu | cuda ("" = none yet)
  std::uint64_t shadow_bytes = 0;              ///< shadow lists held now (codes, ids, id maps), all partitions
  std::uint64_t peak_shadow_bytes = 0;         ///< largest shadow so far
  /// Entries of the running or last swap whose code carried over unchanged (a rebalance: their list
  /// kept its centroid, index/code_carry.hpp) / that were assigned and encoded again (all, in a retrain).
  std::uint64_t swap_carried = 0, swap_reencoded = 0;
};

class engine;

/// A search being built: engine.search(q).nprobes(10).limit(10).refine_factor(2).to_list().
/// Holds a reference to its engine (which must outlive it). Cheap to copy.
class search_builder {
public:
  search_builder& nprobes(std::size_t n) { params_.nprobes = n; return *this; }
  search_builder& limit(std::size_t k) { params_.limit = k; return *this; }
  search_builder& refine_factor(std::size_t f) { params_.refine_factor = f; return *this; }
  /// Relative deadline; partitions that have not answered by then are reported as missing.
  search_builder& deadline(std::chrono::milliseconds d) { deadline_ = d; return *this; }

  /// Runs the search and waits for it (at most the deadline plus a margin). Every way of running a
  /// search fails with resource_exhausted when limit, nprobes or refine_factor is over the engine's
  /// caps, or when caps.max_inflight_queries searches are already running.
  result<search_result> to_list() const;
  /// Runs the search asynchronously.
  std::future<result<search_result>> to_future() const;
  /// Runs the search asynchronously and calls `callback` (on an actor thread: keep it short).
  void then(std::function<void(result<search_result>)> callback) const;

  const search_params& params() const noexcept { return params_; }

private:
  friend class engine;
  search_builder(const engine& e, std::vector<float> q, search_params p, std::chrono::milliseconds d)
      : engine_(&e), query_(std::move(q)), params_(p), deadline_(d) {}
  const engine* engine_;
  std::vector<float> query_;
  search_params params_;
  std::chrono::milliseconds deadline_;
};

/// The embedded streaming index (see the file comment).
class engine {
public:
  /// Starts the actor system and actors. With a data_dir holding a checkpoint, restores it (the index
  /// is then already created and trained). Errors: invalid options, unreadable data_dir.
  static result<std::unique_ptr<engine>> open(const engine_options& options = {});
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Configures the index (LanceDB create_index IVF_PQ parameters). Training happens once
  /// train_after vectors arrived. Re-creating the restored index with the same parameters is a no-op.
  status create_index(const index_params& params);
  /// Configures the index and trains it now on `training` (n × d).
  status create_index(const index_params& params, const float* training, std::size_t n);
  /// Upserts n vectors (x: n × d); when it returns they are searchable (or buffered until training).
  status upsert(const std::uint64_t* ids, const float* x, std::size_t n);
  /// Deletes ids (unknown ids are ignored); applied when it returns.
  status remove(const std::uint64_t* ids, std::size_t n);
  /// Starts a search for q (dimension floats).
  search_builder search(const float* q, std::size_t dimension) const;
  search_builder search(std::vector<float> q) const;
  /// Trains the next codebook version on the reservoir sample and hot-swaps it in (queries keep
  /// running on the current one meanwhile); returns the new version once it serves every query.
  /// Needs options().retrain.enabled. Errors: not trained, reservoir too small, swap failed.
  result<std::uint64_t> retrain();
  /// Reads the lists' sizes now and splits / merges those outside [retrain.rebalance_split,
  /// retrain.rebalance_merge] × the mean (index/centroid_rebalance.hpp), through the same hot swap as a
  /// retrain; returns the version serving afterwards (the live one when nothing could be split or merged).
  /// Works whether or not retrain.rebalance checks by itself. Needs options().retrain.enabled (the plan is
  /// made on the reservoir). Errors: not trained, imi / lopq lists (fixed), a swap that failed.
  result<std::uint64_t> rebalance();
  /// Whether and when this engine trains from now on, as engine_options::train_after (0 = the default)
  /// and ::retrain would have set it at open (a cluster node that takes over or hands back training, actors/leadership.hpp).
  /// Trains the first version at once when train_after is already reached. The trainer keeps the
  /// reservoir_size and error_window it started with. Errors: an invalid policy (the
  /// message names the field), no index (not_trained), those of a first training.
  status set_training(std::uint64_t train_after, const actors::retrain_policy& policy);
  /// Installs codebooks trained elsewhere (the codebooks topic of a scale-out cluster,
  /// actors/codebook_topic.hpp) instead of training; what was buffered becomes searchable. @pre
  /// create_index() with the same shape. On an index that is trained already, hot-swaps to them when
  /// they are a newer version (the retrain protocol of actors/swap_protocol.hpp, without training;
  /// returns once they serve every query). Errors: another code layout (invalid_argument naming both
  /// values: check_codebook_layout in index/index_params.hpp, e.g. quantizer, coarse quantizer, opq, lopq,
  /// polysemous, num_bits; nothing changes), null, not newer than the live version (version_mismatch),
  /// a swap running (resource_exhausted: retry), a failed swap.
  status install_codebooks(std::shared_ptr<const codebook_set> codebooks);
  /// The codebooks searches are planned with now (null until trained).
  result<std::shared_ptr<const codebook_set>> codebooks() const;
  /// Writes a checkpoint now (needs a data_dir); returns its sequence.
  result<std::uint64_t> checkpoint();
  /// Sizes and counters.
  result<engine_stats> stats() const;

  const engine_options& options() const noexcept;
  /// The actor system (for services that add their own actors, e.g. the Kafka ingest/query topic).
  caf::actor_system& system() const;
  /// Opaque access for the service layer (actors/service.hpp).
  struct impl;
  impl& internals() const { return *impl_; }

private:
  explicit engine(std::unique_ptr<impl> p);
  friend class search_builder;
  std::unique_ptr<impl> impl_;
};

}  // namespace ivfstream
