#pragma once
// engine::impl — shared with the service layer (Kafka ingest, query topic) of the same folder.
#include <atomic>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/engine.hpp"
#include "actors/ingest_actor.hpp"
#include "actors/partition_actor.hpp"
#include "actors/query_actor.hpp"
#include "actors/shard_coverage.hpp"

namespace ivfstream {

struct engine::impl {
  engine_options options;
  std::unique_ptr<caf::actor_system_config> config;
  std::unique_ptr<caf::actor_system> system;
  std::vector<actors::partition_actor> partitions;
  std::vector<actors::query_actor> queries;
  actors::ingest_actor ingest;
  std::shared_ptr<actors::ingest_state> restored_ingest;  ///< the ingest actor's state (owned by it)
  mutable std::atomic<std::size_t> next_query{0};
  std::atomic<std::size_t> dimension{0};  ///< of the created index; 0 = none yet
  /// options.caps: every search is admitted here first and released when its answer is handed over.
  std::unique_ptr<actors::query_admission> admission;
  /// This node's share of the vectors topic: published by the Kafka feed (kafka_service), read by the
  /// scale-out shard search (peer_service). Unknown while no feed is attached.
  std::shared_ptr<actors::shard_coverage> coverage = std::make_shared<actors::shard_coverage>();

  /// A query actor, round robin. Thread-safe.
  const actors::query_actor& pick_query() const { return queries[next_query++ % queries.size()]; }
  /// Sends one search and calls `done` with the reply (on an actor thread).
  void search_async(actors::search_request req, std::function<void(result<search_result>)> done) const;
};

/// Converts an actor reply to the public result.
result<search_result> to_search_result(actors::search_response&& r);

}  // namespace ivfstream
