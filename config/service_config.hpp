#pragma once
// The typed configuration of an ivfstream service (serve, demo, load, query, inspect) and of the
// embedded engine. Loaded from a TOML file plus command-line overrides by config/config_loader.hpp;
// every key is listed, typed and documented there (config_keys()). Defaults suit the embedded demo.
// Plain value types: copy freely; not synchronised.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream {

/// Topic names ([kafka.topics]).
struct kafka_topics_config {
  std::string vectors = "ivfstream.vectors";        ///< upsert/delete records (VectorRecord)
  std::string queries = "ivfstream.queries";        ///< query requests (QueryRequest)
  std::string replies = "ivfstream.replies";        ///< reply topic used by the CLI's own queries
  std::string dead_letter = "ivfstream.dead_letter";///< rejected records (DeadLetter)
  std::string codebooks = "ivfstream.codebooks";    ///< compacted codebook versions
};

/// Kafka clients ([kafka]).
struct kafka_config {
  std::string brokers;                  ///< bootstrap.servers "host:port,..."; empty iff embedded_broker
  bool embedded_broker = true;          ///< start librdkafka's mock cluster in-process
  std::uint32_t embedded_broker_count = 1;  ///< mock brokers, 1..16
  /// Partitions of each topic the embedded broker creates, 1..1024. The mock broker keeps only the
  /// newest ~5 MB per partition, so 32 hold 200k 128-d vectors (connectors/embedded_broker.hpp).
  std::uint32_t topic_partitions = 32;
  std::string group_id = "ivfstream";   ///< consumer group of the ingest/query consumers
  std::string client_id = "ivfstream";  ///< client.id of every client
  std::uint32_t session_timeout_ms = 10000;  ///< consumer group session timeout, 1000..3600000
  /// Scale-out (issue 6): the ingest consumer joins group_id + ".ingest" on the vectors topic and indexes
  /// only the partitions the group assigns to this node (false: every partition, fixed assignment).
  bool group_ingest = false;
  /// Consumer group of the queries-topic consumer (empty = group_id + ".queries"). With peers.enabled
  /// the nodes of one cluster share the topic's partitions through it, so each request is taken by
  /// exactly one node, which scatters it over the peers and replies once; a single node (peers off)
  /// reads every partition and uses the group only for its committed offsets.
  std::string query_group;
  /// Request/reply path. fetch.wait.max.ms of the service's queries-topic consumer: the embedded (mock)
  /// broker holds every fetch that finds nothing this long, even when a record arrives meanwhile, so it
  /// is the floor of the request hop; 0 answers at once but keeps fetching (~1/3 core while idle).
  std::uint32_t query_fetch_wait_ms = 1;
  /// fetch.wait.max.ms of a query client's reply consumer (demo, `ivfstream query`, query_client): the
  /// floor of the reply hop on the mock broker; 0 answers at once but keeps fetching while the client lives.
  std::uint32_t reply_fetch_wait_ms = 1;
  /// linger.ms of the query-request and reply producers (0 = send each record at once).
  std::uint32_t query_linger_ms = 0;
  kafka_topics_config topics;
  /// librdkafka properties applied verbatim to every client (security.protocol, sasl.*, ssl.*, ...),
  /// after ivfstream's own settings so they win. Secret values are masked in every dump and error.
  std::map<std::string, std::string> properties;
};

/// Limits on what one request may cost ([caps]); a request over a cap gets an error reply.
struct caps_config {
  std::uint32_t max_k = 1000;                    ///< largest k (limit)
  std::uint32_t max_nprobes = 4096;              ///< largest nprobes
  std::uint32_t max_refine_factor = 100;         ///< largest refine_factor
  std::uint32_t max_vectors_per_request = 1024;  ///< query vectors per QueryRequest
  std::uint64_t max_request_bytes = 4u << 20;    ///< bytes of one QueryRequest
  std::uint32_t max_inflight_queries = 1024;     ///< queries being answered at once
  std::uint64_t max_batch_vectors = 100000;      ///< ids per upsert/delete record
  std::uint64_t max_batch_bytes = 64u << 20;     ///< bytes of one vectors record
};

/// The streaming engine ([engine]).
struct engine_config {
  std::uint32_t partition_actors = 4;              ///< partition actors that share the inverted lists, 1..1024
  std::string data_dir = "ivfstream-data";         ///< checkpoints, list files, vector store
  std::uint64_t checkpoint_interval_ms = 5000;     ///< checkpoint at least this often (0 = never by time)
  std::uint64_t checkpoint_interval_records = 100000;  ///< ... or after this many records (0 = never by count)
  std::uint32_t query_deadline_ms = 1000;          ///< default relative deadline of a query, ≥ 1
  std::uint64_t train_after = 20000;               ///< train the first codebooks after this many vectors, ≥ 1
  std::uint64_t max_pending_vectors = 500000;      ///< pause the vectors consumer above this backlog, ≥ 1
};

