// List rebalancing in a running engine (issue 6; retrain.rebalance, actors/rebalance_check.cpp,
// index/centroid_rebalance.hpp): a stream that piles into one region makes lists grow past 4× the mean;
// the engine splits them through a hot swap while answering searches, afterwards every list is within
// [0.25, 4]× the mean, nothing is lost, recall against brute force holds, and a restart from the
// checkpoint answers exactly as before it. engine::rebalance() does the same on demand.
#define BOOST_TEST_MODULE list_rebalance_engine
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <random>
#include <vector>

#include "actors/engine.hpp"
#include "index/centroid_rebalance.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n_base = 3200, n_skew = 24000, n = n_base + n_skew, nq = 200;

/// n_base rows spread over 16 blobs (the first training sees only these), then n_skew rows of which
/// half lie around one hot spot: its list grows to about 7× the mean, the others stay above a quarter.
std::vector<float> skewed_stream(std::uint64_t seed) {
  std::vector<float> x = test::clustered_data(n, d, 16, seed);  // the same 16 blobs throughout
  const std::vector<float> spread(x.begin() + n_base * d, x.end());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> hot(d);
  for (auto& v : hot) v = g(rng);
  x.resize(n * d);
  for (std::size_t i = 0; i < n_skew; ++i)
    for (std::size_t j = 0; j < d; ++j) x[(n_base + i) * d + j] = i % 2 ? spread[i * d + j] : hot[j] + 0.3f * g(rng);
  return x;
}

engine_options options(const std::string& dir, bool rebalance) {
  engine_options o = test::explicit_retrain_options(dir, n_base, 8000);
  o.retrain.rebalance = rebalance;
  o.retrain.rebalance_check_ms = 100;
  return o;
}

rebalance_options bounds() {
  rebalance_options r;
  r.split_factor = 4.0;
  r.merge_factor = 0.25;
  return r;
}

/// Live entries per list, from the engine's stats.
std::vector<std::uint64_t> list_sizes(const engine_stats& s) {
  std::vector<std::uint64_t> sizes;
  for (const auto& [list, live] : s.list_sizes) {
    if (list >= sizes.size()) sizes.resize(list + 1, 0);
    sizes[list] = live;
  }
  return sizes;
}

std::vector<std::vector<search_hit>> answers(const engine& e, const std::vector<float>& q) {
  std::vector<std::vector<search_hit>> out;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = e.search(q.data() + i * d, d).nprobes(4).limit(10).refine_factor(10).to_list();
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    BOOST_REQUIRE(!r->partial);
    out.push_back(r->hits);
  }
  return out;
}

double recall(const std::vector<std::vector<search_hit>>& got, const std::vector<float>& x, const std::vector<float>& q) {
  double sum = 0;
  for (std::size_t i = 0; i < nq; ++i) {
    std::vector<std::uint64_t> found;
    for (const auto& h : got[i]) found.push_back(h.id);
    sum += test::recall(found, test::brute_force(metric::l2, q.data() + i * d, x.data(), n, d, 10));
  }
  return sum / double(nq);
}

/// Streams x into a new engine (the first n_base rows train version 1), returns it.
std::unique_ptr<engine> fill(const engine_options& o, const std::vector<float>& x) {
  auto e = test::open_engine(o);
  BOOST_REQUIRE(e->create_index(test::small_index_params(d)));
  const auto ids = test::iota_ids(n);
  for (std::size_t off = 0; off < n; off += 1600) BOOST_REQUIRE(e->upsert(ids.data() + off, x.data() + off * d, 1600));
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_skewed_stream_splits_lists_in_a_running_engine_and_nothing_is_lost) {
  const auto x = skewed_stream(31);
  std::vector<float> q(nq * d);  // queries where the stream went: rows of it, slightly moved
  {
    std::mt19937_64 rng(5);
    std::normal_distribution<float> g(0.f, 0.05f);
    for (std::size_t i = 0; i < nq; ++i)
      for (std::size_t j = 0; j < d; ++j) q[i * d + j] = x[(n_base + (i * 97) % n_skew) * d + j] + g(rng);
  }

  // The reference: the same stream without rebalancing keeps its 16 lists, two of them far too big.
  double recall_without = 0;
  {
    test::scratch_dir dir("rebalance-off");
    auto e = fill(options(dir.path.string(), false), x);
    const auto s = test::stats_of(*e);
    BOOST_TEST(s.rebalances == 0u);
    BOOST_TEST(lists_out_of_bounds(list_sizes(s), bounds()));
    recall_without = recall(answers(*e, q), x, q);
  }

  test::scratch_dir dir("rebalance-on");
  auto e = fill(options(dir.path.string(), true), x);
  // Rebalancing runs in the background; searches go on meanwhile and are answered in full.
  engine_stats s;
  std::size_t searched = 0;
  const bool balanced = test::wait_for(
      [&] {
        auto r = e->search(q.data() + (searched % nq) * d, d).nprobes(4).limit(10).to_list();
        BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
        BOOST_REQUIRE(!r->partial);
        BOOST_REQUIRE_EQUAL(r->hits.size(), 10u);
        ++searched;
        s = test::stats_of(*e);
        return s.rebalances >= 1 && s.retrain_phase == "idle" && !lists_out_of_bounds(list_sizes(s), bounds());
      },
      150s);
  BOOST_TEST_MESSAGE("rebalances " << s.rebalances << ", swaps " << s.swaps << ", lists " << list_sizes(s).size()
                                   << ", last plan: " << s.last_rebalance << "; " << searched << " searches meanwhile");
  BOOST_REQUIRE_MESSAGE(balanced, "lists still out of bounds after 150 s: " << s.last_rebalance << ", phase "
                                                                           << s.retrain_phase << ", rebalances "
                                                                           << s.rebalances);
  BOOST_TEST(s.failed_swaps == 0u);
  BOOST_TEST(s.vectors == n);  // nothing lost in the swaps
  auto cb = e->codebooks();
  BOOST_REQUIRE(cb && *cb);
  BOOST_TEST((*cb)->num_partitions() > 16u);  // the hot list was split
  BOOST_TEST(s.last_rebalance.find("0 splits") == std::string::npos, s.last_rebalance);
  BOOST_TEST(list_sizes(s).size() == (*cb)->num_partitions());

  const auto before = answers(*e, q);
  const double recall_with = recall(before, x, q);
  BOOST_TEST_MESSAGE("recall@10 nprobes 4 refine 10: rebalanced " << recall_with << ", not rebalanced " << recall_without);
  BOOST_TEST(recall_with >= 0.8);
  BOOST_TEST(recall_with >= recall_without - 0.02);

  // A restart restores the rebalanced version (its list count differs from index.num_partitions) and
  // answers exactly as before.
  BOOST_REQUIRE(e->checkpoint());
  e.reset();
  auto again = test::open_engine(options(dir.path.string(), true));
  BOOST_REQUIRE(again->create_index(test::small_index_params(d)));  // the restored index: a no-op
  BOOST_TEST(test::stats_of(*again).vectors == n);
  auto restored = again->codebooks();
  BOOST_REQUIRE(restored && *restored);
  BOOST_TEST((*restored)->num_partitions() == (*cb)->num_partitions());
  const auto after = answers(*again, q);
  for (std::size_t i = 0; i < nq; ++i) test::check_same(after[i], before[i]);
}

