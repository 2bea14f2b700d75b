// Distributed training in running nodes (issue 6, actors/cluster_trainer.hpp): three engines in one
// process, each a node with its own actor system and middleman, linked by actors/peer_service.hpp.
// Each node holds data from its own clusters. The training node's first training and its retrains
// read the k-means statistics of every connected node's sample over the peer links; the codebooks
// equal index-level training on the union of the samples, fit every node's data, and a node that is
// down or refuses is left out and named.
#define BOOST_TEST_MODULE cluster_training
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "actors/engine.hpp"
#include "actors/peer_service.hpp"
#include "actors/trainer_state.hpp"
#include "index/distributed_training.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, rows_per_node = 1200, num_nodes = 3;
constexpr auto k_connect = 30s;

index_params params() { return test::small_index_params(d); }

// The training node trains once its share arrived; the others never train by themselves but keep a
// reservoir (retrain on, every trigger off), as `serve` runs them.
engine_options options(bool trains) {
  engine_options o;
  o.partition_actors = 2;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.network = true;
  o.train_after = trains ? rows_per_node : std::uint64_t{1} << 40;
  o.retrain.enabled = true;
  o.retrain.reservoir_size = 10000;  // holds every row: the samples are the nodes' whole data
  o.retrain.every_inserts = 0;
  o.retrain.every_ms = 0;
  o.retrain.drift_threshold = 0;
  o.retrain.background_nice = 0;
  return o;
}

// Every (n / max)-th of the n rows when n > max (the stride of answer_train_request and the leader).
std::vector<float> strided(const float* x, std::size_t n, std::size_t max) {
  if (n <= max) return std::vector<float>(x, x + n * d);
  std::vector<float> out(max * d);
  for (std::size_t i = 0; i < max; ++i) std::copy_n(x + (i * n / max) * d, d, out.data() + i * d);
  return out;
}

float worst_relative(const std::vector<float>& a, const std::vector<float>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / (1.f + std::fabs(b[i])));
  return worst;
}

struct node {
  std::unique_ptr<engine> e;
  std::unique_ptr<peer_service> peers;
  void stop() {
    peers.reset();
    e.reset();
  }
};

struct cluster_fixture {
  std::vector<std::vector<float>> data;  // node i's rows (ids i × rows_per_node + r), clusters of its own
  std::vector<std::uint16_t> ports;
  std::vector<std::string> addresses;
  std::vector<node> nodes;

  std::uint32_t max_rows_per_node = 0;  // distributed_training_options (0 = the default)

  explicit cluster_fixture(std::uint32_t max_rows = 0) : max_rows_per_node(max_rows) {
    for (std::size_t i = 0; i < num_nodes; ++i) {
      data.push_back(test::clustered_data(rows_per_node, d, 8, 100 + i));
      for (auto& v : data.back()) v += 3.0f * static_cast<float>(i);  // apart from the other nodes' data
      ports.push_back(test::free_loopback_port());
      addresses.push_back("127.0.0.1:" + std::to_string(ports.back()));
    }
    for (std::size_t i = 0; i < num_nodes; ++i) nodes.push_back(start_node(i, params()));
    for (auto& nd : nodes) BOOST_REQUIRE(nd.peers->wait_connected(num_nodes - 1, k_connect));
  }

  node start_node(std::size_t i, const index_params& p) {
    node nd;
    nd.e = test::open_engine(options(i == 0));
    BOOST_REQUIRE(nd.e->create_index(p));
    peer_options po;
    po.port = ports[i];
    po.nodes = addresses;
    po.reconnect_interval = 100ms;
    po.training.max_rows_per_node = max_rows_per_node;
    auto ps = peer_service::start(*nd.e, po);
    BOOST_REQUIRE_MESSAGE(ps, (ps ? "" : ps.error().to_string()));
    nd.peers = std::move(*ps);
    return nd;
  }

  // The first `count` rows of node i's data.
  void upsert(std::size_t i, std::size_t count = rows_per_node) {
    std::vector<std::uint64_t> ids(count);
    for (std::size_t r = 0; r < count; ++r) ids[r] = i * rows_per_node + r;
    auto st = nodes[i].e->upsert(ids.data(), data[i].data(), count);
    BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  }

  std::vector<float> all_rows() const {
    std::vector<float> all;
    for (const auto& x : data) all.insert(all.end(), x.begin(), x.end());
    return all;
  }

  std::shared_ptr<const codebook_set> codebooks(std::size_t i) const {
    auto cb = nodes[i].e->codebooks();
    BOOST_REQUIRE(cb);
    return *cb;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_first_training_reads_every_node_and_equals_training_on_the_union) {
  cluster_fixture c;
  c.upsert(1);
  c.upsert(2);
  c.upsert(0);  // the training node's share completes train_after: it trains now, with its peers
  const auto cb = c.codebooks(0);
  BOOST_TEST(cb->version() == 1u);
  const auto report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.trainings == 1u);
  BOOST_TEST(report.distributed == 1u);
  BOOST_TEST(report.last_nodes == 3u);
  BOOST_TEST(report.last_rows == num_nodes * rows_per_node);
  BOOST_TEST(report.last_left_out.empty());
  BOOST_TEST(report.last_local_reason.empty(), report.last_local_reason);

