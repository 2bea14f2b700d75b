// A scale-out cluster following a new codebook version (issue 6, actors/codebook_topic.hpp): the
// leader retrains (v1 → v2) and publishes v2 on the codebooks topic; the followers, trained on v1,
// hot-swap to v2 through the retrain protocol (engine::install_codebooks → swap_protocol) instead of
// training. Queries keep running through the swap: every whole answer is exactly that of one node
// holding all the data with v1 or with v2 (never a mix); a peer still on the other version is left
// out (partial). Afterwards every node serves v2 and the cluster answers as the v2 reference.
// Three engines in this process, peers over CAF on 127.0.0.1, the embedded broker.
#define BOOST_TEST_MODULE codebook_swap_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "actors/codebook_topic.hpp"
#include "actors/engine.hpp"
#include "actors/peer_codec.hpp"
#include "actors/peer_service.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 3000, k_queries = 8;

index_params params() { return test::small_index_params(d); }

service_config make_config() {
  service_config c;
  c.kafka.topic_partitions = 2;
  c.index = params();
  return c;
}

std::unique_ptr<engine> open_engine(bool network, bool retrain) {
  engine_options o;
  o.partition_actors = 2;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.network = network;
  o.train_after = std::uint64_t{1} << 40;  // never trains by itself
  o.retrain.enabled = retrain;             // the leader's forced retrains only (no schedule, no drift)
  o.retrain.reservoir_size = 2000;
  o.retrain.drift_threshold = 0;
  o.retrain.background_nice = 0;
  return test::open_engine(o);
}

using test::wait_for;

std::uint64_t version_of(const engine& e) {
  auto cb = e.codebooks();
  BOOST_REQUIRE(cb);
  return *cb ? (*cb)->version() : 0;
}

using hits = std::vector<std::pair<std::uint64_t, float>>;

/// Answers of one node holding all the data with codebooks `cb`.
std::vector<hits> reference_answers(std::shared_ptr<const codebook_set> cb, const std::vector<float>& x,
                                    const std::vector<float>& q) {
  auto ref = open_engine(false, false);
  BOOST_REQUIRE(ref->create_index(params()));
  BOOST_REQUIRE(ref->install_codebooks(std::move(cb)));
  test::upsert_share(*ref, x, d, 0, 1);
  std::vector<hits> out;
  for (std::size_t i = 0; i < k_queries; ++i) {
    auto r = ref->search(q.data() + i * d, d).nprobes(6).limit(10).deadline(20000ms).to_list();
    BOOST_REQUIRE(r && !r->partial);
    out.emplace_back();
    for (const auto& h : r->hits) out.back().emplace_back(h.id, h.distance);
  }
  return out;
}

