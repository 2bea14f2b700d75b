#pragma once
// partition_actor: the thin CAF shell around partition_state. One per share of the inverted lists;
// scans of different partitions run in parallel on the scheduler's threads.
#include <cstdint>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/partition_state.hpp"

namespace ivfstream::actors {

/// Messages a partition understands (every reply is in-band: failures travel in the reply).
using partition_actor = caf::typed_actor<
    /// Local top-k' of the probes it owns.
    caf::replies_to<scan_atom, scan_request>::with<scan_reply>,
    /// The scans of a batch of queries, answered in one reply.
    caf::replies_to<scan_atom, scan_batch>::with<scan_batch_reply>,
    /// Applies one encoded update; count = live vectors afterwards.
    caf::replies_to<apply_atom, partition_update>::with<ack_reply>,
    /// Installs trained codebooks (drops entries of older ones).
    caf::replies_to<codebooks_atom, std::shared_ptr<const codebook_set>>::with<ack_reply>,
    /// Writes a snapshot to the given path.
    caf::replies_to<snapshot_atom, std::string>::with<snapshot_reply>,
    /// Sizes and counters.
    caf::replies_to<stats_atom>::with<partition_stats>,
    /// Fault injection (tests, drills): the partition stalls for the given milliseconds, as a slow
    /// or overloaded partition would; queries meanwhile see it miss their deadline.
    caf::reacts_to<delay_atom, std::uint32_t>,
    /// Hot swap (swap_protocol.hpp): build a shadow under the given codebooks (v+1), re-encoding on a
    /// background thread at this nice value (actors/thread_priority.hpp; 0 = unchanged).
    caf::replies_to<shadow_atom, std::shared_ptr<const codebook_set>, std::int32_t>::with<shadow_start>,
    /// Hot swap: emigrants of another partition into the shadow.
    caf::replies_to<migrate_atom, partition_update>::with<ack_reply>,
    /// Hot swap: the shadow of this version becomes live (the old one stays readable until retired).
    caf::replies_to<commit_atom, std::uint64_t>::with<ack_reply>,
    /// Hot swap: free the retired lists of this version (and older).
    caf::reacts_to<retire_atom, std::uint64_t>,
    /// Hot swap: drop the shadow (abandoned swap).
    caf::reacts_to<abort_atom>>;

/// One shadow rebuild in progress: blocks go to a background re-encoder (actors/reencoder.hpp) and
/// come back to be placed; the answer is delivered once every block is placed.
struct shadow_rebuild {
  std::shared_ptr<const codebook_set> codebooks;      ///< the shadow's codebooks (v+1)
  caf::actor encoder;                                 ///< detached re-encoder of this rebuild
  std::size_t in_flight = 0;                          ///< requests at the encoder (blocks, the id map) not yet back
  std::optional<ivfstream::error> failure;            ///< first failure (an encoder that died)
  shadow_start answer;                                ///< the rebuild's answer so far
  caf::typed_response_promise<shadow_start> reply;    ///< pending while rebuilding
};

/// Actor state: the plain partition_state.
struct partition_actor_state {
  std::shared_ptr<partition_state> core;
  std::shared_ptr<shadow_rebuild> rebuild;  ///< hot swap: the rebuild running, or null
  static inline const char* name = "ivfstream.partition";
};

/// Spawnable behaviour. `initial` is the (possibly restored) state the actor takes ownership of.
partition_actor::behavior_type
partition_behavior(partition_actor::stateful_pointer<partition_actor_state> self,
                   std::shared_ptr<partition_state> initial);

}  // namespace ivfstream::actors