  // Index level, one process: the leader's rows (its sample and init), then each peer's.
  const index_params p = params();
  auto reference = train_distributed(p,
                                     {{c.data[0].data(), rows_per_node},
                                      {c.data[1].data(), rows_per_node},
                                      {c.data[2].data(), rows_per_node}},
                                     c.data[0].data(), rows_per_node);
  BOOST_REQUIRE(reference);
  BOOST_TEST(worst_relative(cb->centroids(), (*reference)->centroids()) <= 1e-4f);
  BOOST_TEST(worst_relative(cb->pq_codebooks(), (*reference)->pq_codebooks()) <= 1e-4f);

  // What the user gets: codebooks that fit every node's data, not only the training node's.
  const auto all = c.all_rows();
  auto alone = codebook_set::train(p, c.data[0].data(), rows_per_node, 1);
  BOOST_REQUIRE(alone);
  const double err_cluster = actors::trainer_state::mean_error(*cb, all.data(), num_nodes * rows_per_node);
  const double err_alone = actors::trainer_state::mean_error(**alone, all.data(), num_nodes * rows_per_node);
  BOOST_TEST_MESSAGE("quantisation error on all rows: cluster-trained " << err_cluster << ", training node alone "
                                                                        << err_alone);
  BOOST_TEST(err_cluster < 0.5 * err_alone);

  // The peers were never asked to train, and serve them as they are told (the codebooks topic in serve).
  for (std::size_t i = 1; i < num_nodes; ++i) {
    BOOST_TEST(c.nodes[i].peers->training_report().trainings == 0u);
    BOOST_REQUIRE(c.nodes[i].e->install_codebooks(cb));
  }
  auto r = c.nodes[1].peers->search({all.begin(), all.begin() + d}, search_params{}, 10s);
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->partial);
  BOOST_REQUIRE(!r->hits.empty());
  BOOST_TEST(r->hits.front().id == 0u);
}

BOOST_AUTO_TEST_CASE(retrains_read_the_peers_reservoirs_and_a_node_that_is_down_is_named) {
  cluster_fixture c;
  for (std::size_t i : {1, 2, 0}) c.upsert(i);
  BOOST_REQUIRE(c.codebooks(0)->version() == 1u);
  auto v2 = c.nodes[0].e->retrain();
  BOOST_REQUIRE_MESSAGE(v2, (v2 ? "" : v2.error().to_string()));
  BOOST_TEST(*v2 == 2u);
  auto report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.trainings == 2u);
  BOOST_TEST(report.last_nodes == 3u);
  BOOST_TEST(report.last_rows == num_nodes * rows_per_node);

  c.nodes[2].stop();
  auto v3 = c.nodes[0].e->retrain();
  BOOST_REQUIRE_MESSAGE(v3, (v3 ? "" : v3.error().to_string()));
  report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.last_nodes == 2u);
  BOOST_TEST(report.last_rows == 2 * rows_per_node);
  BOOST_REQUIRE_EQUAL(report.last_left_out.size(), 1u);
  BOOST_TEST(report.last_left_out.front().find(c.addresses[2]) == 0u, report.last_left_out.front());
}

BOOST_AUTO_TEST_CASE(a_node_with_another_index_shape_is_left_out_with_the_reason) {
  cluster_fixture c;
  // Node 2 again, its index with other num_partitions: it answers the training with a refusal.
  c.nodes[2].stop();
  index_params other = params();
  other.num_partitions = 8;
  c.nodes[2] = c.start_node(2, other);
  BOOST_REQUIRE(c.nodes[0].peers->wait_connected(num_nodes - 1, k_connect));
  for (std::size_t i : {1, 2, 0}) c.upsert(i);
  auto report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.last_nodes == 2u);
  BOOST_REQUIRE_EQUAL(report.last_left_out.size(), 1u);
  const auto& why = report.last_left_out.front();
  BOOST_TEST(why.find(c.addresses[2]) == 0u, why);
  BOOST_TEST(why.find("num_partitions=16") != std::string::npos, why);
  BOOST_TEST(why.find("num_partitions=8") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(parameters_that_statistics_cannot_train_fall_back_to_the_training_node) {
  cluster_fixture c;
  index_params p = params();
  p.opq = true;
  // A fresh training node with opq (its peers' shape does not matter: none is asked).
  c.nodes[0].stop();
  c.nodes[0] = c.start_node(0, p);
  BOOST_REQUIRE(c.nodes[0].peers->wait_connected(num_nodes - 1, k_connect));
  c.upsert(0);
  auto report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.trainings == 1u);
  BOOST_TEST(report.last_nodes == 1u);
  BOOST_TEST(report.last_local_reason.find("opq=true") != std::string::npos, report.last_local_reason);
  BOOST_TEST(c.codebooks(0)->version() == 1u);
}

