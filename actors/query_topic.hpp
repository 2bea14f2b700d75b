#pragma once
// The Kafka request/reply path: a poller (detached actor, owns the queries-topic consumer) verifies and
// decodes QueryRequest records and hands them to a responder (scheduled actor), which runs all query
// vectors of a request as one batched search on a query actor and produces one QueryResponse to
// the request's reply topic with the request's correlation id (also the record key).
// Undecodable requests get an error reply when their reply address can be read, else they go to the
// dead-letter topic with the reason and source offset.
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/query_admission.hpp"
#include "actors/query_actor.hpp"
#include "config/service_config.hpp"
#include "connectors/record_codec.hpp"

namespace ivfstream::connectors {
class kafka_consumer;
class kafka_producer;
}  // namespace ivfstream::connectors

namespace ivfstream::actors {

/// Counters of the query topic path.
struct query_topic_stats {
  std::uint64_t requests = 0;        ///< QueryRequest records read
  std::uint64_t queries = 0;         ///< query vectors answered
  std::uint64_t error_replies = 0;   ///< replies carrying an error
  std::uint64_t over_inflight = 0;   ///< requests refused: caps.max_inflight_queries reached (also error_replies)
  std::uint64_t dead_letters = 0;    ///< requests without a readable reply address
  std::uint64_t partial_replies = 0; ///< replies with partial = true
  double server_p50_us = 0, server_p99_us = 0;  ///< receipt → reply produced
  /// Queries-topic partitions this node answers now (the poller's; every partition without a group).
  std::vector<std::int32_t> partitions;
};

/// The queries-topic partitions a poller reads and the offsets it has read but not committed yet.
/// A scale-out node (peers.enabled) shares the topic's partitions with the other nodes of its cluster
/// through one consumer group (kafka.query_group), so each request is answered by exactly one node;
/// a single node assigns itself every partition. Shared by the poller and its consumer's group
/// callbacks, which run inside poll_batch() on the poller's thread: no other thread touches it.
struct query_assignment {
  bool group = false;                 ///< partitions come from the consumer group
  std::set<std::int32_t> partitions;  ///< assigned now
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> next_offsets;  ///< read, not yet committed
  connectors::kafka_consumer* consumer = nullptr;  ///< the setup's consumer (commits at revocation)
};

/// A decoded request on its way to the responder.
struct query_job {
  connectors::decoded_query_request request;
  std::chrono::steady_clock::time_point received;
};

using query_responder_actor = caf::typed_actor<caf::reacts_to<search_atom, std::shared_ptr<query_job>>,
                                               caf::replies_to<stats_atom>::with<query_topic_stats>>;

using query_poller_actor = caf::typed_actor<caf::reacts_to<poll_atom>,
                                            caf::replies_to<stats_atom>::with<query_topic_stats>>;

/// Everything both actors share.
struct query_topic_setup {
  std::shared_ptr<connectors::kafka_consumer> consumer;  ///< assigned to the queries topic; poller only
  std::shared_ptr<connectors::kafka_producer> producer;  ///< replies and dead letters (produce is thread-safe)
  std::vector<query_actor> queries;
  connectors::record_limits limits;
  connectors::query_defaults defaults;
  query_caps caps;  ///< [caps]: the responder refuses a request whose vectors would exceed max_inflight_queries
  std::string dead_letter_topic;
  /// Reply topics whose metadata the producer holds. A producer's first record to a topic it has no
  /// metadata for waited ~1 s (librdkafka 2.0.2, measured on the embedded broker): the first reply to a
  /// topic looks it up synchronously first (~1 ms). Each actor keeps its own copy; bounded.
  std::set<std::string> known_reply_topics;
  std::shared_ptr<query_assignment> assignment;  ///< poller only (see query_assignment)
};

struct query_responder_state {
  query_topic_setup setup;
  query_topic_stats stats;
  std::unique_ptr<query_admission> admission;  ///< setup.caps; query vectors in flight
  std::vector<float> server_us;  ///< recent receipt → reply samples (bounded)
  std::size_t next_sample = 0;
  std::size_t next_query = 0;
  static inline const char* name = "ivfstream.query_responder";
};

struct query_poller_state {
  query_topic_setup setup;
  query_responder_actor responder;
  query_topic_stats stats;
  std::chrono::steady_clock::time_point last_commit = std::chrono::steady_clock::now();
  static inline const char* name = "ivfstream.query_poller";
};

query_responder_actor::behavior_type query_responder(
    query_responder_actor::stateful_pointer<query_responder_state> self, query_topic_setup setup);

/// Spawn detached: it blocks in the consumer's poll for a few milliseconds at a time.
query_poller_actor::behavior_type query_poller(query_poller_actor::stateful_pointer<query_poller_state> self,
                                               query_topic_setup setup, query_responder_actor responder);

/// Opens the consumer and producer. Queries topic from the committed offsets of group
/// kafka.query_group (default group_id + ".queries"), else the earliest: every partition for a single
/// node; with peers.enabled the partitions the group assigns to this node (subscribe), so that the
/// nodes of a cluster answer each request once between them.
result<query_topic_setup> open_query_topic(const service_config& config, const std::string& bootstrap_servers,
                                           std::vector<query_actor> queries);

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::query_topic_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<ivfstream::actors::query_job>)
