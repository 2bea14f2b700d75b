#include "config/config_loader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <limits>
#include <sstream>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

namespace ivfstream {

namespace {

constexpr std::string_view k_properties_prefix = "kafka.properties.";

// ---- the key registry ------------------------------------------------------------------------
// One entry per key: how to set it from text and from a TOML node, and how to print it.

struct key_entry {
  std::string key;
  std::string type;
  std::string doc;
  std::function<status(service_config&, std::string_view)> set_text;
  std::function<status(service_config&, const toml::node&)> set_toml;
  std::function<std::string(const service_config&)> get_text;  // TOML literal
};

// A TOML basic string: '"' and '\\' escaped, control characters (U+0000..U+001F, U+007F) as \uXXXX,
// which TOML does not allow raw, so that dump_config's output always reads back.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    default: return "date/time";
  }
}

template <class Access>
key_entry string_key(std::string key, std::string doc, Access access) {
  key_entry e{key, "string", std::move(doc), {}, {}, {}};
  e.set_text = [access](service_config& c, std::string_view v) -> status {
    access(c) = std::string(v);
    return {};
  };
  e.set_toml = [access, key](service_config& c, const toml::node& n) -> status {
    if (!n.is_string()) {
      return fail(errc::invalid_argument, key + ": expected a string, got a " + toml_type_name(n));
    }
    access(c) = *n.value<std::string>();
    return {};
  };
  e.get_text = [access](const service_config& c) { return quote(access(const_cast<service_config&>(c))); };
  return e;
}

// A list of strings: a TOML array of strings, or on the command line one comma-separated text
// (items trimmed; "" is the empty list).
template <class Access>
key_entry string_list_key(std::string key, std::string doc, Access access) {
  key_entry e{key, "string list", std::move(doc), {}, {}, {}};
  e.set_text = [access](service_config& c, std::string_view v) -> status {
    std::vector<std::string> items;
    while (!v.empty()) {
      const std::size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
      if (!item.empty()) items.emplace_back(item);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
    access(c) = std::move(items);
    return {};
  };
  e.set_toml = [access, key](service_config& c, const toml::node& n) -> status {
    const toml::array* a = n.as_array();
    if (a == nullptr) return fail(errc::invalid_argument, key + ": expected an array of strings, got a " + toml_type_name(n));
    std::vector<std::string> items;
    for (const toml::node& item : *a) {
      if (!item.is_string())
        return fail(errc::invalid_argument, key + "[" + std::to_string(items.size()) + "]: expected a string, got a " +
                                                toml_type_name(item));
      items.push_back(*item.value<std::string>());
    }
    access(c) = std::move(items);
    return {};
  };
  e.get_text = [access](const service_config& c) {
    std::string out = "[";
    for (const std::string& item : access(const_cast<service_config&>(c))) out += (out.size() > 1 ? ", " : "") + quote(item);
    return out + "]";
  };
  return e;
}

result<bool> parse_bool(const std::string& key, std::string_view v) {
  std::string lower(v);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return fail(errc::invalid_argument, key + "='" + std::string(v) +
                                          "': must be one of true, false, 1, 0, yes, no, on, off");
}

template <class Access>
key_entry bool_key(std::string key, std::string doc, Access access) {
  key_entry e{key, "bool", std::move(doc), {}, {}, {}};
  e.set_text = [access, key](service_config& c, std::string_view v) -> status {
    auto b = parse_bool(key, v);
    if (!b) return std::move(b).error();
    access(c) = *b;
    return {};
  };
  e.set_toml = [access, key](service_config& c, const toml::node& n) -> status {
    if (!n.is_boolean()) {
      return fail(errc::invalid_argument, key + ": expected true or false, got a " + toml_type_name(n));
    }
    access(c) = *n.value<bool>();
    return {};
  };
  e.get_text = [access](const service_config& c) {
    return std::string(access(const_cast<service_config&>(c)) ? "true" : "false");
  };
  return e;
}

template <class T>
result<T> parse_unsigned(const std::string& key, std::string_view v) {
  std::uint64_t value = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, value);
  if (v.empty() || ec == std::errc::invalid_argument || ptr != end) {
    return fail(errc::invalid_argument, key + "='" + std::string(v) + "': must be an unsigned integer");
  }
  if (ec == std::errc::result_out_of_range || value > std::numeric_limits<T>::max()) {
    return fail(errc::invalid_argument, key + "=" + std::string(v) + ": must be <= " +
                                            std::to_string(std::numeric_limits<T>::max()));
  }
  return static_cast<T>(value);
}

