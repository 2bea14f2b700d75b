// Rebalancing inverted lists under a skewed stream (index/list_rebalance.hpp): oversized lists split,
// undersized ones merge, and after every single step the index stays consistent and answers with the
// recall of brute force it had.
#define BOOST_TEST_MODULE list_rebalance_test
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <set>
#include <unistd.h>
#include <filesystem>
#include <random>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "index/list_rebalance.hpp"
#include "synthetic_data.hpp"

using namespace ivfstream;

namespace {

constexpr std::size_t k_dim = 16;

index_params params() {
  index_params p;
  p.dimension = k_dim;
  p.num_partitions = 16;
  p.num_sub_vectors = 8;
  p.num_bits = 6;
  p.max_iterations = 10;
  return p;
}

/// n rows around two nearby hot spots (a stream that piles into one region).
std::vector<float> hot_spots(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> a(k_dim), b(k_dim), x(n * k_dim);
  for (std::size_t j = 0; j < k_dim; ++j) {
    a[j] = g(rng);
    b[j] = a[j] + 0.6f * g(rng);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k_dim; ++j) x[i * k_dim + j] = (i % 2 ? a[j] : b[j]) + 0.3f * g(rng);
  return x;
}

/// Every live id's location names a live slot that holds it; live slots total size().
void check_consistent(const ivfpq_index& ix) {
  BOOST_REQUIRE_EQUAL(ix.lists().size(), ix.params().num_partitions);
  BOOST_REQUIRE_EQUAL(ix.codebooks()->num_partitions(), ix.params().num_partitions);
  std::size_t live = 0;
  for (std::uint32_t l = 0; l < ix.lists().size(); ++l) {
    const auto& list = ix.lists()[l];
    for (std::uint32_t s = 0; s < list.size(); ++s) {
      if (!list.is_live(s)) continue;
      ++live;
      const auto loc = ix.find(list.id(s));
      BOOST_REQUIRE(loc);
      BOOST_REQUIRE_EQUAL(loc->list, l);
      BOOST_REQUIRE_EQUAL(loc->slot, s);
    }
  }
  BOOST_REQUIRE_EQUAL(live, ix.size());
}

double mean_recall(const ivfpq_index& ix, const std::vector<float>& x, std::size_t nprobes) {
  search_params sp;
  sp.limit = 10;
  sp.nprobes = nprobes;
  sp.refine_factor = 4;
  const std::size_t n = x.size() / k_dim, nq = 40;
  double r = 0;
  for (std::size_t q = 0; q < nq; ++q) {
    const float* query = x.data() + ((q * 7919) % n) * k_dim;
    auto hits = ix.search(query, sp);
    BOOST_REQUIRE(hits);
    std::vector<std::uint64_t> found;
    for (const auto& h : *hits) found.push_back(h.id);
    r += test::recall(found, test::brute_force(metric::l2, query, x.data(), n, k_dim, 10));
  }
  return r / double(nq);
}

struct skewed_index {
  std::vector<float> all;
  ivfpq_index ix;
};

skewed_index make_skewed() {
  auto base = test::clustered_data(3200, k_dim, 16, 5);
  auto ix = ivfpq_index::create(params());
  BOOST_REQUIRE(ix);
  BOOST_REQUIRE(ix->train(base.data(), 3200));
  auto hot = hot_spots(6400, 9);
  std::vector<float> all = base;
  all.insert(all.end(), hot.begin(), hot.end());
  const auto ids = test::iota_ids(all.size() / k_dim);
  BOOST_REQUIRE(ix->add(ids.data(), all.data(), ids.size()));
  return {std::move(all), std::move(*ix)};
}

std::size_t largest(const ivfpq_index& ix) {
  std::size_t m = 0;
  for (const auto& l : ix.lists()) m = std::max(m, l.live());
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_skewed_stream_splits_lists_into_the_target_range_and_recall_holds) {
  auto [all, ix] = make_skewed();
  const std::size_t target = 200;
  BOOST_REQUIRE_GT(largest(ix), 4 * target);  // the stream piled up
  rebalance_options opt;
  opt.target_list_size = target;
  // one step at a time: the index is consistent and searchable after every split or merge
  std::size_t splits = 0, merges = 0;
  for (int step = 0; step < 200; ++step) {
    opt.max_steps = 1;
    auto rep = rebalance_lists(ix, opt);
    BOOST_REQUIRE(rep);
    check_consistent(ix);
    if (rep->splits + rep->merges == 0) break;
    splits += rep->splits;
    merges += rep->merges;
    if (step % 8 == 0) BOOST_TEST(mean_recall(ix, all, 8) >= 0.8);
  }
  BOOST_TEST_MESSAGE("splits " << splits << " merges " << merges << " lists " << ix.lists().size());
  BOOST_TEST(splits > 0);
  for (const auto& l : ix.lists()) {
    BOOST_TEST(l.live() <= 4 * target);
    BOOST_TEST(l.live() >= target / 4);
  }
  BOOST_TEST(ix.size() == all.size() / k_dim);  // nothing lost
  const double r = mean_recall(ix, all, 8);
  BOOST_TEST_MESSAGE("recall@10 nprobes 8 refine 4 after rebalancing: " << r);
  BOOST_TEST(r >= 0.9);
}

BOOST_AUTO_TEST_CASE(rebalanced_index_saves_and_loads_with_identical_results) {
  auto [all, ix] = make_skewed();
  rebalance_options opt;
  opt.target_list_size = 200;
  auto rep = rebalance_lists(ix, opt);
  BOOST_REQUIRE(rep);
  BOOST_REQUIRE_GT(rep->splits, 0u);
  BOOST_TEST(ix.codebooks()->version() > 1u);
  const auto dir = std::filesystem::temp_directory_path() / ("rebalance_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "idx.ivfi").string();
  BOOST_REQUIRE(ix.save(path));
  auto back = ivfpq_index::load(path);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->params().num_partitions == ix.params().num_partitions);
  search_params sp;
  sp.nprobes = 6;
  for (std::size_t q = 0; q < 20; ++q) {
    const float* query = all.data() + q * 331 * k_dim;
    auto a = ix.search(query, sp);
    auto b = back->search(query, sp);
    BOOST_REQUIRE(a && b);
    BOOST_REQUIRE_EQUAL(a->size(), b->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      BOOST_TEST((*a)[i].id == (*b)[i].id);
      BOOST_TEST((*a)[i].distance == (*b)[i].distance);
    }
  }
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_list_emptied_by_deletes_is_merged_and_its_entries_stay_found) {
  auto base = test::clustered_data(3200, k_dim, 16, 6);
  auto ix = ivfpq_index::create(params());
  BOOST_REQUIRE(ix);
  BOOST_REQUIRE(ix->train(base.data(), 3200));
  const auto ids = test::iota_ids(3200);
  BOOST_REQUIRE(ix->add(ids.data(), base.data(), 3200));
  // delete 95% of list 3
  std::vector<std::uint64_t> gone;
  const auto& l3 = ix->lists()[3];
  for (std::uint32_t s = 0; s < l3.size(); ++s)
    if (l3.is_live(s) && s % 20 != 0) gone.push_back(l3.id(s));
  BOOST_REQUIRE(ix->remove(gone.data(), gone.size()));
  rebalance_options opt;
  opt.target_list_size = 200;
  auto rep = rebalance_lists(*ix, opt);
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->merges >= 1u);
  BOOST_TEST(ix->params().num_partitions < 16u + rep->splits);
  check_consistent(*ix);
  // every surviving vector is still its own nearest neighbour
  search_params sp;
  sp.limit = 1;
  sp.nprobes = 4;
  sp.refine_factor = 4;
  const std::set<std::uint64_t> deleted(gone.begin(), gone.end());
  for (std::uint64_t id = 0; id < 3200; id += 37) {
    if (deleted.count(id)) continue;
    auto hits = ix->search(base.data() + id * k_dim, sp);
    BOOST_REQUIRE(hits && !hits->empty());
    BOOST_TEST((*hits)[0].id == id);
  }
}

BOOST_AUTO_TEST_CASE(bad_options_and_missing_raw_vectors_are_refused_by_name) {
  auto base = test::clustered_data(1000, k_dim, 8, 7);
  index_params p = params();
  p.keep_raw_vectors = false;
  auto ix = ivfpq_index::create(p);
  BOOST_REQUIRE(ix);
  auto untrained = rebalance_lists(*ix);
  BOOST_REQUIRE(!untrained);
  BOOST_TEST(untrained.error().code() == errc::not_trained);
  BOOST_REQUIRE(ix->train(base.data(), 1000));
  const auto ids = test::iota_ids(1000);
  BOOST_REQUIRE(ix->add(ids.data(), base.data(), 1000));
  auto no_raw = rebalance_lists(*ix);
  BOOST_REQUIRE(!no_raw);
  BOOST_TEST(no_raw.error().message().find("keep_raw_vectors=false") != std::string::npos);
  auto ix2 = ivfpq_index::create(params());
  BOOST_REQUIRE(ix2 && ix2->train(base.data(), 1000));
  rebalance_options bad;
  bad.split_factor = 0.5;
  auto r = rebalance_lists(*ix2, bad);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("split_factor=0.5") != std::string::npos);
}
