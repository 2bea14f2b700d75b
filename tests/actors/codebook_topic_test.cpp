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
  for (int i = 0; i < 3; ++i) test::upsert_share(*nodes[i], x, d, i, 3);
  auto leader = codebook_sync::start(*nodes[0], cfg, bootstrap, true, "node-0", 100ms);
  BOOST_REQUIRE_MESSAGE(leader, (leader ? "" : leader.error().to_string()));
  std::vector<std::unique_ptr<codebook_sync>> followers;
  for (int i = 1; i < 3; ++i) {
    auto f = codebook_sync::start(*nodes[i], cfg, bootstrap, false, "node-" + std::to_string(i), 100ms);
    BOOST_REQUIRE_MESSAGE(f, (f ? "" : f.error().to_string()));
    followers.push_back(std::move(*f));
  }
  for (auto& f : followers)
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return f->version() == 1; }, 150s), "follower did not install: " << f->last_error());
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
  test::upsert_share(*reference, x, d, 0, 1);
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
  other.num_bits = 6;
  auto cb = codebook_set::train(other, x.data(), n);
  BOOST_REQUIRE(cb);
  BOOST_REQUIRE(e->create_index(params()));
  auto st = e->install_codebooks(*cb);
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code() == errc::invalid_argument);
  BOOST_TEST(st.error().message().find("num_bits=6") != std::string::npos, st.error().message());
}

// A leader that rebalanced its lists (retrain.rebalance) publishes a version with another list count:
// a follower configured with the original index.num_partitions installs it and serves every vector.
BOOST_AUTO_TEST_CASE(codebooks_with_another_list_count_install) {
  const auto x = test::clustered_data(n, d, 25, 11);
  auto e = open_engine(false);
  auto rebalanced = params();
  rebalanced.num_partitions = 11;
  auto cb = codebook_set::train(rebalanced, x.data(), n);
  BOOST_REQUIRE(cb);
  BOOST_REQUIRE(e->create_index(params()));
  auto st = e->install_codebooks(*cb);
  BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  test::upsert_share(*e, x, d, 0, 1);
  BOOST_TEST(test::stats_of(*e).vectors == n);
  BOOST_TEST(test::stats_of(*e).list_sizes.size() == 11u);
  std::vector<float> q0(x.begin(), x.begin() + d);
  auto r = e->search(q0).nprobes(11).limit(1).refine_factor(20).to_list();
  BOOST_REQUIRE(r);
  BOOST_REQUIRE_EQUAL(r->hits.size(), 1u);
  BOOST_TEST(r->hits[0].id == 0u);  // all lists probed, exact distances: the row itself comes first
}

namespace {

/// Every index_params field the codec stores (all but the runtime-only train_threads, accelerator and
/// polysemous_objective) is equal in a and b.
void expect_same_stored_params(const index_params& a, const index_params& b) {
  BOOST_TEST(a.dimension == b.dimension);
  BOOST_TEST(a.metric == b.metric);
  BOOST_TEST(a.num_partitions == b.num_partitions);
  BOOST_TEST(a.num_sub_vectors == b.num_sub_vectors);
  BOOST_TEST(a.num_bits == b.num_bits);
  BOOST_TEST(a.max_iterations == b.max_iterations);
  BOOST_TEST(a.sample_rate == b.sample_rate);
  BOOST_TEST(a.seed == b.seed);
  BOOST_TEST(a.keep_raw_vectors == b.keep_raw_vectors);
  BOOST_TEST(a.opq == b.opq);
  BOOST_TEST(a.opq_iterations == b.opq_iterations);
  BOOST_TEST(a.polysemous == b.polysemous);
  BOOST_TEST(a.polysemous_iterations == b.polysemous_iterations);
  BOOST_TEST(to_string(a.coarse_quantizer) == to_string(b.coarse_quantizer));
  BOOST_TEST(a.imi_bits == b.imi_bits);
  BOOST_TEST(to_string(a.quantizer) == to_string(b.quantizer));
  BOOST_TEST(a.rq_beam_size == b.rq_beam_size);
  BOOST_TEST(a.lsq_iterations == b.lsq_iterations);
  BOOST_TEST(a.lsq_icm_iterations == b.lsq_icm_iterations);
  BOOST_TEST(a.lopq == b.lopq);
  BOOST_TEST(a.lopq_groups == b.lopq_groups);
  BOOST_TEST(a.lopq_iterations == b.lopq_iterations);
  BOOST_TEST(a.lopq_min_points == b.lopq_min_points);
  BOOST_TEST(check_codebook_layout(a, b, "round trip").has_value());
}

}  // namespace