template <class Access>
key_entry unsigned_key(std::string key, std::string doc, Access access) {
  using T = std::remove_reference_t<decltype(access(std::declval<service_config&>()))>;
  key_entry e{key, "unsigned", std::move(doc), {}, {}, {}};
  e.set_text = [access, key](service_config& c, std::string_view v) -> status {
    auto r = parse_unsigned<T>(key, v);
    if (!r) return std::move(r).error();
    access(c) = *r;
    return {};
  };
  e.set_toml = [access, key](service_config& c, const toml::node& n) -> status {
    if (!n.is_integer()) {
      return fail(errc::invalid_argument, key + ": expected an unsigned integer, got a " + toml_type_name(n));
    }
    const std::int64_t v = *n.value<std::int64_t>();
    if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max()) {
      return fail(errc::invalid_argument, key + "=" + std::to_string(v) + ": must be in 0.." +
                                              std::to_string(std::numeric_limits<T>::max()));
    }
    access(c) = static_cast<T>(v);
    return {};
  };
  e.get_text = [access](const service_config& c) {
    return std::to_string(access(const_cast<service_config&>(c)));
  };
  return e;
}

result<double> parse_number(const std::string& key, std::string_view v) {
  std::string text(v);
  char* end = nullptr;
  const double value = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value))
    return fail(errc::invalid_argument, key + "='" + text + "': must be a finite number");
  return value;
}

template <class Access>
key_entry number_key(std::string key, std::string doc, Access access) {
  key_entry e{key, "number", std::move(doc), {}, {}, {}};
  e.set_text = [access, key](service_config& c, std::string_view v) -> status {
    auto r = parse_number(key, v);
    if (!r) return std::move(r).error();
    access(c) = *r;
    return {};
  };
  e.set_toml = [access, key](service_config& c, const toml::node& n) -> status {
    if (!n.is_number()) {
      return fail(errc::invalid_argument, key + ": expected a number, got a " + toml_type_name(n));
    }
    access(c) = *n.value<double>();
    return {};
  };
  e.get_text = [access](const service_config& c) {
    std::ostringstream o;
    o << std::setprecision(17) << access(const_cast<service_config&>(c));
    std::string s = o.str();
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // stays a TOML float
    return s;
  };
  return e;
}

key_entry metric_key() {
  const std::string key = "index.metric";
  key_entry e{key, "metric", "distance: l2 (squared Euclidean), cosine (1 - cos), dot (1 - <q,x>)", {}, {}, {}};
  e.set_text = [key](service_config& c, std::string_view v) -> status {
    auto m = parse_metric(v);
    if (!m) return fail(m.error().code(), key + ": " + m.error().message());
    c.index.metric = *m;
    return {};
  };
  e.set_toml = [key, set = e.set_text](service_config& c, const toml::node& n) -> status {
    if (!n.is_string()) {
      return fail(errc::invalid_argument, key + ": expected a string (l2, cosine, dot), got a " + toml_type_name(n));
    }
    return set(c, *n.value<std::string>());
  };
  e.get_text = [](const service_config& c) { return quote(to_string(c.index.metric)); };
  return e;
}

