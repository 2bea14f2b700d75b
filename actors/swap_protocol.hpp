#pragma once
// Continuous retraining and the hot swap, driven by the ingest actor (the single writer).
//
// Protocol (at most one swap at a time):
//  1. The ingest actor feeds every staged upsert to trainer_state (reservoir + quantisation error).
//     When a retrain is due (schedule or drift) a detached trainer actor trains version v+1 on a copy of
//     the reservoir, off the hot path; the ingest actor keeps serving. A rebalance (retrain.rebalance,
//     actors/rebalance_check.cpp) is the same swap with another step 1: the partitions' list sizes show a
//     list outside the bounds, and the trainer actor plans splits and merges of the coarse centroids
//     (index/centroid_rebalance.hpp) instead of training; the list count of v+1 then differs from v's.
//  2. Trained: in one handler the ingest actor starts dual routing (ingest_state::begin_shadow) and
//     sends shadow_atom to every partition, so each partition begins its shadow before any batch routed
//     under both versions reaches it. A partition re-encodes its entries from its vector store under
//     v+1 (while still answering v) and answers shadow_start: the ids it keeps and the emigrants whose
//     new list another partition owns.
//  3. Emigrants go to their new owners (migrate_atom); ids written directly to a shadow meanwhile win.
//  4. All migrated: ingest_state::commit_shadow and commit_atom to every partition (shadow → live, v
//     kept readable as "retired"), then swap_atom to every query actor: a query planned with v+1 can
//     only reach a partition after its commit (the commit was enqueued first). Queries planned with v
//     keep reading v: they hold its codebooks, the partitions its retired lists.
//  5. All acknowledged: retire_atom to the partitions frees the v lists (every scan planned with v was
//     enqueued before the query actors acknowledged). Codebooks v are freed with their last reader.
// A failure anywhere abandons the swap (abort_atom): v stays live, nothing is lost.
// Crash safety: checkpoints hold only live lists and their codebooks (v before the commit, v+1 after;
// a partition processes the snapshot and commit messages in the order the ingest actor sent them),
// so a restart loads one consistent version; a lost shadow is rebuilt by a later retrain.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/trainer_state.hpp"

namespace ivfstream::actors {

/// What stats report about retraining (engine_stats, `ivfstream inspect`).
struct retrain_status {
  bool enabled = false;
  std::string phase = "idle";           ///< idle | training | building | committing
  std::uint64_t building_version = 0;   ///< version being trained or built, 0 = none
  double drift = 0;                     ///< recent error / error at the last training (0 = unknown)
  double recent_error = 0, baseline_error = 0;
  std::uint64_t sample_size = 0;        ///< vectors in the reservoir
  std::uint64_t inserts_since_training = 0;
  std::uint64_t swaps = 0;              ///< completed swaps
  std::uint64_t failed_swaps = 0;       ///< abandoned ones
  std::string last_reason;              ///< why the last retrain started
  double last_train_ms = 0;             ///< training time of the last version
  std::string last_train_device;        ///< where the last version trained: cpu, cuda (codebook_set::training_device)
  double last_swap_ms = 0;              ///< shadow build + migrate + commit of the last version
  std::uint64_t shadow_bytes = 0;       ///< shadow lists of the swap running now (codes, ids, id maps)
  std::uint64_t peak_shadow_bytes = 0;  ///< largest shadow so far
  /// Entries of the running or last swap whose code carried over (a rebalance keeps the lists whose
  /// centroid stayed: index/code_carry.hpp) and entries assigned and encoded again.
  std::uint64_t swap_carried = 0, swap_reencoded = 0;
  std::string last_error;               ///< why the last swap was abandoned, "" if none
  std::uint64_t rebalances = 0;         ///< completed swaps that split or merged lists (also in swaps)
  std::string last_rebalance;           ///< what the last rebalance plan did, "" if none ran
};

/// The ingest actor's retraining state (owned by its actor state; not thread-safe).
struct retrain_driver {
  enum class phase { idle, training, building, committing };
  retrain_policy policy;
  std::unique_ptr<trainer_state> trainer;  ///< created with the first insert after create_index
  bool trainer_saw_codebooks = false;      ///< false while the index buffers vectors for its first training
  bool ticking = false;                    ///< the rtick chain runs (started once, never stopped)
  phase now = phase::idle;
  std::shared_ptr<const codebook_set> next;  ///< version being built
  double next_baseline = 0;
  std::size_t outstanding = 0;
  std::optional<ivfstream::error> failure;
  std::chrono::steady_clock::time_point swap_started;
  std::vector<std::function<void(ack_reply)>> waiters;  ///< forced retrains waiting for the swap's end
  retrain_status status;
  // List rebalancing (retrain_policy::rebalance, actors/rebalance_check.cpp).
  bool rebalancing = false;                        ///< the swap running (or planning) is a rebalance
  bool forced_rebalance = false;                   ///< engine::rebalance() waits on it (a plan that
                                                   ///< changes nothing then answers the live version)
  bool sizes_pending = false;                      ///< list sizes asked of the partitions, not all answered
  std::chrono::steady_clock::time_point sizes_checked;  ///< when they were last asked for
  std::uint64_t quiet_until_seen = 0;              ///< after a plan that changed nothing: no new plan before
                                                   ///< the reservoir has seen this many vectors
  std::size_t rebalances_without_inserts = 0;      ///< rebalance swaps since the last insert: a plan that
                                                   ///< cannot settle stops after k_max_rebalances_in_a_row
};

/// Minimum reservoir size a retrain needs for these params (PQ needs 2^nbits, IVF num_partitions).
std::size_t min_training_sample(const index_params& p);

}  // namespace ivfstream::actors
