#include "config/service_config.hpp"

#include <array>
#include <cctype>
#include <sstream>

namespace ivfstream {

namespace {

std::string str(std::uint64_t v) { return std::to_string(v); }

status in_range(const char* key, std::uint64_t value, std::uint64_t lo, std::uint64_t hi) {
  if (value < lo || value > hi) {
    return fail(errc::invalid_argument, std::string(key) + "=" + str(value) + ": must be in " + str(lo) +
                                            ".." + str(hi));
  }
  return {};
}

status topic_name(const char* key, const std::string& topic) {
  constexpr std::size_t k_max_topic = 249;  // Kafka's limit
  bool ok = !topic.empty() && topic.size() <= k_max_topic && topic != "." && topic != "..";
  for (char c : topic) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return fail(errc::invalid_argument, std::string(key) + "='" + topic +
                                            "': must be a Kafka topic name of 1..249 characters [A-Za-z0-9._-]");
  }
  return {};
}

status prefixed(const char* section, status s) {
  if (s) return s;
  return fail(s.error().code(), std::string(section) + "." + s.error().message());
}

}  // namespace

service_config::service_config() {
  // Defaults for the embedded demo (128-d vectors, LanceDB-like index parameters).
  index.dimension = 128;
  index.num_partitions = 256;
  index.num_sub_vectors = 16;
  index.num_bits = 8;
}