key_entry accelerator_key() {
  const std::string key = "index.accelerator";
  key_entry e{key, "accelerator", "training device: cpu, cuda, or auto (the GPU when present, else cpu with a log line)",
              {}, {}, {}};
  e.set_text = [key](service_config& c, std::string_view v) -> status {
    auto a = kernels::parse_accelerator(v);
    if (!a) return fail(errc::invalid_argument, key + ": " + kernels::accelerator_parse_error(v));
    c.index.accelerator = *a;
    return {};
  };
  e.set_toml = [key, set = e.set_text](service_config& c, const toml::node& n) -> status {
    if (!n.is_string()) {
      return fail(errc::invalid_argument, key + ": expected a string (cpu, cuda, auto), got a " + toml_type_name(n));
    }
    return set(c, *n.value<std::string>());
  };
  e.get_text = [](const service_config& c) { return quote(kernels::to_string(c.index.accelerator)); };
  return e;
}

// A key whose value is one name of a set (quantizer, coarse_quantizer): parse gives the value or an
// error naming the value and the set, which is prefixed with the key.
template <class Access, class Parse, class Print>
key_entry name_key(std::string key, std::string type, std::string allowed, std::string doc, Access access,
                   Parse parse, Print print) {
  key_entry e{key, std::move(type), std::move(doc), {}, {}, {}};
  e.set_text = [access, parse](service_config& c, std::string_view v) -> status {
    auto r = parse(v);
    if (!r) return fail(r.error().code(), "index." + r.error().message());
    access(c) = *r;
    return {};
  };
  e.set_toml = [key, allowed, set = e.set_text](service_config& c, const toml::node& n) -> status {
    if (!n.is_string())
      return fail(errc::invalid_argument, key + ": expected a string (" + allowed + "), got a " + toml_type_name(n));
    return set(c, *n.value<std::string>());
  };
  e.get_text = [access, print](const service_config& c) { return quote(print(access(const_cast<service_config&>(c)))); };
  return e;
}

#define IVF_FIELD(path) [](service_config& c) -> auto& { return c.path; }

