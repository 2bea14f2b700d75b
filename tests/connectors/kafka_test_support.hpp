#pragma once
// Helpers shared by the Kafka suites: an embedded broker with topics, a producer that waits for
// delivery, and a loop that drains a topic. Every wait is bounded so a broken broker fails a test
// instead of hanging it.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"

namespace ivfstream::connectors::test {

using namespace std::chrono_literals;

/// librdkafka settings that keep test clients quick on a local mock cluster.
inline kafka_client_config fast_client(const std::string& bootstrap) {
  kafka_client_config c;
  c.bootstrap_servers = bootstrap;
  c.client_id = "ivfstream-test";
  c.properties["topic.metadata.refresh.interval.ms"] = "1000";
  c.properties["reconnect.backoff.ms"] = "10";
  c.properties["retry.backoff.ms"] = "10";
  // Quiet: the mock cluster logs connection teardown at shutdown.
  c.log_sink = [](int, std::string_view, std::string_view) {};
  return c;
}

inline std::unique_ptr<embedded_broker> start_broker(const std::vector<topic_spec>& topics, int brokers = 1) {
  auto b = embedded_broker::start(brokers, topics);
  BOOST_REQUIRE_MESSAGE(b.has_value(), (b ? std::string() : b.error().to_string()));
  return std::move(*b);
}

inline std::unique_ptr<kafka_producer> make_producer(const std::string& bootstrap, kafka_producer_options o = {}) {
  auto p = kafka_producer::create(fast_client(bootstrap), std::move(o));
  BOOST_REQUIRE_MESSAGE(p.has_value(), (p ? std::string() : p.error().to_string()));
  return std::move(*p);
}

inline std::unique_ptr<kafka_consumer> make_consumer(const std::string& bootstrap, kafka_consumer_options o = {}) {
  if (o.session_timeout_ms == 10000) o.session_timeout_ms = 3000;
  auto c = kafka_consumer::create(fast_client(bootstrap), std::move(o));
  BOOST_REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().to_string()));
  return std::move(*c);
}

/// Produces `payload` and waits until it is delivered.
inline void produce_sync(kafka_producer& p, const std::string& topic, const std::vector<std::uint8_t>& payload,
                                 std::int32_t partition = 0, const std::string& key = "") {
  BOOST_REQUIRE(p.produce(topic, key.empty() ? nullptr : key.data(), key.size(), payload.data(), payload.size(),
                          partition));
  BOOST_REQUIRE(p.flush(10s));
}

/// A copy of one consumed record.
struct record_copy {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::vector<std::uint8_t> key;
  std::vector<std::uint8_t> payload;
};

inline record_copy copy_of(const kafka_message& m) {
  record_copy r;
  r.topic = std::string(m.topic());
  r.partition = m.partition();
  r.offset = m.offset();
  if (m.key() != nullptr) r.key.assign(m.key(), m.key() + m.key_size());
  if (m.payload() != nullptr) r.payload.assign(m.payload(), m.payload() + m.payload_size());
  return r;
}

/// Polls until `count` records arrived or `limit` passed. The default is generous (it only matters
/// when records are missing): 20 s ran out once under TSan on a loaded 2-core machine.
inline std::vector<record_copy> consume_n(kafka_consumer& c, std::size_t count,
                                          std::chrono::milliseconds limit = 150000ms) {
  std::vector<record_copy> out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = c.poll_batch(count - out.size(), 100ms);
    BOOST_REQUIRE_MESSAGE(batch.has_value(), (batch ? std::string() : batch.error().to_string()));
    for (const kafka_message& m : *batch) out.push_back(copy_of(m));
  }
  return out;
}

}  // namespace ivfstream::connectors::test