status service_config::validate() const {
  // [kafka]
  if (kafka.embedded_broker && !kafka.brokers.empty()) {
    return fail(errc::invalid_argument, "kafka.brokers='" + kafka.brokers +
                                            "': must be empty when kafka.embedded_broker=true "
                                            "(set kafka.embedded_broker=false to use these brokers)");
  }
  if (!kafka.embedded_broker && kafka.brokers.empty()) {
    return fail(errc::invalid_argument,
                "kafka.brokers is empty: set it to host:port[,host:port...] or set kafka.embedded_broker=true");
  }
  IVF_TRY(in_range("kafka.embedded_broker_count", kafka.embedded_broker_count, 1, 16));
  IVF_TRY(in_range("kafka.topic_partitions", kafka.topic_partitions, 1, 1024));
  IVF_TRY(in_range("kafka.session_timeout_ms", kafka.session_timeout_ms, 1000, 3600000));
  IVF_TRY(in_range("kafka.query_fetch_wait_ms", kafka.query_fetch_wait_ms, 0, 1000));
  IVF_TRY(in_range("kafka.reply_fetch_wait_ms", kafka.reply_fetch_wait_ms, 0, 1000));
  IVF_TRY(in_range("kafka.query_linger_ms", kafka.query_linger_ms, 0, 1000));
  if (kafka.group_id.empty()) return fail(errc::invalid_argument, "kafka.group_id is empty: must be non-empty");
  if (kafka.client_id.empty()) return fail(errc::invalid_argument, "kafka.client_id is empty: must be non-empty");
  IVF_TRY(topic_name("kafka.topics.vectors", kafka.topics.vectors));
  IVF_TRY(topic_name("kafka.topics.queries", kafka.topics.queries));
  IVF_TRY(topic_name("kafka.topics.replies", kafka.topics.replies));
  IVF_TRY(topic_name("kafka.topics.dead_letter", kafka.topics.dead_letter));
  IVF_TRY(topic_name("kafka.topics.codebooks", kafka.topics.codebooks));
  const std::array<std::pair<const char*, const std::string*>, 5> topics{{
      {"vectors", &kafka.topics.vectors},
      {"queries", &kafka.topics.queries},
      {"replies", &kafka.topics.replies},
      {"dead_letter", &kafka.topics.dead_letter},
      {"codebooks", &kafka.topics.codebooks},
  }};
  for (std::size_t i = 0; i < topics.size(); ++i) {
    for (std::size_t j = i + 1; j < topics.size(); ++j) {
      if (*topics[i].second == *topics[j].second) {
        return fail(errc::invalid_argument, std::string("kafka.topics.") + topics[j].first + "='" +
                                                *topics[j].second + "': must differ from kafka.topics." +
                                                topics[i].first);
      }
    }
  }
  for (const auto& [key, value] : kafka.properties) {
    if (key.empty()) return fail(errc::invalid_argument, "kafka.properties: empty property name");
    (void)value;
  }

  // [index], [search]
  IVF_TRY(prefixed("index", index.validate()));
  if (index.polysemous)  // the partition actors scan every code (no polysemous_ht): say so, never ignore it
    return fail(errc::invalid_argument,
                "index.polysemous=true: not supported by the service (its partition scans have no Hamming "
                "filter); must be false (the filter is in ivfpq_index::search and `ivfstream bench --polysemous-ht`)");
  IVF_TRY(in_range("index.dimension", index.dimension, 1, 1u << 16));
  IVF_TRY(prefixed("search", search.validate()));

  // [caps]
  IVF_TRY(in_range("caps.max_k", caps.max_k, 1, 1000000));
  IVF_TRY(in_range("caps.max_nprobes", caps.max_nprobes, 1, 1u << 24));
  IVF_TRY(in_range("caps.max_refine_factor", caps.max_refine_factor, 0, 10000));
  IVF_TRY(in_range("caps.max_vectors_per_request", caps.max_vectors_per_request, 1, 1u << 20));
  IVF_TRY(in_range("caps.max_request_bytes", caps.max_request_bytes, 64, std::uint64_t{1} << 31));
  IVF_TRY(in_range("caps.max_inflight_queries", caps.max_inflight_queries, 1, 1u << 20));
  IVF_TRY(in_range("caps.max_batch_vectors", caps.max_batch_vectors, 1, std::uint64_t{1} << 32));
  IVF_TRY(in_range("caps.max_batch_bytes", caps.max_batch_bytes, 64, std::uint64_t{1} << 31));
  if (search.limit > caps.max_k) {
    return fail(errc::invalid_argument, "search.limit=" + str(search.limit) +
                                            ": must be <= caps.max_k=" + str(caps.max_k));
  }
  if (search.nprobes > caps.max_nprobes) {
    return fail(errc::invalid_argument, "search.nprobes=" + str(search.nprobes) +
                                            ": must be <= caps.max_nprobes=" + str(caps.max_nprobes));
  }
  if (search.refine_factor > caps.max_refine_factor) {
    return fail(errc::invalid_argument, "search.refine_factor=" + str(search.refine_factor) +
                                            ": must be <= caps.max_refine_factor=" +
                                            str(caps.max_refine_factor));
  }

  // [engine]
  IVF_TRY(in_range("engine.partition_actors", engine.partition_actors, 1, 1024));
  if (engine.data_dir.empty()) return fail(errc::invalid_argument, "engine.data_dir is empty: must be a directory path");
  IVF_TRY(in_range("engine.query_deadline_ms", engine.query_deadline_ms, 1, 3600000));
  IVF_TRY(in_range("engine.train_after", engine.train_after, 1, std::uint64_t{1} << 40));
  IVF_TRY(in_range("engine.max_pending_vectors", engine.max_pending_vectors, 1, std::uint64_t{1} << 40));
  // [retrain]
  IVF_TRY(in_range("retrain.reservoir_size", retrain.reservoir_size, 1000, 10000000));
  IVF_TRY(in_range("retrain.error_window", retrain.error_window, 10, 1000000));
  IVF_TRY(in_range("retrain.error_sample_every", retrain.error_sample_every, 1, 1000000));
  IVF_TRY(in_range("retrain.background_nice", retrain.background_nice, 0, 19));
  if (!(retrain.drift_threshold == 0 || (retrain.drift_threshold >= 1 && retrain.drift_threshold <= 1e6))) {
    std::ostringstream v;
    v << retrain.drift_threshold;
    return fail(errc::invalid_argument,
                "retrain.drift_threshold=" + v.str() + ": must be 0 (off) or in 1..1000000");
  }
  IVF_TRY(in_range("retrain.rebalance_check_ms", retrain.rebalance_check_ms, 10, 3600000));
  if (!(retrain.rebalance_split > 1 && retrain.rebalance_split <= 1e6)) {
    std::ostringstream v;
    v << retrain.rebalance_split;
    return fail(errc::invalid_argument, "retrain.rebalance_split=" + v.str() + ": must be > 1 (and at most 1000000)");
  }
  if (!(retrain.rebalance_merge >= 0 && retrain.rebalance_merge * 4 < retrain.rebalance_split)) {
    std::ostringstream v;
    v << retrain.rebalance_merge;
    return fail(errc::invalid_argument, "retrain.rebalance_merge=" + v.str() +
                                            ": must be in [0, rebalance_split / 4) (else a split's halves merge back)");
  }
  if (retrain.rebalance && !retrain.enabled)
    return fail(errc::invalid_argument,
                "retrain.rebalance=true needs retrain.enabled=true (the plan is made on the retrain reservoir)");
  if (retrain.enabled && !index.keep_raw_vectors)
    return fail(errc::invalid_argument,
                "retrain.enabled=true needs index.keep_raw_vectors=true (a swap re-encodes from the raw vectors)");
  // [peers]
  if (peers.bind.empty()) return fail(errc::invalid_argument, "peers.bind is empty: must be an address, e.g. 127.0.0.1");
  IVF_TRY(in_range("peers.port", peers.port, 0, 65535));
  IVF_TRY(in_range("peers.failover_ms", peers.failover_ms, 100, 600000));
  for (const std::string& node : peers.nodes) {
    if (auto a = parse_host_port(node); !a) return fail(a.error().code(), "peers." + a.error().message());
  }
  if (peers.tls) {
    // The files themselves are checked when the engine opens (actors/peer_tls.cpp loads them).
    if (peers.tls_certificate.empty() || peers.tls_key.empty())
      return fail(errc::invalid_argument, "peers.tls = true needs peers.tls_certificate and peers.tls_key (got '" +
                                              peers.tls_certificate + "', '" + peers.tls_key + "')");
    if (peers.tls_cafile.empty() && peers.tls_capath.empty())
      return fail(errc::invalid_argument,
                  "peers.tls = true needs peers.tls_cafile or peers.tls_capath: the CA that signs the nodes' certificates");
  }

  if (engine.train_after < index.num_partitions) {
    return fail(errc::invalid_argument, "engine.train_after=" + str(engine.train_after) +
                                            ": must be >= index.num_partitions=" + str(index.num_partitions) +
                                            " (k-means needs at least one vector per list)");
  }
  return {};
}