const std::vector<key_entry>& registry() {
  static const std::vector<key_entry> entries = [] {
    std::vector<key_entry> v;
    v.push_back(string_key("kafka.brokers", "bootstrap.servers host:port[,host:port...]; empty with the embedded broker", IVF_FIELD(kafka.brokers)));
    v.push_back(bool_key("kafka.embedded_broker", "start librdkafka's mock cluster in-process", IVF_FIELD(kafka.embedded_broker)));
    v.push_back(unsigned_key("kafka.embedded_broker_count", "mock brokers (1..16)", IVF_FIELD(kafka.embedded_broker_count)));
    v.push_back(unsigned_key("kafka.topic_partitions", "partitions of each topic the embedded broker creates (1..1024)", IVF_FIELD(kafka.topic_partitions)));
    v.push_back(string_key("kafka.group_id", "consumer group id", IVF_FIELD(kafka.group_id)));
    v.push_back(string_key("kafka.client_id", "client.id of every Kafka client", IVF_FIELD(kafka.client_id)));
    v.push_back(unsigned_key("kafka.session_timeout_ms", "consumer group session timeout, ms (1000..3600000)", IVF_FIELD(kafka.session_timeout_ms)));
    v.push_back(bool_key("kafka.group_ingest", "share the vectors topic's partitions with the other nodes of group_id (consumer group)", IVF_FIELD(kafka.group_ingest)));
    v.push_back(string_key("kafka.query_group", "consumer group of the queries topic (empty: <group_id>.queries); with peers.enabled the nodes of a cluster share its partitions", IVF_FIELD(kafka.query_group)));
    v.push_back(unsigned_key("kafka.query_fetch_wait_ms", "fetch.wait.max.ms of the queries-topic consumer, ms (0..1000)", IVF_FIELD(kafka.query_fetch_wait_ms)));
    v.push_back(unsigned_key("kafka.reply_fetch_wait_ms", "fetch.wait.max.ms of a query client's reply consumer, ms (0..1000)", IVF_FIELD(kafka.reply_fetch_wait_ms)));
    v.push_back(unsigned_key("kafka.query_linger_ms", "linger.ms of the query-request and reply producers, ms (0..1000)", IVF_FIELD(kafka.query_linger_ms)));
    v.push_back(string_key("kafka.topics.vectors", "topic of upsert/delete records", IVF_FIELD(kafka.topics.vectors)));
    v.push_back(string_key("kafka.topics.queries", "topic of query requests", IVF_FIELD(kafka.topics.queries)));
    v.push_back(string_key("kafka.topics.replies", "reply topic of the CLI's own queries", IVF_FIELD(kafka.topics.replies)));
    v.push_back(string_key("kafka.topics.dead_letter", "topic of rejected records", IVF_FIELD(kafka.topics.dead_letter)));
    v.push_back(string_key("kafka.topics.codebooks", "compacted topic of codebook versions", IVF_FIELD(kafka.topics.codebooks)));
    v.push_back(metric_key());
    v.push_back(unsigned_key("index.dimension", "vector length d (>= 1)", IVF_FIELD(index.dimension)));
    v.push_back(unsigned_key("index.num_partitions", "IVF lists (>= 1)", IVF_FIELD(index.num_partitions)));
    v.push_back(unsigned_key("index.num_sub_vectors", "PQ sub-vectors M (must divide dimension)", IVF_FIELD(index.num_sub_vectors)));
    v.push_back(unsigned_key("index.num_bits", "bits per PQ code: 4, 6, 8, 10 or 12", IVF_FIELD(index.num_bits)));
    v.push_back(unsigned_key("index.max_iterations", "k-means iterations (>= 1)", IVF_FIELD(index.max_iterations)));
    v.push_back(unsigned_key("index.sample_rate", "k-means training samples per centroid (>= 1)", IVF_FIELD(index.sample_rate)));
    v.push_back(unsigned_key("index.seed", "random seed of training", IVF_FIELD(index.seed)));
    v.push_back(bool_key("index.keep_raw_vectors", "keep raw vectors for refine and re-encoding", IVF_FIELD(index.keep_raw_vectors)));
    v.push_back(accelerator_key());
    // Advanced quantizers (issue 5; index/index_params.hpp). Unsupported combinations are refused by
    // index_params::validate (run by service_config::validate) with the pair named.
    v.push_back(name_key("index.quantizer", "quantizer", "pq, rq, lsq",
                         "residual quantizer: pq (product), rq (residual, additive), lsq (local search, additive)",
                         IVF_FIELD(index.quantizer),
                         [](std::string_view t) { return parse_quantizer(t); },
                         [](quantizer_kind k) { return std::string(to_string(k)); }));
    v.push_back(unsigned_key("index.rq_beam_size", "rq/lsq encoding beam, 1..64 (1 = greedy)", IVF_FIELD(index.rq_beam_size)));
    v.push_back(unsigned_key("index.lsq_iterations", "lsq training rounds, 1..100", IVF_FIELD(index.lsq_iterations)));
    v.push_back(unsigned_key("index.lsq_icm_iterations", "lsq ICM sweeps per encode, 0..32", IVF_FIELD(index.lsq_icm_iterations)));
    v.push_back(name_key("index.coarse_quantizer", "coarse_quantizer", "flat, imi",
                         "IVF coarse quantizer: flat (num_partitions centroids) or imi (inverted multi-index, "
                         "num_partitions = 2^(2*imi_bits))",
                         IVF_FIELD(index.coarse_quantizer),
                         [](std::string_view t) { return parse_coarse_quantizer(t); },
                         [](coarse_quantizer_kind k) { return std::string(to_string(k)); }));
    v.push_back(unsigned_key("index.imi_bits", "imi: bits per half codebook, 1..10 (ignored with flat)", IVF_FIELD(index.imi_bits)));
    v.push_back(bool_key("index.opq", "learn an OPQ rotation of the residuals before PQ", IVF_FIELD(index.opq)));
    v.push_back(unsigned_key("index.opq_iterations", "OPQ Procrustes alternations, 0..100", IVF_FIELD(index.opq_iterations)));
    v.push_back(bool_key("index.lopq", "locally-adaptive PQ: per group of lists a rotation + PQ codebooks", IVF_FIELD(index.lopq)));
    v.push_back(unsigned_key("index.lopq_groups", "lopq: groups of lists, 1..num_partitions", IVF_FIELD(index.lopq_groups)));
    v.push_back(unsigned_key("index.lopq_iterations", "lopq: Procrustes alternations per group, 0..100", IVF_FIELD(index.lopq_iterations)));
    v.push_back(unsigned_key("index.lopq_min_points", "lopq: a group needs this many x 2^num_bits training vectors, 1..1000000", IVF_FIELD(index.lopq_min_points)));
    v.push_back(bool_key("index.polysemous", "polysemous code order (Hamming tracks distance); the service refuses it: its scans have no Hamming filter", IVF_FIELD(index.polysemous)));
    v.push_back(unsigned_key("index.polysemous_iterations", "polysemous annealing swap proposals per sub-quantizer, 1..10000000", IVF_FIELD(index.polysemous_iterations)));
    v.push_back(unsigned_key("search.nprobes", "default lists probed per query", IVF_FIELD(search.nprobes)));
    v.push_back(unsigned_key("search.limit", "default k", IVF_FIELD(search.limit)));
    v.push_back(unsigned_key("search.refine_factor", "default refine factor (0 = none)", IVF_FIELD(search.refine_factor)));
    v.push_back(unsigned_key("caps.max_k", "largest k a request may ask for", IVF_FIELD(caps.max_k)));
    v.push_back(unsigned_key("caps.max_nprobes", "largest nprobes a request may ask for", IVF_FIELD(caps.max_nprobes)));
    v.push_back(unsigned_key("caps.max_refine_factor", "largest refine_factor a request may ask for", IVF_FIELD(caps.max_refine_factor)));
    v.push_back(unsigned_key("caps.max_vectors_per_request", "query vectors per request", IVF_FIELD(caps.max_vectors_per_request)));
    v.push_back(unsigned_key("caps.max_request_bytes", "bytes of one query request", IVF_FIELD(caps.max_request_bytes)));
    v.push_back(unsigned_key("caps.max_inflight_queries", "queries answered at once", IVF_FIELD(caps.max_inflight_queries)));
    v.push_back(unsigned_key("caps.max_batch_vectors", "ids per upsert/delete record", IVF_FIELD(caps.max_batch_vectors)));
    v.push_back(unsigned_key("caps.max_batch_bytes", "bytes of one vectors record", IVF_FIELD(caps.max_batch_bytes)));
    v.push_back(unsigned_key("engine.partition_actors", "partition actors sharing the inverted lists", IVF_FIELD(engine.partition_actors)));
    v.push_back(string_key("engine.data_dir", "directory of checkpoints, list files and vector store", IVF_FIELD(engine.data_dir)));
    v.push_back(unsigned_key("engine.checkpoint_interval_ms", "checkpoint at least this often, ms (0 = not by time)", IVF_FIELD(engine.checkpoint_interval_ms)));
    v.push_back(unsigned_key("engine.checkpoint_interval_records", "checkpoint after this many records (0 = not by count)", IVF_FIELD(engine.checkpoint_interval_records)));
    v.push_back(unsigned_key("engine.query_deadline_ms", "default relative deadline of a query, ms", IVF_FIELD(engine.query_deadline_ms)));
    v.push_back(unsigned_key("engine.train_after", "train the first codebooks after this many vectors", IVF_FIELD(engine.train_after)));
    v.push_back(unsigned_key("engine.max_pending_vectors", "pause the vectors consumer above this backlog", IVF_FIELD(engine.max_pending_vectors)));
    v.push_back(bool_key("retrain.enabled", "continuous retraining: reservoir, drift, retrain and hot swap", IVF_FIELD(retrain.enabled)));
    v.push_back(unsigned_key("retrain.reservoir_size", "vectors in the reservoir sample the trainer trains on (1000..10000000)", IVF_FIELD(retrain.reservoir_size)));
    v.push_back(unsigned_key("retrain.every_inserts", "retrain after this many inserts (0 = not by count)", IVF_FIELD(retrain.every_inserts)));
    v.push_back(unsigned_key("retrain.every_ms", "retrain this often, ms (0 = not by time)", IVF_FIELD(retrain.every_ms)));
    v.push_back(number_key("retrain.drift_threshold", "retrain when recent quantisation error / error at the last training >= this (0 = off)", IVF_FIELD(retrain.drift_threshold)));
    v.push_back(unsigned_key("retrain.error_window", "recent measured inserts averaged for drift (10..1000000)", IVF_FIELD(retrain.error_window)));
    v.push_back(bool_key("retrain.refresh_centroids", "a retrain also refreshes the IVF centroids (vectors move between lists in the swap); false: only the PQ codebooks", IVF_FIELD(retrain.refresh_centroids)));
    v.push_back(unsigned_key("retrain.background_nice", "nice of the training and re-encoding threads (0..19; 0 = same as queries, 19 = lowest, on Linux also SCHED_IDLE)", IVF_FIELD(retrain.background_nice)));
    v.push_back(bool_key("retrain.rebalance", "split lists above rebalance_split x and merge lists below rebalance_merge x the mean list size (a hot swap moves the entries)", IVF_FIELD(retrain.rebalance)));
    v.push_back(number_key("retrain.rebalance_split", "split a list holding more than this x the mean list size (> 1)", IVF_FIELD(retrain.rebalance_split)));
    v.push_back(number_key("retrain.rebalance_merge", "merge a list holding fewer than this x the mean list size (0 <= it < rebalance_split / 4)", IVF_FIELD(retrain.rebalance_merge)));
    v.push_back(unsigned_key("retrain.rebalance_check_ms", "how often the list sizes are read, ms (10..3600000)", IVF_FIELD(retrain.rebalance_check_ms)));
    v.push_back(unsigned_key("retrain.error_sample_every", "measure the quantisation error of every k-th insert (1..1000000)", IVF_FIELD(retrain.error_sample_every)));
    v.push_back(bool_key("peers.enabled", "scale-out search: publish this node's shard search and scatter searches to peers.nodes", IVF_FIELD(peers.enabled)));
    v.push_back(string_key("peers.bind", "address the peer port binds to (loopback unless configured)", IVF_FIELD(peers.bind)));
    v.push_back(unsigned_key("peers.port", "peer port (0 = any free port)", IVF_FIELD(peers.port)));
    v.push_back(string_list_key("peers.nodes", "the other nodes, host:port ([ipv6]:port); this node's own entry is skipped", IVF_FIELD(peers.nodes)));
    v.push_back(bool_key("peers.distributed_training", "train codebooks on every connected node's sample, not the training node's alone", IVF_FIELD(peers.distributed_training)));
    v.push_back(unsigned_key("peers.failover_ms", "a training node down for longer than this (ms) hands training to the next node up (100..600000)", IVF_FIELD(peers.failover_ms)));
    v.push_back(bool_key("peers.tls", "mutual TLS on the peer links (needs tls_certificate, tls_key and tls_cafile or tls_capath)", IVF_FIELD(peers.tls)));
    v.push_back(string_key("peers.tls_certificate", "PEM certificate (chain) this node presents to its peers", IVF_FIELD(peers.tls_certificate)));
    v.push_back(string_key("peers.tls_key", "PEM private key of peers.tls_certificate", IVF_FIELD(peers.tls_key)));
    v.push_back(string_key("peers.tls_key_passphrase", "passphrase of an encrypted peers.tls_key (empty = none)", IVF_FIELD(peers.tls_key_passphrase)));
    v.push_back(string_key("peers.tls_cafile", "PEM file of the CA(s) a peer's certificate must chain to", IVF_FIELD(peers.tls_cafile)));
    v.push_back(string_key("peers.tls_capath", "directory of CA certificates (c_rehash layout), instead of or beside tls_cafile", IVF_FIELD(peers.tls_capath)));
    return v;
  }();
  return entries;
}

