#pragma once
// Attaches Kafka to an engine: the vectors topic feeds the ingest actor (from the checkpoint's
// offsets), and the queries topic is answered by a query-topic poller/responder pair.
#include <memory>
#include <string>

#include "actors/engine.hpp"
#include "actors/query_topic.hpp"
#include "config/service_config.hpp"
#include "index/error.hpp"

namespace ivfstream {

/// The Kafka side of `ivfstream serve`. Thread-safety: as engine.
class kafka_service {
public:
  /// Starts consuming `config.kafka.topics.vectors` and `.queries` on `bootstrap_servers` for
  /// engine `e` (which must outlive this object). Errors: broker/topic unreachable, bad properties.
  /// `searchers`: the actors that answer the queries topic; empty = the engine's own query actors
  /// (a scale-out node passes its cluster coordinator, peer_service::searcher()).
  static result<std::unique_ptr<kafka_service>> start(engine& e, const service_config& config,
                                                      const std::string& bootstrap_servers,
                                                      std::vector<actors::query_actor> searchers = {});
  /// Stops the query-topic actors (the ingest feed stops with the engine).
  ~kafka_service();
  kafka_service(const kafka_service&) = delete;
  kafka_service& operator=(const kafka_service&) = delete;

  /// Counters and server-side latency of the query topic.
  result<actors::query_topic_stats> query_stats() const;

private:
  kafka_service() = default;
  engine* engine_ = nullptr;
  actors::query_poller_actor poller_;
  actors::query_responder_actor responder_;
};

}  // namespace ivfstream