hits as_hits(const search_result& r) {
  hits h;
  for (const auto& x : r.hits) h.emplace_back(x.id, x.distance);
  return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(followers_swap_to_the_leaders_retrained_version_and_answers_never_mix_versions) {
  const auto cfg = make_config();
  auto broker = connectors::embedded_broker::start(cfg);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const auto x = test::clustered_data(n, d, 25, 41);
  const auto q = test::clustered_data(k_queries, d, 25, 42);

  // v1: the leader trains on its third and publishes; the followers install it.
  std::vector<std::unique_ptr<engine>> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(open_engine(true, i == 0));
  std::vector<float> third;
  for (std::size_t r = 0; r < n; r += 3) third.insert(third.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  BOOST_REQUIRE(nodes[0]->create_index(params(), third.data(), third.size() / d));
  for (int i = 1; i < 3; ++i) BOOST_REQUIRE(nodes[i]->create_index(params()));
  for (int i = 0; i < 3; ++i) test::upsert_share(*nodes[i], x, d, i, 3);
  std::vector<std::unique_ptr<codebook_sync>> syncs;
  for (int i = 0; i < 3; ++i) {
    auto s = codebook_sync::start(*nodes[i], cfg, bootstrap, i == 0, "node-" + std::to_string(i), 100ms);
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
    syncs.push_back(std::move(*s));
  }
  for (int i = 1; i < 3; ++i)
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return version_of(*nodes[i]) == 1; }, 150s),
                          "follower " << i << " did not install v1: " << syncs[i]->last_error());
  auto v1 = nodes[0]->codebooks();
  BOOST_REQUIRE(v1 && *v1);

  std::vector<std::string> addrs;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 3; ++i) {
    ports.push_back(test::free_loopback_port());
    addrs.push_back("127.0.0.1:" + std::to_string(ports.back()));
  }
  std::vector<std::unique_ptr<peer_service>> peers;
  for (int i = 0; i < 3; ++i) {
    peer_options po;
    po.port = ports[i];
    po.nodes = addrs;
    po.reconnect_interval = 100ms;
    auto ps = peer_service::start(*nodes[i], po);
    BOOST_REQUIRE_MESSAGE(ps, (ps ? "" : ps.error().to_string()));
    peers.push_back(std::move(*ps));
  }
  for (auto& p : peers) BOOST_REQUIRE(p->wait_connected(2, 150s));
  const auto want_v1 = reference_answers(*v1, x, q);
  const search_params sp{10, 6, 0};
  for (std::size_t i = 0; i < k_queries; ++i) {
    auto got = peers[1]->search(std::vector<float>(q.begin() + i * d, q.begin() + (i + 1) * d), sp, 20000ms);
    BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
    BOOST_REQUIRE(!got->partial);
    BOOST_TEST((as_hits(*got) == want_v1[i]), "v1 cluster answer " << i << " differs from the v1 reference");
  }

  // Queries through follower 1 while the cluster moves to v2.
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> whole{0}, partial{0}, mixed{0}, failed{0};
  std::vector<hits> answers_seen[k_queries];
  std::mutex seen_mutex;
  std::thread client([&] {
    for (std::size_t i = 0; !stop; i = (i + 1) % k_queries) {
      auto got = peers[1]->search(std::vector<float>(q.begin() + i * d, q.begin() + (i + 1) * d), sp, 5000ms);
      if (!got) {
        ++failed;
        continue;
      }
      if (got->partial) {
        ++partial;
        continue;
      }
      ++whole;
      std::lock_guard<std::mutex> lock(seen_mutex);
      answers_seen[i].push_back(as_hits(*got));
    }
  });

  // v2: the leader retrains; codebook_sync publishes it; the followers swap.
  auto v2_version = nodes[0]->retrain();
  BOOST_REQUIRE_MESSAGE(v2_version, (v2_version ? "" : v2_version.error().to_string()));
  BOOST_TEST(*v2_version == 2u);
  for (int i = 1; i < 3; ++i)
    BOOST_CHECK_MESSAGE(wait_for([&] { return version_of(*nodes[i]) == 2; }, 150s),
                        "follower " << i << " did not swap to v2: " << syncs[i]->last_error());
  std::this_thread::sleep_for(300ms);  // a few queries on v2 everywhere
  stop = true;
  client.join();
  auto v2 = nodes[0]->codebooks();
  BOOST_REQUIRE(v2 && *v2);
  BOOST_TEST((*v2)->version() == 2u);
  for (int i = 1; i < 3; ++i) {
    auto cb = nodes[i]->codebooks();
    BOOST_REQUIRE(cb && *cb);
    BOOST_TEST(actors::codebook_fingerprint(**cb) == actors::codebook_fingerprint(**v2));
    auto st = nodes[i]->stats();
    BOOST_REQUIRE(st);
    BOOST_TEST(st->vectors == (n + 2 - i) / 3);  // nothing lost in the swap
    BOOST_TEST(st->swaps == 1u);
  }

  // Every whole answer during the swap was the v1 or the v2 reference's, never a mix.
  const auto want_v2 = reference_answers(*v2, x, q);
  for (std::size_t i = 0; i < k_queries; ++i)
    for (const auto& h : answers_seen[i])
      if (h != want_v1[i] && h != want_v2[i]) ++mixed;
  BOOST_TEST_MESSAGE("during the swap: " << whole << " whole, " << partial << " partial, " << failed << " failed");
  BOOST_TEST(mixed == 0u);
  BOOST_TEST(failed == 0u);

  // After it: whole answers, equal to one node holding all the data with v2.
  for (std::size_t i = 0; i < k_queries; ++i) {
    search_result got;
    const bool ok = wait_for(
        [&] {
          auto r = peers[i % 3]->search(std::vector<float>(q.begin() + i * d, q.begin() + (i + 1) * d), sp, 20000ms);
          BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
          got = *r;
          return !got.partial;
        },
        150s);
    BOOST_REQUIRE_MESSAGE(ok, "answer " << i << " still partial after the swap");
    BOOST_TEST((as_hits(got) == want_v2[i]), "v2 cluster answer " << i << " differs from the v2 reference");
  }
  peers.clear();
  syncs.clear();
}
