// Leader failover (actors/leadership.hpp): three nodes in one process on the embedded broker, each with
// its peer links, codebooks-topic sync and leadership. The node whose address sorts first trains and
// publishes; when it stops, the next one takes over after the grace period and its retrains reach the
// others; when the first node comes back it catches up with the topic and takes training back.
#define BOOST_TEST_MODULE leadership
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "actors/codebook_topic.hpp"
#include "actors/engine.hpp"
#include "actors/leadership.hpp"
#include "actors/peer_codec.hpp"
#include "actors/peer_service.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, num_nodes = 3;
constexpr auto k_wait = 90s;  // generous: a loaded 2-core machine, ASan

index_params params() { return test::small_index_params(d); }

service_config make_config() {
  service_config c;
  c.kafka.topic_partitions = 2;
  c.index = params();
  c.engine.data_dir = "unused";
  return c;
}

actors::retrain_policy leader_retrain() {
  actors::retrain_policy p;
  p.enabled = true;
  p.reservoir_size = 10000;
  p.every_inserts = 400;  // a leader retrains after 400 inserts
  p.drift_threshold = 0;
  p.background_nice = 0;
  return p;
}

struct node {
  std::string name;
  std::unique_ptr<engine> e;
  std::unique_ptr<peer_service> peers;
  std::unique_ptr<codebook_sync> books;
  std::unique_ptr<leadership> lead;

  void stop() {
    lead.reset();
    books.reset();
    peers.reset();
    e.reset();
  }
  std::uint64_t version() const {
    auto cb = e->codebooks();
    return cb && *cb ? (*cb)->version() : 0;
  }
  std::uint64_t fingerprint() const {
    auto cb = e->codebooks();
    return cb && *cb ? actors::codebook_fingerprint(**cb) : 0;
  }
};

struct cluster {
  service_config cfg = make_config();
  std::unique_ptr<connectors::embedded_broker> broker;
  std::string bootstrap;
  std::vector<std::uint16_t> ports;
  std::vector<std::string> addresses;
  std::vector<node> nodes;
  std::uint64_t next_id = 0;

  cluster() {
    auto b = connectors::embedded_broker::start(cfg);
    BOOST_REQUIRE_MESSAGE(b, (b ? "" : b.error().to_string()));
    broker = std::move(*b);
    bootstrap = broker->bootstrap_servers();
    while (ports.size() < num_nodes) {
      const auto p = test::free_loopback_port();
      if (std::find(ports.begin(), ports.end(), p) == ports.end()) ports.push_back(p);
    }
    std::sort(ports.begin(), ports.end());  // node 0 sorts first
    for (auto p : ports) addresses.push_back("127.0.0.1:" + std::to_string(p));
    for (std::size_t i = 0; i < num_nodes; ++i) nodes.push_back(start(i));
  }

  node start(std::size_t i) {
    node nd;
    nd.name = addresses[i];
    engine_options o;
    o.partition_actors = 2;
    o.query_actors = 1;
    o.scheduler_threads = 2;
    o.network = true;
    o.train_after = leadership::k_never;
    o.retrain = leadership::follower_policy(leader_retrain(), true);
    nd.e = test::open_engine(o);
    BOOST_REQUIRE(nd.e->create_index(params()));
    peer_options po;
    po.port = ports[i];
    po.nodes = addresses;
    po.reconnect_interval = 100ms;
    auto ps = peer_service::start(*nd.e, po);
    BOOST_REQUIRE_MESSAGE(ps, (ps ? "" : ps.error().to_string()));
    nd.peers = std::move(*ps);
    auto bs = codebook_sync::start(*nd.e, cfg, bootstrap, false, nd.name, 100ms);
    BOOST_REQUIRE_MESSAGE(bs, (bs ? "" : bs.error().to_string()));
    nd.books = std::move(*bs);
    leadership_options lo;
    lo.train_after = 600;
    lo.retrain = leader_retrain();
    lo.grace = 1000ms;
    lo.interval = 100ms;
    auto l = leadership::start(*nd.e, *nd.peers, *nd.books, lo);
    BOOST_REQUIRE_MESSAGE(l, (l ? "" : l.error().to_string()));
    nd.lead = std::move(*l);
    return nd;
  }

