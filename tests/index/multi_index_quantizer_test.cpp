#define BOOST_TEST_MODULE multi_index_quantizer
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include "index/ivfpq_index.hpp"
#include "index/list_rebalance.hpp"
#include "index/multi_index_quantizer.hpp"
#include "tests/index/index_test_support.hpp"

// Inverted multi-index coarse quantizer (index_params::coarse_quantizer = imi): multi-sequence probing
// against a brute force over all K² cells, recall against brute force, save/load, errors, and the cost
// of the many empty lists a fine IMI grid has. Recall bounds: measured here (--log_level=message) minus
// a margin.
using namespace ivfstream;

namespace {

constexpr std::size_t k_d = 32, k_n = 6000, k_nq = 100, k_k = 10;

const test::data_and_queries& data() {
  static const auto d = test::split_rows(test::clustered_data(k_n + k_nq, k_d, 64, 91), k_n, k_d);
  return d;
}

index_params imi_params(unsigned bits, metric m = metric::l2) {
  index_params p;
  p.dimension = k_d;
  p.metric = m;
  p.coarse_quantizer = coarse_quantizer_kind::imi;
  p.imi_bits = bits;
  p.num_partitions = std::size_t{1} << (2 * bits);
  p.num_sub_vectors = 16;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

ivfpq_index build(const index_params& p) { return test::build_index(p, data().x.data(), k_n); }

/// All K² cells sorted by (s1[i] + s2[j], cell): the reference multi_sequence must match.
std::vector<std::pair<float, std::uint32_t>> brute_cells(const float* s1, const float* s2, std::size_t K) {
  std::vector<std::pair<float, std::uint32_t>> all;
  for (std::size_t i = 0; i < K; ++i)
    for (std::size_t j = 0; j < K; ++j) all.emplace_back(s1[i] + s2[j], static_cast<std::uint32_t>(i * K + j));
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<std::vector<search_hit>> search_all(const ivfpq_index& index, const search_params& sp) {
  return test::search_each(index, data().q.data(), k_nq, sp);
}

double mean_recall(const std::vector<std::vector<search_hit>>& hits) {
  return test::mean_recall(hits, metric::l2, data().q.data(), data().x.data(), k_n, k_d, k_k);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(multi_sequence_probing)

BOOST_AUTO_TEST_CASE(returns_exactly_the_nearest_cells_ties_included) {
  // Integer keys in a small range: many ties, inside and at the boundary of the nprobes cells.
  std::mt19937_64 rng(5);
  for (std::size_t K : {1u, 2u, 7u, 32u}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> s1(K), s2(K);
      std::uniform_int_distribution<int> key(0, trial % 2 ? 4 : 1000);
      for (auto& v : s1) v = static_cast<float>(key(rng));
      for (auto& v : s2) v = static_cast<float>(key(rng));
      const auto truth = brute_cells(s1.data(), s2.data(), K);
      multi_sequence_scratch sc;
      for (std::size_t count : {std::size_t{1}, std::size_t{3}, K * K / 2 + 1, K * K}) {
        if (count == 0 || count > K * K) continue;
        std::vector<std::uint32_t> cells(count);
        std::vector<float> keys(count);
        multi_sequence(s1.data(), s2.data(), K, count, cells.data(), keys.data(), sc);
        for (std::size_t c = 0; c < count; ++c) {
          BOOST_TEST(cells[c] == truth[c].second, "K=" << K << " count=" << count << " rank " << c);
          BOOST_TEST(keys[c] == truth[c].first);
        }
        // The walk visits O(count) cells, not K²: at most the popped ones (count + boundary ties)
        // plus their two successors each.
        if (trial % 2 == 0 && count < K * K / 4) BOOST_TEST(sc.out.size() + sc.heap.size() <= 3 * count + 3);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(index_probes_the_nearest_cells_in_order) {
  // The probed lists of a trained IMI are the nprobes cells nearest to q by ‖q − (c1_i ‖ c2_j)‖²,
  // compared with all K² cells (true distances in double; equal up to float rounding of the halves).
  for (metric m : {metric::l2, metric::dot}) {
    const index_params p = imi_params(4, m);
    auto cb = codebook_set::train(p, data().x.data(), k_n);
    BOOST_REQUIRE(cb);
    const auto* imi = (*cb)->imi();
    BOOST_REQUIRE(imi != nullptr);
    const std::size_t cells = imi->num_cells(), nprobes = 37;
    std::vector<float> c(k_d);
    for (std::size_t qi = 0; qi < 20; ++qi) {
      const float* q = &data().q[qi * k_d];
      auto plan = (*cb)->plan_query(q, nprobes);
      BOOST_REQUIRE(plan);
      BOOST_REQUIRE_EQUAL(plan->lists.size(), nprobes);
      std::vector<double> truth(cells);  // smaller = nearer (dot: −⟨q, c⟩)
      for (std::uint32_t l = 0; l < cells; ++l) {
        (*cb)->list_centroid(l, c.data());
        double s = 0;
        for (std::size_t j = 0; j < k_d; ++j)
          s += m == metric::dot ? -double(q[j]) * c[j] : (double(q[j]) - c[j]) * (double(q[j]) - c[j]);
        truth[l] = s;
      }
      std::vector<double> sorted = truth;
      std::sort(sorted.begin(), sorted.end());
      const double tol = 1e-3 * (1 + std::abs(sorted[nprobes]));
      std::vector<std::uint32_t> seen = plan->lists;
      std::sort(seen.begin(), seen.end());
      BOOST_TEST((std::adjacent_find(seen.begin(), seen.end()) == seen.end()), "a cell is probed twice");
      for (std::size_t r = 0; r < nprobes; ++r) {
        const std::uint32_t l = plan->lists[r];
        BOOST_TEST(std::abs(truth[l] - sorted[r]) <= tol, "rank " << r << ": cell " << l << " at " << truth[l]
                                                                   << ", rank-" << r << " cell at " << sorted[r]);
        const double coarse = m == metric::dot ? -double(plan->coarse[r]) : double(plan->coarse[r]);
        BOOST_TEST(std::abs(coarse - truth[l]) <= tol);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(imi_index)

BOOST_AUTO_TEST_CASE(recall_against_brute_force) {
  // 256 cells over 6000 clustered vectors, M = 16 × 8 bits. Measured (this data, seed 91):
  // recall@10 0.824 at nprobes 32, 1.0 with refine 4; bounds = measured − ~0.05-0.07.
  const ivfpq_index index = build(imi_params(4));
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = 32;
  const double r32 = mean_recall(search_all(index, sp));
  sp.refine_factor = 4;
  const double r32_refined = mean_recall(search_all(index, sp));
  BOOST_TEST_MESSAGE("imi 16x16 cells recall@10 nprobes 32: " << r32 << ", refine 4: " << r32_refined);
  BOOST_TEST(r32 >= 0.75);
  BOOST_TEST(r32_refined >= 0.95);
  // batch answers what single queries answer
  auto batch = index.search_batch(data().q.data(), k_nq, sp);
  BOOST_REQUIRE(batch);
  test::require_same_hits(*batch, search_all(index, sp));
}

BOOST_AUTO_TEST_CASE(save_and_load_give_identical_results) {
  const ivfpq_index index = build(imi_params(3, metric::cosine));
  const test::temp_dir dir("imi_test");
  const std::string path = dir.file("idx.ivfi");
  BOOST_REQUIRE(index.save(path));
  auto loaded = ivfpq_index::load(path);
  BOOST_REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.error().to_string()));
  BOOST_TEST(loaded->params().imi());
  BOOST_TEST(loaded->params().imi_bits == 3u);
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = 12;
  test::require_same_hits(search_all(index, sp), search_all(*loaded, sp));
  sp.refine_factor = 2;
  test::require_same_hits(search_all(index, sp), search_all(*loaded, sp));
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_clear_errors) {
  auto expect = [](index_params p, const std::string& what) {
    auto ix = ivfpq_index::create(p);
    BOOST_REQUIRE(!ix);
    BOOST_TEST(ix.error().message().find(what) != std::string::npos, ix.error().message() << " lacks " << what);
  };
  index_params p = imi_params(4);
  p.imi_bits = 0;
  expect(p, "imi_bits=0");
  p.imi_bits = 11;
  expect(p, "imi_bits=11");
  p = imi_params(4);
  p.num_partitions = 256 + 1;
  expect(p, "num_partitions=257");
  expect(p, "2^(2*imi_bits)=256");
  p = imi_params(1);
  p.dimension = 1;
  p.num_sub_vectors = 1;
  expect(p, "dimension=1");
  p = imi_params(4);
  p.coarse_quantizer = static_cast<coarse_quantizer_kind>(7);
  expect(p, "coarse_quantizer=7");
  // training needs 2^imi_bits vectors per half
  auto ix = ivfpq_index::create(imi_params(10));
  BOOST_REQUIRE(ix);
  const auto st = ix->train(data().x.data(), 300);
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().message().find("imi_bits=10") != std::string::npos, st.error().message());
}

BOOST_AUTO_TEST_CASE(rebalance_and_foreign_codebooks_are_refused) {
  ivfpq_index index = build(imi_params(3));
  auto reb = rebalance_lists(index);
  BOOST_REQUIRE(!reb);
  BOOST_TEST(reb.error().message().find("coarse_quantizer=imi") != std::string::npos, reb.error().message());
  // flat codebooks with the same num_partitions (64) are not the IMI's cells
  index_params flat = imi_params(3);
  flat.coarse_quantizer = coarse_quantizer_kind::flat;
  auto cb = codebook_set::train(flat, data().x.data(), k_n);
  BOOST_REQUIRE(cb);
  const auto st = index.adopt_codebooks(*cb);
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().message().find("coarse_quantizer=flat") != std::string::npos, st.error().message());
}

BOOST_AUTO_TEST_CASE(a_million_cells_cost_little_when_empty) {
  // imi_bits = 10: 2^20 cells for 4096 vectors, almost all empty. The lists must cost bytes, not KiB,
  // each: measured as the index's whole list storage (objects + allocations) per cell.
  index_params p;
  p.dimension = 8;
  p.coarse_quantizer = coarse_quantizer_kind::imi;
  p.imi_bits = 10;
  p.num_partitions = std::size_t{1} << 20;
  p.num_sub_vectors = 4;
  p.num_bits = 4;
  p.max_iterations = 3;
  p.sample_rate = 4;
  const std::size_t n = 4096;
  const auto x = test::clustered_data(n, 8, 32, 3);
  auto ix = ivfpq_index::create(p);
  BOOST_REQUIRE(ix);
  BOOST_REQUIRE(ix->train(x.data(), n));
  const auto ids = test::iota_ids(n);
  BOOST_REQUIRE(ix->add(ids.data(), x.data(), n));
  const std::size_t lists = ix->lists().size();
  BOOST_REQUIRE_EQUAL(lists, std::size_t{1} << 20);
  std::size_t objects = 0;
  for (const auto& l : ix->lists()) objects += l.object_bytes();
  const double per_list = double(objects + ix->memory().list_capacity_bytes) / double(lists);
  BOOST_TEST_MESSAGE("bytes per list at 2^20 cells, 4096 vectors: " << per_list << " (sizeof " << sizeof(inverted_list)
                                                                    << ")");
  // Measured 17.4 B (16 B list objects + the few non-empty lists' arrays); before the body of a list was
  // allocated at its first entry it was 296 B (ten std::vectors inline, 310 MB for the 2^20 cells).
  BOOST_TEST(per_list <= 32.0);
  // and it searches: a stored vector finds itself (refined: exact distance 0) at nprobes 64
  search_params sp;
  sp.limit = 1;
  sp.nprobes = 64;
  sp.refine_factor = 10;
  std::size_t self = 0;
  for (std::size_t i = 0; i < 200; ++i) {
    auto hits = ix->search(&x[i * 8], sp);
    BOOST_REQUIRE(hits);
    self += !hits->empty() && (*hits)[0].id == i;
  }
  BOOST_TEST(self >= 150u);
}

BOOST_AUTO_TEST_SUITE_END()