// A follower gets exactly what the publisher trained, for every issue-5 option: the same parameters
// (training-only ones included, all away from their defaults), arrays, fingerprint, codes of new vectors
// and query tables.
BOOST_AUTO_TEST_CASE(record_round_trips_every_quantizer_option) {
  const std::size_t n_train = 1200;
  const auto x = test::clustered_data(n_train, d, 25, 13);
  index_params base = params();
  base.max_iterations = 4;
  base.sample_rate = 64;
  base.seed = 1234;
  base.keep_raw_vectors = false;
  std::vector<std::pair<const char*, index_params>> variants;
  auto add = [&](const char* name, auto apply) {
    index_params v = base;
    apply(v);
    variants.emplace_back(name, v);
  };
  add("opq", [](index_params& v) { v.opq = true, v.opq_iterations = 3; });
  add("polysemous", [](index_params& v) { v.polysemous = true, v.polysemous_iterations = 700, v.metric = metric::cosine; });
  add("rq", [](index_params& v) { v.quantizer = quantizer_kind::rq, v.rq_beam_size = 2; });
  add("lsq", [](index_params& v) {
    v.quantizer = quantizer_kind::lsq, v.rq_beam_size = 3, v.lsq_iterations = 2, v.lsq_icm_iterations = 1;
  });
  add("imi", [](index_params& v) { v.coarse_quantizer = coarse_quantizer_kind::imi, v.imi_bits = 2; });
  add("imi+opq", [](index_params& v) {
    v.coarse_quantizer = coarse_quantizer_kind::imi, v.imi_bits = 2, v.opq = true, v.opq_iterations = 1;
  });
  add("lopq", [](index_params& v) {
    v.lopq = true, v.lopq_groups = 4, v.lopq_iterations = 1, v.lopq_min_points = 1, v.metric = metric::dot;
  });
  add("num_bits=6", [](index_params& v) { v.num_bits = 6; });

  const auto probe = test::clustered_data(64, d, 25, 14);
  for (const auto& [name, p] : variants) {
    BOOST_TEST_CONTEXT(name) {
      auto cb = codebook_set::train(p, x.data(), n_train, 5);
      BOOST_REQUIRE_MESSAGE(cb, (cb ? "" : cb.error().message()));
      const auto bytes = encode_codebook_record(**cb, "publisher");
      auto back = decode_codebook_record(bytes.data(), bytes.size());
      BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
      const codebook_set& got = *back->codebooks;
      expect_same_stored_params(got.params(), p);
      BOOST_TEST(got.version() == 5u);
      BOOST_TEST(back->fingerprint == actors::codebook_fingerprint(**cb));
      BOOST_TEST(got.centroids() == (*cb)->centroids(), boost::test_tools::per_element());
      BOOST_TEST(got.pq_codebooks() == (*cb)->pq_codebooks(), boost::test_tools::per_element());
      BOOST_TEST(got.rotation() == (*cb)->rotation(), boost::test_tools::per_element());
      BOOST_REQUIRE((got.local() != nullptr) == ((*cb)->local() != nullptr));
      BOOST_REQUIRE((got.imi() != nullptr) == ((*cb)->imi() != nullptr));
      BOOST_TEST((got.local() != nullptr) == p.lopq);
      BOOST_TEST((got.imi() != nullptr) == p.imi());
      if (got.local()) {
        BOOST_TEST(got.local()->list_group() == (*cb)->local()->list_group(), boost::test_tools::per_element());
        BOOST_TEST(got.local()->rotations() == (*cb)->local()->rotations(), boost::test_tools::per_element());
        BOOST_TEST(got.local()->pq_codebooks() == (*cb)->local()->pq_codebooks(), boost::test_tools::per_element());
      }
      // New vectors get the publisher's codes; a query gets its lists and tables.
      std::vector<float> prepared(probe.size());
      BOOST_REQUIRE(got.prepare_vectors(probe.data(), 64, prepared.data()));
      std::vector<std::uint32_t> lists_a(64), lists_b(64);
      std::vector<std::uint8_t> codes_a(64 * got.code_size()), codes_b(64 * got.code_size());
      (*cb)->encode(prepared.data(), 64, lists_a.data(), codes_a.data());
      got.encode(prepared.data(), 64, lists_b.data(), codes_b.data());
      BOOST_TEST(lists_a == lists_b, boost::test_tools::per_element());
      BOOST_TEST(codes_a == codes_b, boost::test_tools::per_element());
      auto plan_a = (*cb)->plan_query(probe.data(), 3);
      auto plan_b = got.plan_query(probe.data(), 3);
      BOOST_REQUIRE(plan_a && plan_b);
      BOOST_TEST(plan_a->lists == plan_b->lists, boost::test_tools::per_element());
      std::vector<float> lut_a(got.num_sub_vectors() * got.ksub()), lut_b(lut_a.size());
      for (std::size_t i = 0; i < plan_a->lists.size(); ++i) {
        BOOST_TEST((*cb)->list_table(*plan_a, i, lut_a.data()) == got.list_table(*plan_b, i, lut_b.data()));
        BOOST_TEST(lut_a == lut_b, boost::test_tools::per_element());
      }
    }
  }
}

