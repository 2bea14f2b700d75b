#pragma once
// Settings shared by every Kafka client of a process: bootstrap servers, client id and the librdkafka
// property passthrough of the configuration ([kafka.properties]: security.protocol, sasl.*, ssl.*, ...).
// Plain value type; thread-safe to read.
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "config/service_config.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {

/// librdkafka log levels (syslog): 0 emerg .. 7 debug.
using kafka_log_sink = std::function<void(int level, std::string_view facility, std::string_view message)>;

/// What every producer/consumer of a process is built from.
struct kafka_client_config {
  std::string bootstrap_servers;   ///< "host:port[,host:port...]"
  std::string client_id = "ivfstream";
  /// librdkafka properties applied last (they override ivfstream's own settings). Secret values
  /// (config/service_config.hpp: is_secret_property) never appear in errors or logs.
  std::map<std::string, std::string> properties;
  /// Receives librdkafka's log lines, with every secret property value replaced by "********".
  /// Empty: lines of level <= 4 (warning) go to stderr as "rdkafka[facility]: message".
  /// Called from librdkafka's internal threads; must be thread-safe.
  kafka_log_sink log_sink;

  /// From a service configuration; `bootstrap_servers` is the embedded broker's address when
  /// config.kafka.embedded_broker, else config.kafka.brokers.
  static kafka_client_config from(const service_config& config, std::string bootstrap_servers);
};

/// Applies every property to a fresh librdkafka configuration and creates (then destroys) a client,
/// so that both kinds of librdkafka errors surface at start-up: unknown or malformed properties and
/// combinations it refuses (e.g. an unsupported sasl.mechanism). The message is
/// "kafka.properties.<name>=<value>: <librdkafka's own text>" (value masked if secret) or
/// "kafka client: <librdkafka's own text>". Does not contact a broker.
status check_kafka_client_config(const kafka_client_config& config);

}  // namespace ivfstream::connectors
