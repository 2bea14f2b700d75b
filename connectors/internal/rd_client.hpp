#pragma once
// Private to connectors/: owning librdkafka handles and the construction of a client from a
// kafka_client_config. Nothing outside connectors/ includes librdkafka.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "connectors/kafka_client_config.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors::internal {

struct rd_conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using rd_conf_ptr = std::unique_ptr<rd_kafka_conf_t, rd_conf_deleter>;

struct rd_handle_deleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
using rd_handle_ptr = std::unique_ptr<rd_kafka_t, rd_handle_deleter>;

struct rd_partitions_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept { rd_kafka_topic_partition_list_destroy(l); }
};
using rd_partitions_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, rd_partitions_deleter>;

/// The opaque of every client (rd_kafka_conf_set_opaque): log routing shared with librdkafka's
/// threads plus the wrapper that owns the client. Must outlive the client.
struct client_context {
  kafka_log_sink sink;               ///< empty: warnings and worse to stderr
  std::vector<std::string> secrets;  ///< secret property values, masked in every log line
  /// Non-secret passthrough properties, to name the culprit when librdkafka refuses a client.
  std::vector<std::pair<std::string, std::string>> public_properties;
  void* owner = nullptr;             ///< the kafka_producer / kafka_consumer
  /// Masks secrets, then forwards to the sink. Thread-safe (read-only state).
  void log(int level, const char* facility, const char* message) const;
};

/// ivfstream's own settings for one client role, applied before the passthrough properties.
using setting_list = std::vector<std::pair<std::string, std::string>>;

/// Builds a configuration: role settings, bootstrap.servers, client.id, then the passthrough
/// properties. Errors name the property ("kafka.properties.<name>=<value>: <librdkafka text>").
result<rd_conf_ptr> make_conf(const kafka_client_config& config, const setting_list& role_settings);

/// Creates a client of `type` from `conf` (consumed on success). Errors carry librdkafka's own
/// text with the context's secrets masked.
result<rd_handle_ptr> make_handle(rd_kafka_type_t type, rd_conf_ptr conf, const client_context* context);

/// `text` with every occurrence of a non-empty secret replaced by "********".
std::string mask_secrets(std::string text, const std::vector<std::string>& secrets);

/// A context for `config` (secret values collected from its properties).
std::unique_ptr<client_context> make_client_context(const kafka_client_config& config, void* owner);
/// Sets `context` as the opaque of `conf` and installs the masking log callback.
/// @pre context outlives the client made from conf.
void install_context(rd_kafka_conf_t* conf, client_context* context);

/// An ivfstream::error from a librdkafka error code: "<what>: <rd_kafka_err2str>" with a code
/// mapped to errc (timeouts → timeout, transport/all brokers down → unavailable, unknown topic →
/// not_found, invalid arguments → invalid_argument, else internal).
error from_rd(rd_kafka_resp_err_t err, const std::string& what);

}  // namespace ivfstream::connectors::internal
