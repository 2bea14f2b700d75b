#pragma once
// The client side of the query topic: sends QueryRequest records and collects the QueryResponse
// records addressed to it on its reply topic (matched by correlation id). Used by `ivfstream query`,
// `ivfstream demo` and the end-to-end tests. Not an actor: a plain blocking client.
//
// Exactly one reply per request reaches the caller. The service delivers at least once: a node killed
// after answering but before committing its offset leaves the request to the node that takes its
// queries-topic partition over, which answers again. The client keeps the first reply to each request
// it sent and is waiting for, and drops (and counts, dropped_replies()) a second one, and one that
// arrives after its wait() gave up; so nothing piles up for replies no one will ask for.
//
// Thread-safety: none; one thread uses a client.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "config/service_config.hpp"
#include "connectors/record_codec.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {
class kafka_consumer;
class kafka_producer;
}  // namespace ivfstream::connectors

namespace ivfstream {

/// One request's parameters (absent = the server's default).
struct query_options {
  std::optional<std::uint32_t> k;
  std::optional<std::uint32_t> nprobes;
  std::optional<std::uint32_t> refine_factor;
  std::uint32_t deadline_ms = 0;  ///< 0 = server default
};

class query_client {
public:
  /// Connects to the brokers; replies are read from `reply_topic` (config.kafka.topics.replies when
  /// empty), starting at its current end, so only replies to this client's requests matter.
  static result<std::unique_ptr<query_client>> open(const service_config& config, const std::string& bootstrap_servers,
                                                    std::string reply_topic = "");
  ~query_client();
  query_client(const query_client&) = delete;
  query_client& operator=(const query_client&) = delete;

  /// Sends nq queries (q: nq × d) as one request; returns its correlation id. `partition`: the
  /// queries-topic partition to send it to, -1 = chosen by the correlation id (the record key); tests
  /// use it to reach the node of a cluster that answers a given partition.
  result<std::string> send(const float* q, std::size_t nq, std::size_t d, const query_options& options = {},
                           std::int32_t partition = -1);
  /// Sends raw request bytes (tests: malformed requests).
  status send_raw(const std::vector<std::uint8_t>& bytes);
  /// The reply to `correlation_id` (an id send() returned and no wait() has returned yet), waiting up to
  /// `timeout`. After a timeout the request is given up: a reply that arrives later is dropped.
  /// Errors: timeout; not_found for an id that is not outstanding (never sent here, answered already,
  /// or given up).
  result<connectors::query_response> wait(const std::string& correlation_id, std::chrono::milliseconds timeout);
  /// Sends (to `partition` as in send()) and waits.
  result<connectors::query_response> query(const float* q, std::size_t nq, std::size_t d,
                                           const query_options& options, std::chrono::milliseconds timeout,
                                           std::int32_t partition = -1);
  const std::string& reply_topic() const noexcept { return reply_topic_; }
  /// Replies dropped: a second reply to a request (the service's at-least-once delivery after a node
  /// was killed), or one that arrived after its wait() timed out.
  std::uint64_t dropped_replies() const noexcept { return dropped_; }

private:
  query_client() = default;
  std::string queries_topic_;
  std::string reply_topic_;
  std::string prefix_;
  std::uint64_t next_ = 0;
  std::unique_ptr<connectors::kafka_producer> producer_;
  std::unique_ptr<connectors::kafka_consumer> consumer_;
  std::set<std::string> outstanding_;                          // sent, not yet returned or given up
  std::map<std::string, connectors::query_response> arrived_;  // the first reply of outstanding ones
  std::uint64_t dropped_ = 0;
};

}  // namespace ivfstream
