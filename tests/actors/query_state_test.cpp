// query_gather: merging partition answers, dedupe, refine order, and the partial flag.
#define BOOST_TEST_MODULE query_state
#include <boost/test/unit_test.hpp>

#include "actors/query_state.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;

BOOST_AUTO_TEST_CASE(merges_local_top_k_into_global_top_k) {
  query_gather g(search_params{3, 10, 0}, {0, 1});
  g.add(scan_reply{0, {{1, 0.1f, 0.1f}, {2, 0.5f, 0.5f}, {3, 0.9f, 0.9f}}, std::nullopt});
  BOOST_CHECK(!g.done());
  g.add(scan_reply{1, {{4, 0.2f, 0.2f}, {5, 0.3f, 0.3f}}, std::nullopt});
  BOOST_REQUIRE(g.done());
  auto r = g.finish();
  BOOST_CHECK(!r.partial);
  std::vector<std::uint64_t> ids;
  for (auto& h : r.hits) ids.push_back(h.id);
  BOOST_TEST(ids == (std::vector<std::uint64_t>{1, 4, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_id_seen_twice_is_reported_once_with_its_best_distance) {
  query_gather g(search_params{3, 10, 0}, {0, 1});
  g.add(scan_reply{0, {{7, 0.4f, 0.4f}, {8, 0.6f, 0.6f}}, std::nullopt});
  g.add(scan_reply{1, {{7, 0.2f, 0.2f}}, std::nullopt});
  auto r = g.finish();
  BOOST_REQUIRE_EQUAL(r.hits.size(), 2u);
  BOOST_CHECK_EQUAL(r.hits[0].id, 7u);
  BOOST_CHECK_EQUAL(r.hits[0].distance, 0.2f);
  BOOST_CHECK_EQUAL(r.hits[1].id, 8u);
}

BOOST_AUTO_TEST_CASE(refine_keeps_k_times_factor_by_adc_then_orders_by_exact_distance) {
  // k = 1, refine_factor = 2: the two best by ADC (ids 1, 2) are re-ranked; id 3 (exact 0) is not a
  // candidate because its ADC distance ranks third.
  query_gather g(search_params{1, 10, 2}, {0});
  g.add(scan_reply{0, {{1, 0.1f, 0.9f}, {2, 0.2f, 0.5f}, {3, 0.3f, 0.0f}}, std::nullopt});
  auto r = g.finish();
  BOOST_REQUIRE_EQUAL(r.hits.size(), 1u);
  BOOST_CHECK_EQUAL(r.hits[0].id, 2u);
  BOOST_CHECK_EQUAL(r.hits[0].distance, 0.5f);
}

BOOST_AUTO_TEST_CASE(a_missed_or_failed_partition_makes_the_answer_partial) {
  query_gather g(search_params{2, 10, 0}, {0, 1, 2});
  g.add(scan_reply{0, {{1, 0.1f, 0.1f}}, std::nullopt});
  g.miss(2);
  g.add(scan_reply{1, {}, fail(errc::version_mismatch, "skew")});
  BOOST_REQUIRE(g.done());
  auto r = g.finish();
  BOOST_CHECK(r.partial);
  BOOST_TEST(r.missing_partitions == (std::vector<std::uint32_t>{1, 2}), boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(r.hits.size(), 1u);
}