// A node refuses published codebooks trained with another quantizer, whether it is untrained (install)
// or serving an older version (swap), with both values in the error, and keeps ingesting and answering;
// the next version trained with the index's own parameters is then installed / swapped to.
BOOST_AUTO_TEST_CASE(published_codebooks_of_another_quantizer_are_refused_on_install_and_on_swap) {
  const auto cfg = make_config();
  auto broker = connectors::embedded_broker::start(cfg);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const auto x = test::clustered_data(n, d, 25, 15);

  // fresh: untrained, buffers its half. serving: trained by itself on v1.
  auto fresh = open_engine(false), serving = open_engine(false);
  BOOST_REQUIRE(fresh->create_index(params()));
  BOOST_REQUIRE(serving->create_index(params(), x.data(), n));
  test::upsert_share(*fresh, x, d, 0, 2);
  test::upsert_share(*serving, x, d, 1, 2);
  std::vector<std::unique_ptr<codebook_sync>> syncs;
  for (engine* e : {fresh.get(), serving.get()}) {
    auto s = codebook_sync::start(*e, cfg, bootstrap, false, "follower", 100ms);
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
    syncs.push_back(std::move(*s));
  }

  // v2 trained with quantizer=rq (same size, num_bits, partitions).
  index_params rq = params();
  rq.quantizer = quantizer_kind::rq;
  auto v2 = codebook_set::train(rq, x.data(), n, 2);
  BOOST_REQUIRE(v2);
  BOOST_REQUIRE(publish_codebooks(cfg, bootstrap, **v2, "rq-publisher", 10000ms));
  const std::string on_install = "install codebooks: they were trained with quantizer=rq, the index has quantizer=pq";
  const std::string on_swap =
      "swap to published codebooks version 2: they were trained with quantizer=rq, the index has quantizer=pq";
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return syncs[0]->last_error().find(on_install) != std::string::npos; }, 150s),
                        "untrained node: '" << syncs[0]->last_error() << "'");
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return syncs[1]->last_error().find(on_swap) != std::string::npos; }, 150s),
                        "trained node: '" << syncs[1]->last_error() << "'");

  // Both go on: the untrained one buffers, the trained one stays on v1, takes vectors and answers.
  std::vector<std::uint64_t> extra_ids = {100000, 100001};
  std::vector<float> extra(x.begin(), x.begin() + 2 * d);
  for (engine* e : {fresh.get(), serving.get()}) BOOST_REQUIRE(e->upsert(extra_ids.data(), extra.data(), 2));
  auto fs = fresh->stats();
  BOOST_REQUIRE(fs);
  BOOST_TEST(fs->codebook_version == 0u);
  BOOST_TEST(fs->buffered == n / 2 + 2);
  auto ss = serving->stats();
  BOOST_REQUIRE(ss);
  BOOST_TEST(ss->codebook_version == 1u);
  BOOST_TEST(ss->vectors == n / 2 + 2);
  BOOST_TEST(ss->swaps == 0u);
  auto hit = serving->search(std::vector<float>(extra.begin(), extra.begin() + d)).nprobes(16).limit(1).to_list();
  BOOST_REQUIRE_MESSAGE(hit, (hit ? "" : hit.error().to_string()));
  BOOST_REQUIRE(!hit->hits.empty());

  // v3 trained with the index's parameters: installed by one, swapped to by the other.
  auto v3 = codebook_set::train(params(), x.data(), n, 3);
  BOOST_REQUIRE(v3);
  BOOST_REQUIRE(publish_codebooks(cfg, bootstrap, **v3, "pq-publisher", 10000ms));
  for (int i = 0; i < 2; ++i)
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return syncs[i]->version() == 3; }, 150s),
                          "node " << i << " did not take v3: " << syncs[i]->last_error());
  fs = fresh->stats();
  ss = serving->stats();
  BOOST_REQUIRE(fs && ss);
  BOOST_TEST(fs->codebook_version == 3u);
  BOOST_TEST(fs->buffered == 0u);
  BOOST_TEST(fs->vectors == n / 2 + 2);
  BOOST_TEST(ss->codebook_version == 3u);
  BOOST_TEST(ss->vectors == n / 2 + 2);
  syncs.clear();
}