BOOST_AUTO_TEST_CASE(a_retrain_that_keeps_the_centroids_trains_the_pq_on_every_node) {
  cluster_fixture c;
  for (std::size_t i : {1, 2, 0}) c.upsert(i);
  const auto v1 = c.codebooks(0);
  BOOST_REQUIRE(v1->version() == 1u);
  actors::retrain_policy keep = options(true).retrain;
  keep.refresh_centroids = false;
  BOOST_REQUIRE(c.nodes[0].e->set_training(rows_per_node, keep));
  auto v2 = c.nodes[0].e->retrain();
  BOOST_REQUIRE_MESSAGE(v2, (v2 ? "" : v2.error().to_string()));
  BOOST_TEST(*v2 == 2u);
  const auto cb = c.codebooks(0);
  const auto report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.last_kept_centroids);
  BOOST_TEST(report.last_nodes == 3u);
  BOOST_TEST(report.last_rows == num_nodes * rows_per_node);
  BOOST_TEST(report.last_left_out.empty());
  BOOST_TEST((cb->centroids() == v1->centroids()));  // no vector moves between lists

  // Index level: the PQ phase over the three nodes' reservoirs (each holds its rows in arrival order),
  // the leader's the init sample; a retrain's seed is the live one + the new version (swap_protocol).
  index_params p = params();
  p.seed = v1->params().seed + 2;
  auto reference = train_distributed_with_centroids(p,
                                                    {{c.data[0].data(), rows_per_node},
                                                     {c.data[1].data(), rows_per_node},
                                                     {c.data[2].data(), rows_per_node}},
                                                    c.data[0].data(), rows_per_node, v1->centroids(), 2);
  BOOST_REQUIRE_MESSAGE(reference, (reference ? "" : reference.error().to_string()));
  BOOST_TEST(worst_relative(cb->pq_codebooks(), (*reference)->pq_codebooks()) <= 1e-4f);
}

BOOST_AUTO_TEST_CASE(weighted_rows_samples_every_node_at_one_rate) {
  using actors::weighted_rows;
  // Samples that hold all of each node's data: every row is read.
  BOOST_TEST((weighted_rows({{1200, 1200}, {1200, 1200}, {400, 400}}, 10000) == std::vector<std::uint64_t>{1200, 1200, 400}));
  // Capped at 600 rows a node: the rate is 600 / 1200, so the node with 400 vectors gives 200.
  BOOST_TEST((weighted_rows({{1200, 1200}, {1200, 1200}, {400, 400}}, 600) == std::vector<std::uint64_t>{600, 600, 200}));
  // Reservoirs of equal size drawn from 1,000,000 and 10,000 inserts: 100 : 1.
  BOOST_TEST((weighted_rows({{5000, 1000000}, {5000, 10000}}, 5000) == std::vector<std::uint64_t>{5000, 50}));
  // A node with no rows reads none; one with a tiny share still reads one row; a population below
  // its rows (not said) counts as its rows.
  BOOST_TEST((weighted_rows({{1000, 1000}, {0, 0}, {10, 1000000000}, {300, 0}}, 1000) ==
              std::vector<std::uint64_t>{1, 0, 10, 1}));
}

BOOST_AUTO_TEST_CASE(a_node_holding_less_data_weighs_less_and_the_result_equals_one_rate_sampling) {
  cluster_fixture c(600);  // at most 600 rows of a node
  c.upsert(1);
  c.upsert(2, 400);  // node 2 holds a third of what the others hold
  c.upsert(0);
  const auto cb = c.codebooks(0);
  const auto report = c.nodes[0].peers->training_report();
  BOOST_TEST(report.last_nodes == 3u);
  BOOST_TEST(report.last_rows == 600u + 600u + 200u);  // one rate, 1/2, for all three nodes

  // Index level: the same strided rows of each node, the leader seeding on its 600.
  const index_params p = params();
  const auto s0 = strided(c.data[0].data(), rows_per_node, 600);
  const auto s1 = strided(c.data[1].data(), rows_per_node, 600);
  const auto s2 = strided(c.data[2].data(), 400, 200);
  auto reference = train_distributed(p, {{s0.data(), 600}, {s1.data(), 600}, {s2.data(), 200}}, s0.data(), 600);
  BOOST_REQUIRE(reference);
  BOOST_TEST(worst_relative(cb->centroids(), (*reference)->centroids()) <= 1e-4f);
  BOOST_TEST(worst_relative(cb->pq_codebooks(), (*reference)->pq_codebooks()) <= 1e-4f);
}
