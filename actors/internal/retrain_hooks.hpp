#pragma once
// The ingest actor's entry points into continuous retraining (actors/swap_protocol.hpp, implemented in
// actors/swap_protocol.cpp). All run inside the ingest actor's handlers.
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "actors/ingest_actor.hpp"

namespace ivfstream::actors::internal {

using ingest_pointer = ingest_actor::stateful_pointer<ingest_actor_state>;

/// Feeds staged upsert vectors (n × d, as given) to the trainer, then starts a retrain if one is due.
void retrain_observe(ingest_pointer self, const float* x, std::size_t n);
/// Starts the rtick chain when the policy needs it (time schedule, rebalance checks, status file) and it
/// does not run yet; called when the trainer is created and when the policy changes.
void start_ticking(ingest_pointer self);
/// Periodic check of the time schedule (rtick_atom).
void retrain_tick(ingest_pointer self);
/// Retrains now (or joins the swap running); `done` gets the new version in count, or the failure.
void retrain_now(ingest_pointer self, std::function<void(ack_reply)> done);
/// Hot-swaps to codebooks trained elsewhere (a newer version read from the codebooks topic) through the
/// same shadow/migrate/commit protocol as a retrain; `done` gets the version in count once it serves
/// every query, or the failure: not trained, not newer than the live version, another swap running
/// (resource_exhausted: retry after it), or a failure of the swap (the live version stays).
void adopt_codebooks(ingest_pointer self, std::shared_ptr<const codebook_set> next,
                     std::function<void(ack_reply)> done);
/// With retrain.rebalance: when rebalance_check_ms passed since the last look, asks every partition for
/// its list sizes; once all answered for the live version and a list is out of bounds, start_rebalance
/// (actors/rebalance_check.cpp). Called by the retrain check when no retrain is due.
void rebalance_check(ingest_pointer self);
/// Reads the list sizes now and rebalances whatever the bounds say (engine::rebalance); `done` gets the
/// version serving afterwards (the live one when no list could be split or merged), or the failure.
/// Joins the swap running, if any.
void rebalance_now(ingest_pointer self, std::function<void(ack_reply)> done);
/// Plans splits and merges of the live lists (list_sizes: entries per list) on the trainer actor and swaps
/// the result in, as a retrain would. false (nothing started) while another swap runs or when the sizes
/// are stale (not one per live list).
bool start_rebalance(ingest_pointer self, std::vector<std::uint64_t> list_sizes);
/// Hands `r` to everything waiting for the swap running (forced retrains and rebalances).
void deliver_to_waiters(ingest_pointer self, const ack_reply& r);
/// Marks every partition as changed for incremental checkpoints (after a commit).
void mark_all_partitions_changed(ingest_actor_state& st);
/// What stats report.
retrain_status retrain_report(const ingest_actor_state& st);

}  // namespace ivfstream::actors::internal
