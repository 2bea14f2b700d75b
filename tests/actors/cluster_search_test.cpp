// Scale-out search over CAF remote actors on 127.0.0.1: several engines in one process, each with its
// own actor system and middleman (a node each), linked by actors/peer_service.hpp. Checks that three
// nodes holding a third of the data each answer exactly what one node holding all of it answers, and
// that a stopped, stalled or foreign node is reported (partial, missing_peers) within the deadline.
#define BOOST_TEST_MODULE cluster_search
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "actors/engine.hpp"
#include "actors/engine_impl.hpp"
#include "actors/peer_service.hpp"
#include "config/service_config.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 3000, num_nodes = 3;
// Generous: the suite must pass on a loaded 2-core machine and under ASan.
constexpr auto k_deadline = 20s;
constexpr auto k_connect = 30s;

index_params params() { return test::small_index_params(d); }

engine_options options(bool network) {
  engine_options o;
  o.partition_actors = 3;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.network = network;
  return o;
}

using test::check_same;

struct node {
  std::unique_ptr<engine> e;
  std::unique_ptr<peer_service> peers;
  std::uint16_t port = 0;
  void stop() {
    peers.reset();
    e.reset();
  }
};

// The data set and one engine holding all of it.
struct cluster_fixture {
  std::vector<float> x = test::clustered_data(n, d, 25, 11);
  std::vector<float> queries = test::clustered_data(20, d, 25, 12);
  std::unique_ptr<engine> single;
  std::vector<std::uint16_t> ports;
  std::vector<std::string> addresses;

  cluster_fixture() {
    single = test::open_engine(options(false));
    BOOST_REQUIRE(single->create_index(params(), x.data(), n));
    test::upsert_share(*single, x, d, 0, 1);
    for (std::size_t i = 0; i < num_nodes; ++i) {
      ports.push_back(test::free_loopback_port());
      addresses.push_back("127.0.0.1:" + std::to_string(ports.back()));
    }
  }

  // Node i: the same codebooks as `single` (same training set and seed), a third of the rows, and every
  // node's address in peers.nodes (its own is skipped).
  node start_node(std::size_t i, const std::vector<float>& training) {
    node nd;
    nd.e = test::open_engine(options(true));
    BOOST_REQUIRE(nd.e->create_index(params(), training.data(), n));
    test::upsert_share(*nd.e, x, d, i, num_nodes);
    peer_options po;
    po.port = ports[i];
    po.nodes = addresses;
    po.reconnect_interval = 100ms;
    auto ps = peer_service::start(*nd.e, po);
    BOOST_REQUIRE_MESSAGE(ps, (ps ? "" : ps.error().to_string()));
    nd.peers = std::move(*ps);
    nd.port = nd.peers->port();
    BOOST_REQUIRE_EQUAL(nd.port, ports[i]);
    return nd;
  }

  std::vector<node> start_cluster() {
    std::vector<node> nodes;
    for (std::size_t i = 0; i < num_nodes; ++i) nodes.push_back(start_node(i, x));
    for (auto& nd : nodes) BOOST_REQUIRE(nd.peers->wait_connected(num_nodes - 1, k_connect));
    return nodes;
  }

  std::vector<float> query(std::size_t i) const { return {queries.begin() + i * d, queries.begin() + (i + 1) * d}; }
  std::size_t num_queries() const { return queries.size() / d; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(peer_port_binds_loopback_unless_configured) {
  BOOST_TEST(peer_options{}.bind == "127.0.0.1");
  BOOST_TEST(service_config{}.peers.bind == "127.0.0.1");
  BOOST_TEST(!service_config{}.peers.enabled);
  BOOST_TEST(peer_options::from(service_config{}).bind == "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(a_peer_service_needs_a_networked_engine) {
  auto e = engine::open(options(false));
  BOOST_REQUIRE(e);
  auto ps = peer_service::start(**e, peer_options{});
  BOOST_REQUIRE(!ps);
  BOOST_TEST(ps.error().code() == errc::invalid_argument);
  BOOST_TEST(ps.error().message().find("network") != std::string::npos, ps.error().message());
}

BOOST_AUTO_TEST_CASE(bad_node_addresses_are_refused_with_their_text) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":7000", "::1:7000", "[::1]7000", "h:7x"}) {
    peer_options po;
    po.nodes = {bad};
    auto st = po.validate();
    BOOST_REQUIRE_MESSAGE(!st, bad);
    BOOST_TEST(st.error().message().find(bad) != std::string::npos, st.error().message());
  }
  auto ok = parse_peer_address("[::1]:7001");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->host == "::1");
  BOOST_TEST(ok->port == 7001);
}