#undef IVF_FIELD

const key_entry* find_key(std::string_view key) {
  for (const key_entry& e : registry()) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

error unknown_key(std::string_view key, std::string_view where) {
  const key_entry* best = nullptr;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  for (const key_entry& e : registry()) {
    // Only suggestions within distance 3 are shown, and the distance is at least the length
    // difference: skip the O(|key| · |e.key|) computation for keys of very different length.
    if (key.size() > e.key.size() + 3 || e.key.size() > key.size() + 3) continue;
    const std::size_t d = edit_distance(key, e.key);
    if (d < best_d) {
      best_d = d;
      best = &e;
    }
  }
  std::string msg = "unknown configuration key '" + std::string(key) + "'";
  if (!where.empty()) msg += " in " + std::string(where);
  if (best != nullptr && best_d <= 3) msg += ": did you mean '" + best->key + "'?";
  msg += " (librdkafka properties go under kafka.properties.)";
  return fail(errc::invalid_argument, msg);
}

std::string where_of(std::string_view source, const toml::node& n) {
  std::ostringstream os;
  os << source;
  if (n.source().begin.line != 0) os << ":" << n.source().begin.line;
  return os.str();
}

// kafka.properties may be written flat ("sasl.mechanism" = "PLAIN") or, because TOML dotted keys
// make tables, nested (sasl.mechanism = "PLAIN"): flatten either form to librdkafka's dotted names.
status collect_properties(service_config& c, const toml::table& table, const std::string& prefix,
                          std::string_view source) {
  for (const auto& [k, node] : table) {
    const std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      IVF_TRY(collect_properties(c, *sub, name, source));
    } else if (node.is_string()) {
      c.kafka.properties[name] = *node.value<std::string>();
    } else if (node.is_integer()) {
      c.kafka.properties[name] = std::to_string(*node.value<std::int64_t>());
    } else if (node.is_boolean()) {
      c.kafka.properties[name] = *node.value<bool>() ? "true" : "false";
    } else {
      return fail(errc::invalid_argument, "kafka.properties." + name + " (" + where_of(source, node) +
                                              "): expected a string, integer or boolean, got a " +
                                              toml_type_name(node));
    }
  }
  return {};
}