result<std::pair<std::string, std::uint16_t>> parse_host_port(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument, "nodes entry '" + std::string(text) + "': " + why +
                                            " (expected host:port or [ipv6]:port, port 1..65535)");
  };
  std::string host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("unterminated [ipv6] address or no port");
    host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address must be written in brackets");
  }
  if (host.empty()) return bad("empty host");
  if (port.empty() || port.size() > 5) return bad("port must be 1..65535");
  std::uint32_t p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("port must be 1..65535");
    p = p * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (p < 1 || p > 65535) return bad("port must be 1..65535");
  return std::make_pair(std::move(host), static_cast<std::uint16_t>(p));
}

bool is_secret_property(std::string_view key) noexcept {
  // librdkafka's secret-bearing properties: *.password (sasl.password, ssl.key.password,
  // ssl.keystore.password), ssl.key.pem, sasl.oauthbearer.client.secret and sasl.oauthbearer.config
  // (may embed a secret). Match by substring so that future ones like them are masked too.
  std::string lower(key);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("password") != std::string::npos || lower.find("secret") != std::string::npos ||
         lower.find("passphrase") != std::string::npos ||
         lower == "ssl.key.pem" || lower == "sasl.oauthbearer.config";
}

std::string masked_property_value(std::string_view key, std::string_view value) {
  return is_secret_property(key) ? std::string("********") : std::string(value);
}

}  // namespace ivfstream
