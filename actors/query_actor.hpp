#pragma once
// query_actor: plans a query once (codebook_set::plan_query), scatters scan requests to the
// partitions owning the probed lists, gathers and merges their top-k', refines, replies. Every scan
// request carries the query's deadline as its timeout: a partition that misses it is reported in the
// reply (partial), never waited on.
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/partition_actor.hpp"

namespace ivfstream::actors {

/// Messages a query actor understands.
using query_actor = caf::typed_actor<
    /// Answers one query (failures in search_response::failure).
    caf::replies_to<search_atom, search_request>::with<search_response>,
    /// Answers several queries as one batch (planned together, one scan message per partition).
    caf::replies_to<search_atom, batch_search_request>::with<batch_search_response>,
    /// Installs the codebooks queries are planned with (sent by the ingest actor after training).
    caf::reacts_to<codebooks_atom, std::shared_ptr<const codebook_set>>,
    /// Hot swap: plan every later query with these codebooks; replies once switched.
    caf::replies_to<swap_atom, std::shared_ptr<const codebook_set>>::with<ack_reply>,
    /// The codebooks queries are planned with now (null until trained); read by the peer search
    /// (actors/shard_search.hpp) so that a node's peers and its own queries use the same version.
    caf::replies_to<codebooks_atom>::with<std::shared_ptr<const codebook_set>>>;

/// State of one query actor.
struct query_actor_state {
  std::vector<partition_actor> partitions;       ///< index = partition number
  std::shared_ptr<const codebook_set> codebooks; ///< null until trained
  static inline const char* name = "ivfstream.query";
};

/// Spawnable behaviour. `codebooks` may be null (not trained yet).
query_actor::behavior_type query_behavior(query_actor::stateful_pointer<query_actor_state> self,
                                          std::vector<partition_actor> partitions,
                                          std::shared_ptr<const codebook_set> codebooks);

}  // namespace ivfstream::actors