/// Continuous retraining and hot swap ([retrain]; actors/swap_protocol.hpp). Off by default.
struct retrain_config {
  bool enabled = false;                  ///< keep a reservoir, track drift, retrain and hot-swap
  std::uint64_t reservoir_size = 20000;  ///< vectors in the reservoir sample, 1000..10000000
  std::uint64_t every_inserts = 0;       ///< retrain after this many inserts (0 = not by count)
  std::uint64_t every_ms = 0;            ///< retrain this often, ms (0 = not by time)
  double drift_threshold = 1.5;          ///< retrain when recent error / error at training >= this (0 = off; else >= 1)
  std::uint64_t error_window = 1000;     ///< recent measured inserts averaged for drift, 10..1000000
  std::uint64_t error_sample_every = 4;  ///< measure the quantisation error of every k-th insert, 1..1000000
  bool refresh_centroids = true;         ///< also retrain the IVF centroids (vectors then move between lists)
  std::uint64_t background_nice = 19;    ///< nice of the training / re-encoding threads, 0..19 (19: also SCHED_IDLE)
  bool rebalance = false;                ///< split / merge lists outside [rebalance_merge, rebalance_split] × mean
  double rebalance_split = 4.0;          ///< split a list above this × the mean list size (> 1)
  double rebalance_merge = 0.25;         ///< merge a list below this × the mean (0 ≤ it < rebalance_split / 4)
  std::uint64_t rebalance_check_ms = 1000;  ///< how often the list sizes are read, ms (10..3600000)
};

/// Scale-out search over peer nodes ([peers]; actors/peer_service.hpp). Off by default.
struct peers_config {
  bool enabled = false;            ///< publish this node's shard search, scatter searches to `nodes`
  std::string bind = "127.0.0.1";  ///< address the peer port binds to: loopback unless configured
  std::uint32_t port = 7400;       ///< peer port, 0..65535 (0 = any free port, printed at start)
  /// The other nodes, "host:port" ("[ipv6]:port"); an entry equal to this node's bind:port is skipped.
  std::vector<std::string> nodes;
  /// The training node trains on every connected node's sample (k-means statistics per iteration,
  /// actors/cluster_trainer.hpp); the others keep a reservoir sample for it (retrain.reservoir_size).
  bool distributed_training = true;
  /// Leader failover (actors/leadership.hpp): a lower-sorted node down for longer than this, ms, no
  /// longer trains; the next node up takes over (100..600000).
  std::uint32_t failover_ms = 3000;
  /// Mutual TLS on the peer links (actors/peer_tls.hpp): every node presents tls_certificate/tls_key
  /// and accepts only peers whose certificate chains to tls_cafile/tls_capath. Off: plain TCP.
  bool tls = false;
  std::string tls_certificate;     ///< PEM certificate (chain) of this node
  std::string tls_key;             ///< PEM private key of this node
  std::string tls_key_passphrase;  ///< passphrase of an encrypted tls_key ("" = none)
  std::string tls_cafile;          ///< PEM file of the cluster CA(s)
  std::string tls_capath;          ///< or a directory of CA certificates (c_rehash layout)
};

/// Everything a service needs. Build with config_loader.hpp, then call validate().
struct service_config {
  kafka_config kafka;
  index_params index;        ///< [index]: metric, dimension, num_partitions, num_sub_vectors, num_bits, ...
  search_params search;      ///< [search]: default nprobes, limit, refine_factor
  caps_config caps;
  engine_config engine;
  retrain_config retrain;
  peers_config peers;

  service_config();
  /// Checks every value and the relations between them (search defaults within caps, brokers vs
  /// embedded_broker, topic names, ...). The message names the key, the value and what is allowed.
  status validate() const;
};

/// Parses "host:port" or "[ipv6]:port" with port 1..65535 into (host, port). Errors
/// (invalid_argument) name the text and the expected form.
result<std::pair<std::string, std::uint16_t>> parse_host_port(std::string_view text);

/// True for librdkafka properties whose values are secrets (passwords, private keys, OAuth secrets).
bool is_secret_property(std::string_view key) noexcept;
/// `value`, or "********" if `key` is a secret property.
std::string masked_property_value(std::string_view key, std::string_view value);

}  // namespace ivfstream