BOOST_AUTO_TEST_CASE(three_nodes_answer_what_one_node_holding_all_the_data_answers) {
  cluster_fixture f;
  auto nodes = f.start_cluster();
  for (std::size_t i = 0; i < f.num_queries(); ++i) {
    const auto q = f.query(i);
    for (std::size_t refine : {0u, 3u}) {
      const search_params sp{10, 6, refine};
      auto want = f.single->search(q).nprobes(sp.nprobes).limit(sp.limit).refine_factor(refine).deadline(
          std::chrono::duration_cast<std::chrono::milliseconds>(k_deadline)).to_list();
      BOOST_REQUIRE_MESSAGE(want, (want ? "" : want.error().to_string()));
      BOOST_REQUIRE(!want->partial);
      // Any node may coordinate.
      auto& coordinator = nodes[i % num_nodes];
      auto got = coordinator.peers->search(q, sp, std::chrono::duration_cast<std::chrono::milliseconds>(k_deadline));
      BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
      BOOST_TEST(!got->partial);
      BOOST_TEST(got->missing_peers.empty());
      BOOST_TEST(got->codebook_version == want->codebook_version);
      check_same(got->hits, want->hits);
    }
  }
  // A batch is answered as one message per node, with the same results.
  const search_params sp{10, 6, 2};
  auto batch = nodes[1].peers->search_batch(f.queries, d, sp, std::chrono::duration_cast<std::chrono::milliseconds>(k_deadline));
  BOOST_REQUIRE_MESSAGE(batch, (batch ? "" : batch.error().to_string()));
  BOOST_REQUIRE_EQUAL(batch->size(), f.num_queries());
  for (std::size_t i = 0; i < f.num_queries(); ++i) {
    auto want = f.single->search(f.query(i)).nprobes(6).limit(10).refine_factor(2).to_list();
    BOOST_REQUIRE(want);
    BOOST_TEST(!(*batch)[i].partial);
    check_same((*batch)[i].hits, want->hits);
  }
  auto stats = nodes[1].peers->stats();
  BOOST_REQUIRE(stats);
  BOOST_TEST(stats->partial_queries == 0u);
  BOOST_REQUIRE_EQUAL(stats->peers.size(), num_nodes - 1);  // its own address was skipped
  for (const auto& p : stats->peers) BOOST_TEST(p.connected);
}