  void upsert(std::size_t i, std::size_t n, std::uint64_t seed) {
    const auto x = test::clustered_data(n, d, 10, seed);
    std::vector<std::uint64_t> ids(n);
    for (auto& id : ids) id = next_id++;
    auto st = nodes[i].e->upsert(ids.data(), x.data(), n);
    BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  }

  std::string why() const {
    std::string s;
    for (const auto& nd : nodes)
      if (nd.e)
        s += "\n" + nd.name + ": leads=" + std::to_string(nd.lead->leads()) + " version=" + std::to_string(nd.version()) +
             " sync_error='" + nd.books->last_error() + "' lead_error='" + nd.lead->last_error() + "'";
    return s;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(training_fails_over_to_the_next_node_and_comes_back) {
  cluster c;
  for (auto& nd : c.nodes) BOOST_REQUIRE(nd.peers->wait_connected(num_nodes - 1, 30s));
  BOOST_REQUIRE_MESSAGE(test::wait_for([&] { return c.nodes[0].lead->leads(); }, k_wait), c.why());
  BOOST_TEST(!c.nodes[1].lead->leads());
  BOOST_TEST(!c.nodes[2].lead->leads());

  // The first node trains once it holds 600 vectors (the others would never train) and publishes.
  c.upsert(1, 300, 1);
  c.upsert(2, 300, 2);
  c.upsert(0, 600, 3);
  BOOST_REQUIRE_MESSAGE(test::wait_for([&] { return c.nodes[1].version() == 1 && c.nodes[2].version() == 1; }, k_wait),
                        c.why());
  BOOST_TEST(c.nodes[0].version() == 1u);

  // The first node stops: after the grace period the second one trains, and its retrain reaches the third.
  c.nodes[0].stop();
  BOOST_REQUIRE_MESSAGE(test::wait_for([&] { return c.nodes[1].lead->leads(); }, k_wait), c.why());
  BOOST_TEST(!c.nodes[2].lead->leads());
  BOOST_TEST(c.nodes[1].lead->changes() == 1u);
  // A retrain needs 1000 vectors in the reservoir (min_training_sample) and 400 inserts since the last.
  c.upsert(1, 900, 4);
  BOOST_REQUIRE_MESSAGE(test::wait_for([&] { return c.nodes[2].version() == 2; }, k_wait), c.why());
  BOOST_TEST(c.nodes[1].version() == 2u);
  BOOST_TEST(c.nodes[2].fingerprint() == c.nodes[1].fingerprint());
  // A follower does not retrain: as many inserts on the third node change nothing.
  c.upsert(2, 900, 5);
  std::this_thread::sleep_for(1s);
  BOOST_TEST(c.nodes[2].version() == 2u);

  // The first node comes back empty: it installs version 2 from the topic, then takes training back.
  c.nodes[0] = c.start(0);
  BOOST_REQUIRE_MESSAGE(test::wait_for([&] { return c.nodes[0].lead->leads() && !c.nodes[1].lead->leads(); }, k_wait),
                        c.why());
  BOOST_TEST(c.nodes[0].version() == 2u);
  BOOST_TEST(c.nodes[0].fingerprint() == c.nodes[1].fingerprint());
  BOOST_TEST(c.nodes[1].lead->changes() == 2u);
  // Its retrains are the cluster's again: version 3 reaches both others.
  c.upsert(0, 1100, 6);
  BOOST_REQUIRE_MESSAGE(
      test::wait_for([&] { return c.nodes[1].version() == 3 && c.nodes[2].version() == 3; }, k_wait), c.why());
  BOOST_TEST(c.nodes[1].fingerprint() == c.nodes[0].fingerprint());
  for (auto& nd : c.nodes) nd.stop();
}

BOOST_AUTO_TEST_CASE(bad_leadership_options_are_refused) {
  cluster c;
  leadership_options lo;
  lo.grace = 0ms;
  auto l = leadership::start(*c.nodes[0].e, *c.nodes[0].peers, *c.nodes[0].books, lo);
  BOOST_REQUIRE(!l);
  BOOST_TEST(l.error().message().find("grace=0ms") != std::string::npos, l.error().message());
  lo.grace = 1000ms;
  lo.retrain.reservoir_size = 10;
  l = leadership::start(*c.nodes[0].e, *c.nodes[0].peers, *c.nodes[0].books, lo);
  BOOST_REQUIRE(!l);
  BOOST_TEST(l.error().message().find("reservoir_size=10") != std::string::npos, l.error().message());
  for (auto& nd : c.nodes) nd.stop();
}