status apply_table(service_config& c, const toml::table& table, const std::string& prefix,
                   std::string_view source) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (key == "kafka.properties") {
      const toml::table* props = node.as_table();
      if (props == nullptr) {
        return fail(errc::invalid_argument, "kafka.properties (" + where_of(source, node) +
                                                "): expected a table of librdkafka properties");
      }
      IVF_TRY(collect_properties(c, *props, "", source));
      continue;
    }
    if (const key_entry* e = find_key(key)) {
      status s = e->set_toml(c, node);
      if (!s) return fail(s.error().code(), s.error().message() + " (" + where_of(source, node) + ")");
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      // A section is known if some key starts with "<key>.".
      const std::string dotted = key + ".";
      const bool known = std::any_of(registry().begin(), registry().end(), [&](const key_entry& e) {
        return e.key.compare(0, dotted.size(), dotted) == 0;
      });
      if (!known) return unknown_key(key, where_of(source, node));
      IVF_TRY(apply_table(c, *sub, key, source));
      continue;
    }
    return unknown_key(key, where_of(source, node));
  }
  return {};
}

}  // namespace

std::vector<config_key_info> config_keys() {
  const service_config defaults;
  std::vector<config_key_info> out;
  for (const key_entry& e : registry()) {
    std::string def = e.get_text(defaults);
    if (def.size() >= 2 && def.front() == '"') def = def.substr(1, def.size() - 2);  // strings and names
    if (e.type == "string list") def = "";  // every list key defaults to the empty list
    out.push_back({e.key, e.type, def, e.doc});
  }
  out.push_back({"kafka.properties.<name>", "string", "",
                 "any librdkafka property (security.protocol, sasl.*, ssl.*), applied to every client"});
  return out;
}