BOOST_AUTO_TEST_CASE(a_stopped_node_is_reported_partial_and_a_restarted_one_rejoins) {
  cluster_fixture f;
  auto nodes = f.start_cluster();
  const std::string gone = f.addresses[2];
  nodes[2].stop();
  const search_params sp{10, 6, 0};
  const auto deadline = 3000ms;
  for (std::size_t i = 0; i < f.num_queries(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto got = nodes[i % 2].peers->search(f.query(i), sp, deadline);
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
    BOOST_TEST(got->partial);
    BOOST_REQUIRE_EQUAL(got->missing_peers.size(), 1u);
    BOOST_TEST(got->missing_peers[0] == gone);
    BOOST_TEST(got->missing_partitions.empty());
    BOOST_TEST(!got->hits.empty());
    for (const auto& h : got->hits) BOOST_TEST(h.id % num_nodes != 2u, "hit " << h.id << " lives on the stopped node");
    // Never held past the deadline (plus scheduling slack on a loaded machine).
    BOOST_TEST((took < deadline + 2s));
  }
  auto stats = nodes[0].peers->stats();
  BOOST_REQUIRE(stats);
  for (const auto& p : stats->peers)
    if (p.name == gone) {
      BOOST_TEST(!p.connected);
      BOOST_TEST(p.misses > 0u);
      BOOST_TEST(!p.last_error.empty());
    }

  // The node comes back on the same port with its data: the others reconnect, results are whole again.
  nodes[2] = f.start_node(2, f.x);
  for (auto& nd : nodes) BOOST_REQUIRE(nd.peers->wait_connected(num_nodes - 1, k_connect));
  for (std::size_t i = 0; i < f.num_queries(); ++i) {
    auto want = f.single->search(f.query(i)).nprobes(6).limit(10).to_list();
    BOOST_REQUIRE(want);
    auto got = nodes[0].peers->search(f.query(i), sp, std::chrono::duration_cast<std::chrono::milliseconds>(k_deadline));
    BOOST_REQUIRE(got);
    BOOST_TEST(!got->partial);
    check_same(got->hits, want->hits);
  }
}

BOOST_AUTO_TEST_CASE(a_stalled_node_is_reported_partial_at_the_deadline) {
  cluster_fixture f;
  auto nodes = f.start_cluster();
  // Every partition of node 1 stalls for 6 s, as an overloaded node would. The stall is sent urgent,
  // as scans are (shard_search.cpp), so it is ahead of the scans in the same queue (a normal-priority
  // one can be overtaken by them). The other nodes have 3 s to answer: generous on a loaded machine or
  // under ASan; an answer within deadline + 2 s is still well before the stall ends.
  for (const auto& p : nodes[1].e->internals().partitions)
    caf::anon_send<caf::message_priority::high>(p, actors::delay_atom::value, std::uint32_t{6000});
  const auto deadline = 3000ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto got = nodes[0].peers->search(f.query(0), search_params{10, 16, 0}, deadline);
  const auto took = std::chrono::steady_clock::now() - t0;
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
  BOOST_TEST(got->partial);
  BOOST_REQUIRE_EQUAL(got->missing_peers.size(), 1u);
  BOOST_TEST(got->missing_peers[0] == f.addresses[1]);
  for (const auto& h : got->hits) BOOST_TEST(h.id % num_nodes != 1u);
  BOOST_TEST((took < deadline + 2s));
}

BOOST_AUTO_TEST_CASE(a_node_on_other_codebooks_is_left_out) {
  cluster_fixture f;
  std::vector<node> nodes;
  nodes.push_back(f.start_node(0, f.x));
  nodes.push_back(f.start_node(1, f.x));
  // Node 2 trained on other data: its codebooks are also "version 1", but not the same.
  const auto other = test::clustered_data(n, d, 25, 99);
  nodes.push_back(f.start_node(2, other));
  for (auto& nd : nodes) BOOST_REQUIRE(nd.peers->wait_connected(num_nodes - 1, k_connect));
  auto got = nodes[0].peers->search(f.query(0), search_params{10, 6, 0},
                                    std::chrono::duration_cast<std::chrono::milliseconds>(k_deadline));
  BOOST_REQUIRE(got);
  BOOST_TEST(got->partial);
  BOOST_REQUIRE_EQUAL(got->missing_peers.size(), 1u);
  BOOST_TEST(got->missing_peers[0] == f.addresses[2]);
  auto stats = nodes[0].peers->stats();
  BOOST_REQUIRE(stats);
  bool seen = false;
  for (const auto& p : stats->peers)
    if (p.name == f.addresses[2]) {
      seen = true;
      BOOST_TEST(p.last_error.find("version_mismatch") != std::string::npos, p.last_error);
    }
  BOOST_TEST(seen);
}

BOOST_AUTO_TEST_CASE(a_second_node_cannot_take_a_port_in_use) {
  cluster_fixture f;
  node first = f.start_node(0, f.x);
  auto e = engine::open(options(true));
  BOOST_REQUIRE(e);
  peer_options po;
  po.port = first.port;
  auto ps = peer_service::start(**e, po);
  BOOST_REQUIRE(!ps);
  BOOST_TEST(ps.error().code() == errc::unavailable);
  BOOST_TEST(ps.error().message().find(std::to_string(first.port)) != std::string::npos, ps.error().message());
}
