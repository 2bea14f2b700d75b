#define BOOST_TEST_MODULE polysemous
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "index/ivfpq_index.hpp"
#include "index/polysemous.hpp"
#include "kernels/hamming.hpp"
#include "tests/index/index_test_support.hpp"

// Polysemous codes: the annealed permutation, the Hamming pre-filter in search, its errors and
// save/load. Recall bounds are measured on this data (printed with --log_level=message) minus a margin.
using namespace ivfstream;

namespace {

constexpr std::size_t k_d = 32, k_n = 6000, k_nq = 100, k_k = 10;

/// Data and queries from the same mixture (queries are new draws near the data, as in practice).
const test::data_and_queries& data() {
  static const auto d = test::split_rows(test::clustered_data(k_n + k_nq, k_d, 64, 77), k_n, k_d);
  return d;
}

index_params params(bool polysemous) {
  index_params p;
  p.dimension = k_d;
  p.num_partitions = 16;
  p.num_sub_vectors = 16;
  p.num_bits = 8;
  p.max_iterations = 10;
  p.polysemous = polysemous;
  return p;
}

ivfpq_index build(bool polysemous) { return test::build_index(params(polysemous), data().x.data(), k_n); }

std::vector<std::vector<search_hit>> search_all(const ivfpq_index& index, const search_params& sp) {
  return test::search_each(index, data().q.data(), k_nq, sp);
}

double mean_recall(const std::vector<std::vector<search_hit>>& hits) {
  return test::mean_recall(hits, metric::l2, data().q.data(), data().x.data(), k_n, k_d, k_k);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(polysemous)

BOOST_AUTO_TEST_CASE(annealing_makes_hamming_track_centroid_distance) {
  // k-means-like codebook: 256 points in 4-d from a few blobs, in random order.
  const auto cb = test::clustered_data(256, 4, 8, 5, 0.5f);
  const double before = hamming_distance_correlation(cb.data(), 256, 4);
  polysemous_options opt;
  const auto perm = train_polysemous_permutation(cb.data(), 256, 4, 8, opt);
  std::set<std::uint32_t> seen(perm.begin(), perm.end());
  BOOST_TEST(seen.size() == 256u);  // a bijection of [0, 256)
  BOOST_TEST(*seen.rbegin() == 255u);
  auto permuted = cb;
  permute_codebook(permuted.data(), 256, 4, perm);
  for (std::size_t i = 0; i < 256; ++i)
    BOOST_TEST(std::equal(&cb[i * 4], &cb[i * 4] + 4, &permuted[perm[i] * 4]));
  const double after = hamming_distance_correlation(permuted.data(), 256, 4);
  BOOST_TEST_MESSAGE("Pearson(Hamming, centroid distance): before " << before << " after " << after);
  // measured: before 0.001 (k-means order is arbitrary), after 0.32; a broken annealer stays near 0
  BOOST_TEST(std::abs(before) < 0.1);
  BOOST_TEST(after > 0.25);
}

BOOST_AUTO_TEST_CASE(hamming_filter_matches_a_byte_wise_count) {
  std::mt19937_64 rng(3);
  for (std::size_t bytes : {1u, 7u, 16u, 20u, 72u}) {
    std::vector<std::uint8_t> codes(300 * bytes), q(bytes);
    for (auto& c : codes) c = static_cast<std::uint8_t>(rng());
    for (auto& c : q) c = static_cast<std::uint8_t>(rng());
    for (unsigned ht : {0u, unsigned(bytes * 4), unsigned(bytes * 8)}) {
      std::vector<std::uint32_t> slots(300);
      const std::size_t hits = kernels::hamming_filter(codes.data(), 300, bytes, q.data(), ht, slots.data());
      std::vector<std::uint32_t> want;
      for (std::uint32_t i = 0; i < 300; ++i)
        if (kernels::hamming_distance(&codes[i * bytes], q.data(), bytes) <= ht) want.push_back(i);
      BOOST_TEST(std::vector<std::uint32_t>(slots.begin(), slots.begin() + hits) == want, "bytes=" << bytes << " ht=" << ht);
    }
  }
}

BOOST_AUTO_TEST_CASE(threshold_max_returns_exactly_the_unfiltered_results) {
  const auto index = build(true);
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = 4;
  const auto plain = search_all(index, sp);
  scan_counters c;
  sp.polysemous_ht = 8 * index.codebooks()->code_size();  // 128: every code passes
  sp.counters = &c;
  const auto filtered = search_all(index, sp);
  test::require_same_hits(plain, filtered);
  BOOST_TEST(c.skipped == 0u);
  BOOST_TEST(c.scanned > 0u);
}

BOOST_AUTO_TEST_CASE(filter_skips_most_codes_and_keeps_recall) {
  const auto index = build(true);
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = 4;
  const double plain = mean_recall(search_all(index, sp));
  for (std::size_t ht : {40u, 48u, 56u, 60u}) {
    scan_counters c;
    sp.polysemous_ht = ht;
    sp.counters = &c;
    const double r = mean_recall(search_all(index, sp));
    const double skipped = double(c.skipped) / double(c.skipped + c.scanned);
    BOOST_TEST_MESSAGE("ht=" << ht << " recall@10 " << r << " (unfiltered " << plain << "), skipped " << skipped);
    if (ht == 56) {
      // measured on this data (nprobes 4 of 16 lists): unfiltered 0.839; ht=56 keeps 0.834 while
      // skipping 88% of the codes (ht=48: 0.751, 97%; ht=40: 0.267, 99.5%). Bounds: recall within 0.02
      // of unfiltered (half the measured margin at 48 would fail), and more than 3/4 of codes skipped.
      BOOST_TEST(r >= plain - 0.02);
      BOOST_TEST(skipped > 0.75);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_clear_errors) {
  auto p = params(true);
  p.num_bits = 4;
  auto bad = ivfpq_index::create(p);
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().message().find("num_bits=4") != std::string::npos);
  p = params(true);
  p.metric = metric::dot;
  bad = ivfpq_index::create(p);
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().message().find("metric=dot") != std::string::npos);
  p = params(true);
  p.polysemous_iterations = 0;
  bad = ivfpq_index::create(p);
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().message().find("polysemous_iterations=0") != std::string::npos);

  const auto index = build(true);
  search_params sp;
  sp.polysemous_ht = 129;
  auto hits = index.search(data().q.data(), sp);
  BOOST_REQUIRE(!hits);
  BOOST_TEST(hits.error().message().find("polysemous_ht=129") != std::string::npos);
  BOOST_TEST(hits.error().message().find("[0, 128]") != std::string::npos);
  const auto plain = build(false);
  sp.polysemous_ht = 10;
  hits = plain.search(data().q.data(), sp);
  BOOST_REQUIRE(!hits);
  BOOST_TEST(hits.error().message().find("polysemous=true") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(save_and_load_give_identical_filtered_results) {
  const auto index = build(true);
  const test::temp_dir dir("polysemous_test");
  const std::string path = dir.file("idx.ivfi");
  BOOST_REQUIRE(index.save(path));
  auto loaded = ivfpq_index::load(path);
  BOOST_REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.error().to_string()));
  BOOST_TEST(loaded->params().polysemous);
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = 4;
  sp.polysemous_ht = 48;
  test::require_same_hits(search_all(index, sp), search_all(*loaded, sp));
}

BOOST_AUTO_TEST_SUITE_END()