status set_config_value(service_config& config, std::string_view key, std::string_view value) {
  if (key.substr(0, k_properties_prefix.size()) == k_properties_prefix) {
    const std::string name(key.substr(k_properties_prefix.size()));
    if (name.empty()) return fail(errc::invalid_argument, "kafka.properties.: empty librdkafka property name");
    config.kafka.properties[name] = std::string(value);
    return {};
  }
  const key_entry* e = find_key(key);
  if (e == nullptr) return unknown_key(key, "");
  return e->set_text(config, value);
}

status apply_config_override(service_config& config, std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return fail(errc::invalid_argument, "--set '" + std::string(assignment.substr(0, assignment.find('='))) +
                                            "': must have the form key=value, e.g. index.num_bits=8");
  }
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  return set_config_value(config, trim(assignment.substr(0, eq)), trim(assignment.substr(eq + 1)));
}

status apply_toml_text(service_config& config, std::string_view toml_text, std::string_view source) {
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ":" << e.source().begin.column
       << ": not valid TOML: " << e.description();
    return fail(errc::invalid_argument, os.str());
  }
  return apply_table(config, table, "", source);
}

status apply_toml_file(service_config& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    if (e.source().begin.line == 0) {
      os << "config file '" << path << "': " << e.description();
      return fail(errc::io_error, os.str());
    }
    os << path << ":" << e.source().begin.line << ":" << e.source().begin.column
       << ": not valid TOML: " << e.description();
    return fail(errc::invalid_argument, os.str());
  }
  return apply_table(config, table, "", path);
}

