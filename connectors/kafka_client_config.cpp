#include "connectors/kafka_client_config.hpp"

#include <cstdio>

#include "connectors/internal/rd_client.hpp"

namespace ivfstream::connectors {

namespace internal {

namespace {
constexpr std::size_t k_errstr_bytes = 512;
constexpr const char* k_mask = "********";
}  // namespace

std::string mask_secrets(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    for (std::size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 8)) {
      text.replace(at, s.size(), k_mask);
    }
  }
  return text;
}

void client_context::log(int level, const char* facility, const char* message) const {
  const std::string text = mask_secrets(message != nullptr ? message : "", secrets);
  if (sink) {
    sink(level, facility != nullptr ? facility : "", text);
  } else if (level <= 4) {
    std::fprintf(stderr, "rdkafka[%s]: %s\n", facility != nullptr ? facility : "", text.c_str());
  }
}

std::unique_ptr<client_context> make_client_context(const kafka_client_config& config, void* owner) {
  auto ctx = std::make_unique<client_context>();
  ctx->sink = config.log_sink;
  ctx->owner = owner;
  for (const auto& [k, v] : config.properties) {
    if (is_secret_property(k)) {
      ctx->secrets.push_back(v);
    } else {
      ctx->public_properties.emplace_back(k, v);
    }
  }
  return ctx;
}

void install_context(rd_kafka_conf_t* conf, client_context* context) {
  rd_kafka_conf_set_opaque(conf, context);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    const auto* ctx = static_cast<const client_context*>(rd_kafka_opaque(rk));
    if (ctx != nullptr) ctx->log(level, fac, buf);
  });
}

result<rd_conf_ptr> make_conf(const kafka_client_config& config, const setting_list& role_settings) {
  rd_conf_ptr conf(rd_kafka_conf_new());
  char errstr[k_errstr_bytes];
  auto set = [&](const std::string& name, const std::string& value, bool user) -> status {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      // librdkafka may echo the value in its message.
      const std::string text = is_secret_property(name) ? mask_secrets(errstr, {value}) : std::string(errstr);
      return fail(errc::invalid_argument, std::string(user ? "kafka.properties." : "") + name + "=" +
                                              masked_property_value(name, value) + ": " + text);
    }
    return {};
  };
  for (const auto& [k, v] : role_settings) IVF_TRY(set(k, v, false));
  if (!config.bootstrap_servers.empty()) IVF_TRY(set("bootstrap.servers", config.bootstrap_servers, false));
  if (!config.client_id.empty()) IVF_TRY(set("client.id", config.client_id, false));
  for (const auto& [k, v] : config.properties) IVF_TRY(set(k, v, true));
  return conf;
}

result<rd_handle_ptr> make_handle(rd_kafka_type_t type, rd_conf_ptr conf, const client_context* context) {
  char errstr[k_errstr_bytes] = {0};
  // rd_kafka_new takes ownership of conf only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) {
    const std::string text = context ? mask_secrets(errstr, context->secrets) : std::string(errstr);
    // Name the passthrough property whose value librdkafka quotes, e.g.
    // "kafka.properties.sasl.mechanism=FOO: Unsupported SASL mechanism: FOO".
    if (context != nullptr) {
      for (const auto& [k, v] : context->public_properties) {
        if (v.size() >= 2 && text.find(v) != std::string::npos) {
          return fail(errc::invalid_argument, "kafka.properties." + k + "=" + v + ": " + text);
        }
      }
    }
    return fail(errc::invalid_argument, "kafka client: " + text);
  }
  (void)conf.release();
  return rd_handle_ptr(rk);
}

error from_rd(rd_kafka_resp_err_t err, const std::string& what) {
  errc code = errc::internal;
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
      code = errc::timeout;
      break;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
      code = errc::unavailable;
      break;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      code = errc::not_found;
      break;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      code = errc::invalid_argument;
      break;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      code = errc::resource_exhausted;
      break;
    default:
      break;
  }
  return fail(code, what + ": " + rd_kafka_err2str(err));
}

}  // namespace internal

kafka_client_config kafka_client_config::from(const service_config& config, std::string bootstrap_servers) {
  kafka_client_config c;
  c.bootstrap_servers = std::move(bootstrap_servers);
  c.client_id = config.kafka.client_id;
  c.properties = config.kafka.properties;
  return c;
}

status check_kafka_client_config(const kafka_client_config& config) {
  auto ctx = internal::make_client_context(config, nullptr);
  auto conf = internal::make_conf(config, {});
  if (!conf) return std::move(conf).error();
  internal::install_context(conf->get(), ctx.get());
  auto handle = internal::make_handle(RD_KAFKA_PRODUCER, std::move(*conf), ctx.get());
  if (!handle) return std::move(handle).error();
  return {};
}

}  // namespace ivfstream::connectors
