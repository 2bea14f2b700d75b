#pragma once
// An in-process Kafka cluster for the embedded demo and the tests: librdkafka's mock cluster
// (rdkafka_mock.h) on a dedicated client handle, listening on 127.0.0.1 with ephemeral ports.
//
// Limits of the mock cluster (librdkafka 2.0.2) that users must know:
//  - Storage is in memory, and each partition keeps only its newest ~5 MB (or 100 000 message
//    sets): older records are dropped and the log start offset moves on. Spread a topic over
//    enough partitions for the data it must hold (200k × 128-d float vectors ≈ 102 MB → ≥ 32
//    partitions, see kafka.topic_partitions) or checkpoint often enough that replay never needs
//    dropped records.
//  - No CreateTopics admin API: topics are created here (create_topic), or auto-created by a
//    producer with the mock's default of 4 partitions.
//  - Nothing survives the process: a restarted embedded broker is empty.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/service_config.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {

/// A topic to create and its partition count.
struct topic_spec {
  std::string name;
  std::int32_t partitions = 1;
};

/// The topics a service uses, with config.kafka.topic_partitions partitions each (codebooks: 1,
/// since it is a single ordered log of versions).
std::vector<topic_spec> service_topics(const service_config& config);

/// A running mock cluster. Destroying it stops the brokers (clients connected to it then see
/// transport errors). Thread-safe: create_topic may be called from any thread.
class embedded_broker {
public:
  /// Starts `broker_count` (1..16) brokers and creates `topics`.
  static result<std::unique_ptr<embedded_broker>> start(int broker_count, const std::vector<topic_spec>& topics = {});
  /// Starts config.kafka.embedded_broker_count brokers with service_topics(config).
  static result<std::unique_ptr<embedded_broker>> start(const service_config& config);

  ~embedded_broker();
  embedded_broker(const embedded_broker&) = delete;
  embedded_broker& operator=(const embedded_broker&) = delete;

  /// "127.0.0.1:port[,127.0.0.1:port...]", for bootstrap.servers (also usable by kcat -b).
  const std::string& bootstrap_servers() const noexcept { return bootstrap_; }
  /// Creates a topic with `partitions` (1..100000) partitions and replication min(3, brokers).
  status create_topic(const std::string& name, std::int32_t partitions);
  int broker_count() const noexcept { return broker_count_; }

private:
  struct impl;
  embedded_broker(std::unique_ptr<impl> state, std::string bootstrap, int broker_count);
  std::unique_ptr<impl> impl_;
  std::string bootstrap_;
  int broker_count_;
};

}  // namespace ivfstream::connectors
