#pragma once
// peer_service: makes an engine one node of a scale-out cluster ([peers] in config/README.md).
//   - publishes this node's shard search (actors/shard_search.hpp) as a typed CAF remote actor on
//     peers.bind:peers.port — 127.0.0.1 unless configured, so nothing is reachable from another host
//     by default;
//   - runs the coordinator (actors/cluster_search.hpp) that scatters a search to the peers named in
//     peers.nodes plus this node's own partitions and merges top-k; a peer that is down or late is
//     reported in the answer (partial, missing_peers), never waited on past the deadline.
// The links are plain TCP unless the engine was opened with engine_options::peer_tls (mutual TLS,
// actors/peer_tls.hpp; one connection per pair of nodes, see actors/cluster_search.hpp).
// Messages on the wire are FlatBuffers bytes (schemas/peer.fbs). Codebooks: every node must serve the
// same version with the same contents (checked per request by version and fingerprint,
// actors/peer_codec.hpp); a node on other codebooks answers version_mismatch and is left out.
//
//   engine_options eo;  eo.network = true;       // loads CAF's middleman
//   auto e = engine::open(eo);
//   peer_options po;  po.port = 7401;  po.nodes = {"127.0.0.1:7402", "127.0.0.1:7403"};
//   auto peers = peer_service::start(**e, po);
//   auto r = (*peers)->search(q, params, deadline);  // whole cluster; r->partial, r->missing_peers
//
// Distributed training (on by default, peer_options::distributed_training): the engine trains through
// actors/cluster_trainer.hpp, and this node answers its peers' training statistics from its sample.
//
// Thread-safety: every member may be called from any thread; destroy before the engine.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/cluster_search.hpp"
#include "actors/cluster_trainer.hpp"
#include "actors/engine.hpp"
#include "actors/query_actor.hpp"
#include "actors/shard_search.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream {

struct service_config;

/// Where a node listens and who its peers are ([peers]).
struct peer_options {
  std::string bind = "127.0.0.1";  ///< address the peer port binds to ("0.0.0.0" = every interface)
  std::uint16_t port = 0;          ///< 0 = any free port (port() tells which)
  bool publish = true;             ///< false: search the peers without serving this node to them
  /// The other nodes, "host:port" (IPv6 as "[addr]:port"). An entry equal to this node's own
  /// bind:port is skipped, so every node may be given the same list.
  std::vector<std::string> nodes;
  std::chrono::milliseconds reconnect_interval{500};  ///< retry period of a link that is down
  /// Train codebooks on every connected node's sample (actors/cluster_trainer.hpp) instead of this
  /// node's alone, whenever this engine trains (first training and every retrain).
  bool distributed_training = true;
  actors::distributed_training_options training;

  /// peers.bind, peers.port, peers.nodes, peers.distributed_training of a service configuration.
  static peer_options from(const service_config& cfg);
  /// Checks bind and every node address (message names the value).
  status validate() const;
};


/// Parses "host:port" or "[ipv6]:port" (port 1..65535). Errors name the text and the expected form.
result<actors::peer_address> parse_peer_address(const std::string& text);

/// One node's peer links (see the file comment).
class peer_service {
public:
  /// Publishes and starts the coordinator. @pre `e` was opened with engine_options::network = true
  /// (else invalid_argument); `e` outlives the service. Errors: invalid options, port in use
  /// (unavailable, naming bind:port).
  static result<std::unique_ptr<peer_service>> start(engine& e, const peer_options& options);
  /// Unpublishes the port and stops the actors.
  ~peer_service();
  peer_service(const peer_service&) = delete;
  peer_service& operator=(const peer_service&) = delete;

  /// The port the shard search is published on (0 when publish = false).
  std::uint16_t port() const noexcept { return port_; }
  /// The coordinator as a query actor (e.g. for the query topic: kafka_service::start).
  actors::query_actor searcher() const { return coordinator_; }

  /// One query over the whole cluster; admitted against the engine's [caps] like engine::search.
  result<search_result> search(const std::vector<float>& q, const search_params& params,
                               std::chrono::milliseconds deadline) const;
  /// nq queries (nq × d floats) with the same parameters, answered as one batch per node.
  result<std::vector<search_result>> search_batch(const std::vector<float>& queries, std::size_t dimension,
                                                  const search_params& params,
                                                  std::chrono::milliseconds deadline) const;
  /// Counters and the state of each peer link.
  result<actors::cluster_stats> stats() const;
  /// Who trains now (leader failover, actors/leadership.hpp): true when this node's own address (its
  /// entry of peers.nodes, else bind:port) sorts
  /// first (host, then port) among itself, the peers connected now and the peers down for less than
  /// `grace` (a link that drops briefly moves nothing; a peer not connected once since this service
  /// started counts as up for its first max(grace, 10 s): it may be starting too). True when the port is 0 (not comparable). Errors: the coordinator did not answer.
  result<bool> trains_now(std::chrono::milliseconds grace) const;
  /// What the distributed trainings of this engine did (all zero without distributed_training).
  actors::distributed_training_report training_report() const;
  /// Waits until `n` peers are connected or `timeout` passes; true when they are.
  bool wait_connected(std::size_t n, std::chrono::milliseconds timeout) const;

private:
  peer_service() = default;
  engine* engine_ = nullptr;
  std::string self_host_;  ///< this node's host as its peers name it (trains_now)
  std::uint16_t port_ = 0;
  actors::shard_search_actor shard_;
  actors::cluster_search_actor coordinator_;
  std::shared_ptr<actors::cluster_trainer> trainer_;  ///< null without distributed_training
};

}  // namespace ivfstream
