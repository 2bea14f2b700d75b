// Mutual TLS on the peer links (actors/peer_tls.hpp): engines in one process, each its own actor system
// with CAF's OpenSSL module, on 127.0.0.1. Certificates are made per run with the openssl tool
// (scripts/install-deps.sh installs it): one cluster CA signing three node certificates, plus a
// self-signed "rogue" certificate that no node trusts.
// Checks that three TLS nodes answer exactly what one node holding all the data answers, also after one
// of them restarts (TLS links are one connection per pair: the lower address dials, the other waits for
// its hello, actors/cluster_search.hpp); that a node
// whose certificate the cluster CA did not sign, and a node without TLS, never get a link in either
// direction (their searches are partial and name the other side); and that bad TLS settings are
// refused with the setting and the file named, before any actor system starts.
#define BOOST_TEST_MODULE peer_tls
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "actors/engine.hpp"
#include "actors/openssl_io_guard.hpp"
#include "actors/peer_service.hpp"
#include "config/config_loader.hpp"
#include "config/service_config.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/test_certificates.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 2000;
// Generous: the suite must pass on a loaded 2-core machine and under ASan.
constexpr auto k_deadline = std::chrono::milliseconds(20000);
constexpr auto k_connect = 30s;

engine_options options(bool network, actors::peer_tls_options tls = {}) {
  engine_options o;
  o.partition_actors = 2;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.network = network;
  o.peer_tls = std::move(tls);
  return o;
}

struct node {
  std::unique_ptr<engine> e;
  std::unique_ptr<peer_service> peers;
  ~node() {
    peers.reset();  // before its engine
    e.reset();
  }
};

struct tls_fixture {
  test::test_certificates certs{3};
  std::vector<float> x = test::clustered_data(n, d, 20, 21);
  std::vector<float> queries = test::clustered_data(12, d, 20, 22);
  std::vector<std::string> addresses;

  // Node i of `count` on addresses[i], holding share i of the rows, codebooks trained on all of x.
  std::unique_ptr<node> start(std::size_t i, std::size_t count, actors::peer_tls_options tls) {
    auto nd = std::make_unique<node>();
    nd->e = test::open_engine(options(true, std::move(tls)));
    BOOST_REQUIRE(nd->e->create_index(test::small_index_params(d), x.data(), n));
    test::upsert_share(*nd->e, x, d, i, count);
    peer_options po;
    auto a = parse_peer_address(addresses.at(i));
    BOOST_REQUIRE(a);
    po.port = a->port;
    po.nodes = addresses;
    po.reconnect_interval = 100ms;
    auto ps = peer_service::start(*nd->e, po);
    BOOST_REQUIRE_MESSAGE(ps, (ps ? "" : ps.error().to_string()));
    nd->peers = std::move(*ps);
    return nd;
  }

  void make_addresses(std::size_t count) {
    addresses.clear();
    for (std::size_t i = 0; i < count; ++i)
      addresses.push_back("127.0.0.1:" + std::to_string(test::free_loopback_port()));
  }

  std::vector<float> query(std::size_t i) const { return {queries.begin() + i * d, queries.begin() + (i + 1) * d}; }
  std::size_t num_queries() const { return queries.size() / d; }
};

