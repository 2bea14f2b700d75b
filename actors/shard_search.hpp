#pragma once
// shard_search: answers a batch of queries with this node's candidates — its share of a cluster search
// (actors/cluster_search.hpp). It plans the queries with the given codebooks, scatters one scan_batch
// to each partition owning a probed list, and gathers, per query, the node's k' best candidates by
// ADC distance (query_gather::take_candidates) with their exact distances when refining. It does not
// refine or cut to k: the caller merges every node's candidates and finishes as one node would.
//
// Two entries: in-process (the coordinator of this node hands it the codebooks it planned with) and
// remote (a peer's FlatBuffers PeerSearchRequest; the node's current codebooks are read from a query
// actor and must equal the request's version and fingerprint, else the reply is version_mismatch).
// Partitions that miss the deadline are listed per query; the reply is never held past it.
#include <chrono>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/partition_actor.hpp"
#include "actors/peer_codec.hpp"
#include "actors/query_actor.hpp"
#include "actors/query_admission.hpp"
#include "actors/shard_coverage.hpp"

namespace ivfstream::actors {

/// The in-process form of a peer_request: codebooks already chosen by the caller.
struct shard_request {
  std::shared_ptr<const codebook_set> codebooks;  ///< non-null
  std::vector<float> queries;                      ///< nq × dimension, row-major, nq ≥ 1
  std::size_t dimension = 0;
  search_params params;
  clock::time_point deadline;                      ///< the query's; partitions get 4/5 of what is left
};

/// What a node publishes to its peers: FlatBuffers bytes in, FlatBuffers bytes out
/// (PeerSearchRequest → PeerSearchReply, actors/peer_codec.hpp). Failures travel in the reply.
/// peer_hello (TLS links, actors/cluster_search.hpp): a node that dialed this one introduces its own
/// peer search (a handle, as strong_actor_ptr) and its entry of peers.nodes ("host:port"), so that this
/// node searches it over the same connection instead of dialing back.
/// train_stats (distributed training, actors/cluster_trainer.hpp): TrainStatsRequest bytes in,
/// TrainStatsReply bytes out (actors/train_codec.hpp), computed on this node's training sample.
using peer_search_actor =
    caf::typed_actor<caf::replies_to<peer_search_atom, std::vector<char>>::with<std::vector<char>>,
                     caf::reacts_to<peer_hello_atom, caf::strong_actor_ptr, std::string>,
                     caf::replies_to<train_stats_atom, std::vector<char>>::with<std::vector<char>>>;

/// Where a shard reads the node's training sample (the ingest actor).
using training_sample_source = caf::typed_actor<caf::replies_to<sample_atom>::with<training_sample>>;

/// Where a shard forwards the peer_hello messages it receives: the node's coordinator.
using peer_hello_sink = caf::typed_actor<caf::reacts_to<peer_hello_atom, caf::strong_actor_ptr, std::string>>;

/// The shard search actor: the peer interface plus the in-process one (and, once, the hello sink).
using shard_search_actor =
    peer_search_actor::extend<caf::replies_to<search_atom, shard_request>::with<peer_reply>,
                              caf::reacts_to<peer_link_atom, peer_hello_sink>>;

/// Everything a shard search needs.
struct shard_search_setup {
  std::vector<partition_actor> partitions;  ///< index = partition number
  query_actor codebook_source;              ///< asked for the current codebooks (remote requests)
  peer_limits limits;                       ///< bounds on requests from the network
  /// Remote requests take their query vectors from this budget (the engine's [caps]
  /// max_inflight_queries) for as long as they run; not owned, outlives the actor. May be null.
  query_admission* admission = nullptr;
  /// This node's share of the vectors topic, attached to every reply (null: unknown, e.g. no Kafka feed).
  std::shared_ptr<const shard_coverage> coverage;
  /// The node's training sample for train_stats requests (null: they are refused as unavailable).
  training_sample_source samples;
};

struct shard_search_state {
  shard_search_setup setup;
  /// Fingerprint of the last codebooks seen (computed once per set).
  std::shared_ptr<const codebook_set> fingerprinted;
  std::uint64_t fingerprint = 0;
  peer_hello_sink hello_sink;  ///< the coordinator; null until set (hellos are then dropped)
  /// The sample of the last training round asked about, frozen for all of its iterations (round 0 = none).
  std::uint64_t sample_round = 0;
  std::shared_ptr<const training_sample> sample;
  static inline const char* name = "ivfstream.shard_search";
};

/// The identity of `cb` (version 0 for null), fingerprint cached in `state`.
codebook_identity identify(std::shared_ptr<const codebook_set> const& cb, std::shared_ptr<const codebook_set>& cached,
                           std::uint64_t& cached_fingerprint);

/// The train_stats handler (actors/shard_training.cpp): decodes the request, freezes the node's sample
/// for the request's round, computes the statistics on a detached worker and answers with
/// TrainStatsReply bytes (failures travel in the reply).
caf::result<std::vector<char>> answer_train_stats(shard_search_actor::stateful_pointer<shard_search_state> self,
                                                  const std::vector<char>& bytes);

shard_search_actor::behavior_type shard_search(shard_search_actor::stateful_pointer<shard_search_state> self,
                                               shard_search_setup setup);

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::shard_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::peer_reply)
