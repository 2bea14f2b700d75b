// The codebooks topic (actors/codebook_topic.hpp): records round-trip and are verified; a follower node
// that never trains installs what the leader publishes on the embedded broker, and a three-node search
// over such nodes is whole (not partial) and equals one node holding all the data.
#define BOOST_TEST_MODULE codebook_topic
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
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

constexpr std::size_t d = 16, n = 3000;

index_params params() { return test::small_index_params(d); }

service_config make_config() {
  service_config c;
  c.kafka.topic_partitions = 2;
  c.index = params();
  c.engine.data_dir = "unused";
  return c;
}

std::unique_ptr<engine> open_engine(bool network) {
  engine_options o;
  o.partition_actors = 2;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.network = network;
  o.train_after = std::uint64_t{1} << 40;  // never trains by itself
  return test::open_engine(o);
}

void upsert_share(engine& e, const std::vector<float>& x, std::size_t share, std::size_t shares) {
  std::vector<std::uint64_t> ids;
  std::vector<float> rows;
  for (std::size_t r = share; r < n; r += shares) {
    ids.push_back(r);
    rows.insert(rows.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  }
  BOOST_REQUIRE(e.upsert(ids.data(), rows.data(), ids.size()));
}

using test::wait_for;

}  // namespace

BOOST_AUTO_TEST_CASE(record_round_trips_and_is_verified) {
  const auto x = test::clustered_data(n, d, 25, 11);
  auto cb = codebook_set::train(params(), x.data(), n, 7);
  BOOST_REQUIRE(cb);
  auto bytes = encode_codebook_record(**cb, "node-a");
  auto back = decode_codebook_record(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST(back->codebooks->version() == 7u);
  BOOST_TEST(back->publisher == "node-a");
  BOOST_TEST(back->fingerprint == actors::codebook_fingerprint(**cb));
  BOOST_TEST(back->codebooks->centroids() == (*cb)->centroids(), boost::test_tools::per_element());
  BOOST_TEST(back->codebooks->pq_codebooks() == (*cb)->pq_codebooks(), boost::test_tools::per_element());

  // A changed centroid no longer matches the fingerprint.
  const float first = (*cb)->centroids()[0];
  auto it = std::search(bytes.begin(), bytes.end(), reinterpret_cast<const std::uint8_t*>(&first),
                        reinterpret_cast<const std::uint8_t*>(&first) + sizeof first);
  BOOST_REQUIRE(it != bytes.end());
  const float changed = first + 1.0f;
  std::memcpy(&*it, &changed, sizeof changed);
  auto bad = decode_codebook_record(bytes.data(), bytes.size());
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().code() == errc::corrupt_data);
  BOOST_TEST(bad.error().message().find("fingerprint") != std::string::npos, bad.error().message());

  // Truncated and foreign bytes.
  auto good = encode_codebook_record(**cb, "node-a");
  auto cut = decode_codebook_record(good.data(), good.size() / 2);
  BOOST_REQUIRE(!cut);
  BOOST_TEST(cut.error().code() == errc::corrupt_data);
  std::vector<std::uint8_t> junk(64, 0x41);
  BOOST_TEST(!decode_codebook_record(junk.data(), junk.size()));
}

BOOST_AUTO_TEST_CASE(followers_install_the_leaders_codebooks_and_the_cluster_answers_as_one_node) {
  const auto cfg = make_config();
  auto broker = connectors::embedded_broker::start(cfg);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const auto x = test::clustered_data(n, d, 25, 11);

  // The leader trains on its own third; the followers never train and buffer their thirds.
  std::vector<std::unique_ptr<engine>> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(open_engine(true));
  std::vector<float> third;
  for (std::size_t r = 0; r < n; r += 3) third.insert(third.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  BOOST_REQUIRE(nodes[0]->create_index(params(), third.data(), third.size() / d));
  for (int i = 1; i < 3; ++i) BOOST_REQUIRE(nodes[i]->create_index(params()));
  for (int i = 0; i < 3; ++i) upsert_share(*nodes[i], x, i, 3);
  auto leader = codebook_sync::start(*nodes[0], cfg, bootstrap, true, "node-0", 100ms);
  BOOST_REQUIRE_MESSAGE(leader, (leader ? "" : leader.error().to_string()));
  std::vector<std::unique_ptr<codebook_sync>> followers;
  for (int i = 1; i < 3; ++i) {
    auto f = codebook_sync::start(*nodes[i], cfg, bootstrap, false, "node-" + std::to_string(i), 100ms);
    BOOST_REQUIRE_MESSAGE(f, (f ? "" : f.error().to_string()));
    followers.push_back(std::move(*f));
  }
  for (auto& f : followers)
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return f->version() == 1; }, 60s), "follower did not install: " << f->last_error());
  auto leader_cb = nodes[0]->codebooks();
  BOOST_REQUIRE(leader_cb && *leader_cb);
  for (int i = 1; i < 3; ++i) {
    auto cb = nodes[i]->codebooks();
    BOOST_REQUIRE(cb && *cb);
    BOOST_TEST(actors::codebook_fingerprint(**cb) == actors::codebook_fingerprint(**leader_cb));
    auto st = nodes[i]->stats();
    BOOST_REQUIRE(st);
    BOOST_TEST(st->buffered == 0u);  // the buffered third became searchable with the installed codebooks
    BOOST_TEST(st->vectors == (n + 2 - i) / 3);
  }

  // The three nodes as a cluster: whole answers, equal to one node with the same codebooks and all data.
  auto reference = open_engine(false);
  BOOST_REQUIRE(reference->create_index(params()));
  BOOST_REQUIRE(reference->install_codebooks(*leader_cb));
  upsert_share(*reference, x, 0, 1);
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
  for (auto& p : peers) BOOST_REQUIRE(p->wait_connected(2, 30s));
  const auto q = test::clustered_data(10, d, 25, 12);
  for (std::size_t i = 0; i < 10; ++i) {
    std::vector<float> qi(q.begin() + i * d, q.begin() + (i + 1) * d);
    auto want = reference->search(qi).nprobes(6).limit(10).to_list();
    BOOST_REQUIRE(want);
    auto got = peers[i % 3]->search(qi, search_params{10, 6, 0}, 20000ms);
    BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
    BOOST_TEST(!got->partial);
    BOOST_REQUIRE_EQUAL(got->hits.size(), want->hits.size());
    for (std::size_t j = 0; j < want->hits.size(); ++j) {
      BOOST_TEST(got->hits[j].id == want->hits[j].id);
      BOOST_TEST(got->hits[j].distance == want->hits[j].distance);
    }
  }
  peers.clear();
  followers.clear();
  leader->reset();
}

BOOST_AUTO_TEST_CASE(installing_codebooks_of_another_shape_is_refused) {
  const auto x = test::clustered_data(n, d, 25, 11);
  auto e = open_engine(false);
  auto other = params();
  other.num_partitions = 8;
  auto cb = codebook_set::train(other, x.data(), n);
  BOOST_REQUIRE(cb);
  BOOST_REQUIRE(e->create_index(params()));
  auto st = e->install_codebooks(*cb);
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code() == errc::invalid_argument);
  BOOST_TEST(st.error().message().find("num_partitions=8") != std::string::npos, st.error().message());
}