std::string dump_config(const service_config& config) {
  std::ostringstream os;
  std::string section;
  for (const key_entry& e : registry()) {
    const std::size_t dot = e.key.rfind('.');
    const std::string sec = e.key.substr(0, dot);
    if (sec != section) {
      os << (section.empty() ? "" : "\n") << "[" << sec << "]\n";
      section = sec;
    }
    const std::string text = e.get_text(config);
    // A secret (peers.tls_key_passphrase) is masked like a secret librdkafka property; an unset one stays "".
    const bool mask = text != "\"\"" && is_secret_property(e.key);
    os << e.key.substr(dot + 1) << " = " << (mask ? quote("********") : text) << "\n";
  }
  if (!config.kafka.properties.empty()) {
    os << "\n[kafka.properties]\n";
    for (const auto& [k, v] : config.kafka.properties) {
      os << quote(k) << " = " << quote(masked_property_value(k, v)) << "\n";
    }
  }
  return os.str();
}

void add_config_options(CLI::App& app, config_cli_options& out) {
  app.add_option("--config", out.config_file, "TOML configuration file (see config_keys / README)")
      ->check(CLI::ExistingFile);
  app.add_option("--set", out.overrides,
                 "override one key, e.g. --set index.num_bits=8 --set kafka.properties.sasl.mechanism=PLAIN; "
                 "applied after the file and the flags, in order")
      ->type_name("KEY=VALUE")
      ->take_all()
      ->allow_extra_args(false);  // one KEY=VALUE per --set, so positionals after it stay positionals
  app.add_option("--brokers", out.brokers, "Kafka bootstrap servers host:port[,...] (disables the embedded broker)");
  app.add_flag("--embedded-broker", out.embedded_broker, "start librdkafka's mock cluster in-process");
  app.add_option("--data-dir", out.data_dir, "directory of checkpoints and index files");
}

result<service_config> load_service_config(const config_cli_options& options) {
  service_config config;
  if (!options.config_file.empty()) IVF_TRY(apply_toml_file(config, options.config_file));
  if (options.brokers) {
    config.kafka.brokers = *options.brokers;
    config.kafka.embedded_broker = false;
  }
  if (options.embedded_broker) {
    if (options.brokers) {
      return fail(errc::invalid_argument, "--brokers='" + *options.brokers +
                                              "' and --embedded-broker: give one of them, not both");
    }
    config.kafka.embedded_broker = true;
    config.kafka.brokers.clear();
  }
  if (options.data_dir) config.engine.data_dir = *options.data_dir;
  for (const std::string& o : options.overrides) IVF_TRY(apply_config_override(config, o));
  IVF_TRY(config.validate());
  return config;
}

}  // namespace ivfstream