// engine::rebalance(): the same plan and swap on demand, with the automatic checks off.
BOOST_AUTO_TEST_CASE(rebalance_on_demand_returns_the_version_that_serves_afterwards) {
  const auto x = skewed_stream(32);
  test::scratch_dir dir("rebalance-demand");
  auto e = fill(options(dir.path.string(), false), x);
  BOOST_REQUIRE(lists_out_of_bounds(list_sizes(test::stats_of(*e)), bounds()));
  std::uint64_t version = 1;
  for (int call = 0; call < 4 && lists_out_of_bounds(list_sizes(test::stats_of(*e)), bounds()); ++call) {
    auto v = e->rebalance();
    BOOST_REQUIRE_MESSAGE(v, (v ? "" : v.error().to_string()));
    BOOST_TEST(*v >= version);
    version = *v;
  }
  const auto s = test::stats_of(*e);
  BOOST_TEST(!lists_out_of_bounds(list_sizes(s), bounds()), "still out of bounds: " << s.last_rebalance);
  BOOST_TEST(s.rebalances >= 1u);
  BOOST_TEST(s.codebook_version == version);
  BOOST_TEST(s.vectors == n);
  // The last swap re-encoded only entries whose list changed centroid or lost them to a new one; the
  // rest kept their codes (index/code_carry.hpp; code_carry_test checks they equal a full encode).
  BOOST_TEST_MESSAGE("last swap: " << s.swap_carried << " codes carried, " << s.swap_reencoded << " re-encoded");
  BOOST_TEST(s.swap_carried + s.swap_reencoded == n);
  BOOST_TEST(s.swap_carried > 0u);
  BOOST_TEST(s.swap_reencoded > 0u);
  // Balanced now: a plan changes nothing and the live version answers.
  auto same = e->rebalance();
  BOOST_REQUIRE_MESSAGE(same, (same ? "" : same.error().to_string()));
  BOOST_TEST(*same == version);
  BOOST_TEST(test::stats_of(*e).last_rebalance.find("nothing to swap") != std::string::npos);

  // Without a reservoir there is nothing to plan on: the error says which setting.
  test::scratch_dir plain("rebalance-plain");
  engine_options o = options(plain.path.string(), false);
  o.retrain.enabled = false;
  auto p = test::open_engine(o);
  BOOST_REQUIRE(p->create_index(test::small_index_params(d)));
  auto refused = p->rebalance();
  BOOST_REQUIRE(!refused);
  BOOST_TEST(refused.error().message().find("retrain.enabled=false") != std::string::npos, refused.error().message());
}

BOOST_AUTO_TEST_CASE(bad_rebalance_settings_are_refused_naming_the_value) {
  test::scratch_dir dir("rebalance-bad");
  engine_options o = options(dir.path.string(), true);
  o.retrain.rebalance_merge = 2.0;
  auto e = engine::open(o);
  BOOST_REQUIRE(!e);
  BOOST_TEST(e.error().message().find("retrain.rebalance_merge=2") != std::string::npos, e.error().message());
  o = options(dir.path.string(), true);
  o.retrain.rebalance_check_ms = 5;
  auto f = engine::open(o);
  BOOST_REQUIRE(!f);
  BOOST_TEST(f.error().message().find("retrain.rebalance_check_ms=5") != std::string::npos, f.error().message());
}