// The error of engine::open with these TLS settings (the test fails if it opens).
error open_error(actors::peer_tls_options tls, bool network = true) {
  auto e = engine::open(options(network, std::move(tls)));
  BOOST_REQUIRE_MESSAGE(!e, "engine::open accepted bad TLS settings");
  return e.error();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(three_tls_nodes_answer_what_one_node_holding_all_the_data_answers) {
  tls_fixture f;
  auto single = test::open_engine(options(false));
  BOOST_REQUIRE(single->create_index(test::small_index_params(d), f.x.data(), n));
  test::upsert_share(*single, f.x, d, 0, 1);

  constexpr std::size_t count = 3;
  f.make_addresses(count);
  std::vector<std::unique_ptr<node>> nodes;
  for (std::size_t i = 0; i < count; ++i) nodes.push_back(f.start(i, count, f.certs.tls("node" + std::to_string(i))));
  auto check_all = [&](const char* when) {
    for (auto& nd : nodes) BOOST_REQUIRE_MESSAGE(nd->peers->wait_connected(count - 1, k_connect), when);
    for (std::size_t i = 0; i < f.num_queries(); ++i) {
      const auto q = f.query(i);
      for (std::size_t refine : {0u, 3u}) {
        const search_params sp{10, 6, refine};
        auto want =
            single->search(q).nprobes(sp.nprobes).limit(sp.limit).refine_factor(refine).deadline(k_deadline).to_list();
        BOOST_REQUIRE_MESSAGE(want, (want ? "" : want.error().to_string()));
        auto& coordinator = *nodes[i % count];  // any node may coordinate
        auto got = coordinator.peers->search(q, sp, k_deadline);
        BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
        BOOST_TEST(!got->partial, when);
        BOOST_TEST(got->missing_peers.empty(), when);
        test::check_same(got->hits, want->hits);
      }
    }
  };
  check_all("first start");

  // Node 1 dials node 2 and waits for node 0 (or the reverse, by port order): a restart exercises both.
  // Its stop must not disturb the link between nodes 0 and 2 (actors/openssl_io_guard.cpp).
  BOOST_TEST(actors::openssl_io_guard_active());
  nodes[1].reset();
  for (std::size_t survivor : {0u, 2u}) {
    // Only node 1 is missing, at once (it is not connected), not at the deadline.
    const auto start = std::chrono::steady_clock::now();
    auto got = nodes[survivor]->peers->search(f.query(0), {10, 6, 0}, k_deadline);
    BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
    BOOST_TEST(got->partial);
    BOOST_REQUIRE_EQUAL(got->missing_peers.size(), 1u);
    BOOST_TEST(got->missing_peers.front() == f.addresses[1]);
    BOOST_TEST((std::chrono::steady_clock::now() - start < k_deadline / 2),
               "node " << survivor << " waited for a peer");
  }
  nodes[1] = f.start(1, count, f.certs.tls("node1"));
  check_all("after node 1 restarted");
}

BOOST_AUTO_TEST_CASE(a_node_outside_the_cluster_ca_or_without_tls_gets_no_link) {
  tls_fixture f;
  f.make_addresses(3);
  auto member = f.start(0, 3, f.certs.tls("node0"));
  auto rogue = f.start(1, 3, f.certs.tls("rogue", "rogue"));  // trusts only itself; the member trusts ca.pem
  auto plain = f.start(2, 3, {});
  // Each side keeps retrying every 100 ms: give the links time to come up if they ever could.
  BOOST_TEST(!member->peers->wait_connected(1, 3000ms));

  const search_params sp{10, 6, 0};
  auto got = member->peers->search(f.query(0), sp, 2000ms);
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
  BOOST_TEST(got->partial);
  auto names = got->missing_peers;
  std::sort(names.begin(), names.end());
  auto want = std::vector<std::string>{f.addresses[1], f.addresses[2]};
  std::sort(want.begin(), want.end());
  BOOST_TEST(names == want, "missing peers of the TLS member");
  BOOST_TEST(!got->hits.empty());  // its own share is still searched

  for (auto* outsider : {rogue.get(), plain.get()}) {
    auto r = outsider->peers->search(f.query(0), sp, 2000ms);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    BOOST_TEST(r->partial);
    BOOST_TEST(std::count(r->missing_peers.begin(), r->missing_peers.end(), f.addresses[0]) == 1,
               "an outsider reached the TLS member");
  }
  auto stats = member->peers->stats();
  BOOST_REQUIRE(stats);
  for (const auto& p : stats->peers) {
    BOOST_TEST(!p.connected, p.name);
    BOOST_TEST(!p.last_error.empty(), p.name);
  }
}

BOOST_AUTO_TEST_CASE(bad_tls_settings_are_refused_naming_the_setting_and_the_file) {
  test::test_certificates certs{3};
  {  // TLS without the network
    auto e = open_error(certs.tls("node0"), false);
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "network"), e.message());
  }
  {  // a missing file
    auto t = certs.tls("node0");
    t.certificate = certs.path("absent.pem");
    auto e = open_error(t);
    BOOST_TEST(e.code() == errc::not_found);
    BOOST_TEST(contains(e.message(), "peers.tls_certificate"), e.message());
    BOOST_TEST(contains(e.message(), t.certificate), e.message());
  }
  {  // a file that is not a certificate
    const std::string junk = certs.path("junk.pem");
    std::ofstream(junk) << "not a certificate\n";
    auto t = certs.tls("node0");
    t.certificate = junk;
    auto e = open_error(t);
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "not a PEM certificate"), e.message());
    BOOST_TEST(contains(e.message(), junk), e.message());
  }
  {  // another certificate's key
    auto t = certs.tls("node0");
    t.key = certs.path("node1.key");
    auto e = open_error(t);
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "does not match"), e.message());
    BOOST_TEST(contains(e.message(), t.key), e.message());
  }
  {  // no CA to verify peers with
    auto t = certs.tls("node0");
    t.cafile.clear();
    auto e = open_error(t);
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "peers.tls_cafile"), e.message());
  }
  {  // the service configuration names the missing key before anything opens
    service_config c;
    c.peers.enabled = true;
    c.peers.tls = true;
    c.peers.tls_cafile = certs.path("ca.pem");
    auto st = c.validate();
    BOOST_REQUIRE(!st);
    BOOST_TEST(contains(st.error().message(), "peers.tls_certificate"), st.error().message());
    c.peers.tls_certificate = certs.path("node0.pem");
    c.peers.tls_key = certs.path("node0.key");
    BOOST_TEST(static_cast<bool>(c.validate()));
    c.peers.tls_key_passphrase = "hunter2";
    const std::string dumped = dump_config(c);  // --print-config
    BOOST_TEST(!contains(dumped, "hunter2"), dumped);
    BOOST_TEST(contains(dumped, "tls_key_passphrase = \"********\""), dumped);
    c.peers.tls_key_passphrase.clear();
    auto o = engine_options::from(c);
    BOOST_TEST(o.network);
    BOOST_TEST(o.peer_tls.enabled);
    BOOST_TEST(o.peer_tls.key == c.peers.tls_key);
    BOOST_TEST(static_cast<bool>(o.validate()));
  }
}
