#pragma once
// cluster_search: the coordinator of a scale-out search. Any node runs one; it speaks the query_actor
// protocol, so the embedded API (peer_service::search) and the query-topic responder use it as they
// would a query actor. For each search (or batch) it
//   1. reads the codebooks the node's own queries are planned with (a local query actor),
//   2. asks its own shard (shard_search.hpp, in-process) and every peer (CAF remote actor, FlatBuffers
//      PeerSearchRequest carrying the codebooks' version and fingerprint) for their candidates, all
//      with the query's deadline as the request timeout,
//   3. merges per query with one query_gather over the shards — each shard's k' best by ADC distance,
//      exact distances attached when refining — and finishes (dedupe, k' by ADC, refine, cut to k).
// Because each shard returns its own k' best under the same total order (ADC distance, then id), the
// merged k' equal those of one node holding all the data, so N nodes with the same codebooks answer
// exactly what that node would (tests/actors/cluster_search_test.cpp).
//
// A peer that is not connected, misses the deadline, fails, or serves other codebooks is left out and
// named in search_response::missing_peers (partial = true); one whose own partitions missed the
// deadline is named too. Nothing waits past the deadline. Exception (a takeover): when the shards that
// answered, this node's included, report between them every partition of the vectors topic
// (actors/shard_coverage.hpp), the peers left out held nothing that is missing; they are not named and
// do not make the answer partial. Peer links are made through CAF's middleman (its OpenSSL one with
// setup.tls) asynchronously, watched (down_msg), and remade every reconnect_interval while down.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/peer_codec.hpp"
#include "actors/query_actor.hpp"
#include "actors/shard_search.hpp"

namespace ivfstream::actors {

/// A peer node's published shard search.
struct peer_address {
  std::string host;         ///< IP address or host name
  std::uint16_t port = 0;
  std::string name() const { return host + ":" + std::to_string(port); }
};

/// One peer link as the coordinator sees it.
struct peer_link_status {
  std::string name;           ///< host:port
  bool connected = false;
  std::uint64_t misses = 0;   ///< searches this peer was left out of (down, late, error)
  std::string last_error;     ///< why it was last left out or could not connect, "" if never
};

/// Counters of a coordinator.
struct cluster_stats {
  std::uint64_t queries = 0;          ///< query vectors answered
  std::uint64_t partial_queries = 0;  ///< of which partial (a peer or local partition missing)
  std::vector<peer_link_status> peers;
};

/// The peers a node can reach now (links_atom), for distributed training: connected ones by name and
/// handle, in peers.nodes order; the others by name with why they are down.
struct peer_links {
  std::vector<std::string> names;
  std::vector<peer_search_actor> handles;
  std::vector<peer_address> addresses;  ///< the connected peers, as addresses
  std::vector<std::string> down;  ///< "host:port: reason"
  std::vector<peer_address> down_addresses;  ///< the same peers, as addresses
  std::vector<std::chrono::milliseconds> down_for;  ///< how long each has been down (since the coordinator
                                                    ///< started, for one never connected)
  std::vector<bool> never_connected;                ///< each: not connected once since the coordinator started
};

/// The coordinator: the query_actor protocol plus link management and counters.
using cluster_search_actor = query_actor::extend<
    /// (Re)connect peer i if it is not connected (sent to itself).
    caf::reacts_to<peer_link_atom, std::uint32_t>,
    /// TLS: a peer that dialed this node introduces its peer search (forwarded by the local shard).
    caf::reacts_to<peer_hello_atom, caf::strong_actor_ptr, std::string>,
    /// Counters and link states.
    caf::replies_to<stats_atom>::with<cluster_stats>,
    /// The peers connected now (distributed training, actors/cluster_trainer.hpp).
    caf::replies_to<links_atom>::with<peer_links>>;

/// Everything a coordinator needs.
struct cluster_search_setup {
  shard_search_actor local;         ///< this node's shard
  query_actor codebook_source;      ///< a local query actor: the codebooks searches are planned with
  std::vector<peer_address> peers;  ///< the other nodes (not this one)
  peer_limits limits;               ///< bounds on peer replies
  std::chrono::milliseconds reconnect_interval{500};  ///< retry period of a link that is down
  std::chrono::milliseconds connect_timeout{5000};    ///< one connection attempt at most
  /// Connect through CAF's OpenSSL middleman (actors/peer_tls.hpp; the module must be loaded) instead of
  /// the plain one. Then there is one connection per pair of nodes: of two nodes, the one whose
  /// address (`self`) sorts first (host, then port) dials and sends peer_hello with its own peer search;
  /// the other never dials it and searches it over that connection. (Plain links: each node dials
  /// every peer. Over CAF 0.17.6's OpenSSL module, a second connection between two nodes — each
  /// dialing the other — breaks both, so TLS cannot do that.)
  bool tls = false;
  /// With tls: this node's own entry of peers.nodes, as the peers name it.
  peer_address self;
};

struct cluster_link {
  peer_address address;
  peer_search_actor handle;  ///< null while not connected
  bool dials = true;         ///< false (TLS, the peer's address sorts first): wait for its peer_hello
  bool connecting = false;
  peer_link_status status;
  /// When the link was last lost (or the coordinator started, for a link never up).
  std::chrono::steady_clock::time_point down_since = std::chrono::steady_clock::now();
  bool ever_connected = false;
};

struct cluster_search_state {
  cluster_search_setup setup;
  std::vector<cluster_link> links;
  cluster_stats stats;
  std::shared_ptr<const codebook_set> fingerprinted;  ///< fingerprint cache (shard_search.hpp identify)
  std::uint64_t fingerprint = 0;
  static inline const char* name = "ivfstream.cluster_search";
};

/// Spawnable behaviour. Needs the middleman (caf::io) loaded in the actor system when there are peers.
cluster_search_actor::behavior_type cluster_search(cluster_search_actor::stateful_pointer<cluster_search_state> self,
                                                   cluster_search_setup setup);

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::cluster_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::peer_links)
