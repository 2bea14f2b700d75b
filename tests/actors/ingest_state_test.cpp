// ingest_state: buffering until training, validation errors, last-write-wins, routing.
#define BOOST_TEST_MODULE ingest_state
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "actors/ingest_state.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;

namespace {
constexpr std::size_t d = 8;
index_params params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 8;
  p.num_sub_vectors = 2;
  p.num_bits = 4;
  p.max_iterations = 5;
  return p;
}
std::size_t routed_ids(const routed_batch& b) {
  std::size_t n = 0;
  for (const auto& u : b.updates) n += u.ids.size();
  return n;
}
}  // namespace

BOOST_AUTO_TEST_CASE(buffers_until_train_after_then_trains_and_routes_everything) {
  ingest_state s(3);
  BOOST_REQUIRE(s.create_index(params(), 500));
  auto x = test::clustered_data(600, d, 10, 3);
  auto ids = test::iota_ids(600);
  auto first = s.upsert(ids.data(), x.data(), 499, d);
  BOOST_REQUIRE(first);
  BOOST_CHECK(!first->new_codebooks);
  BOOST_CHECK_EQUAL(routed_ids(*first), 0u);
  BOOST_CHECK_EQUAL(s.counters().buffered, 499u);
  auto second = s.upsert(ids.data() + 499, x.data() + 499 * d, 101, d);
  BOOST_REQUIRE(second);
  BOOST_REQUIRE(second->new_codebooks);
  BOOST_CHECK_EQUAL(routed_ids(*second), 600u);
  for (std::uint32_t p = 0; p < 3; ++p)
    for (auto l : second->updates[p].lists) BOOST_CHECK_EQUAL(l % 3, p);
  BOOST_CHECK(s.trained());
  BOOST_CHECK_EQUAL(s.size(), 600u);
}

BOOST_AUTO_TEST_CASE(wrong_dimension_and_non_finite_values_are_rejected_with_their_value) {
  ingest_state s(2);
  BOOST_REQUIRE(s.create_index(params(), 100));
  std::vector<float> x(2 * 7, 1.f);
  std::uint64_t ids[2] = {1, 2};
  auto r = s.upsert(ids, x.data(), 2, 7);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error().code() == errc::dimension_mismatch);
  BOOST_CHECK_NE(r.error().message().find("dimension=7"), std::string::npos);
  std::vector<float> y(2 * d, 1.f);
  y[d + 3] = std::nanf("");
  auto r2 = s.upsert(ids, y.data(), 2, d);
  BOOST_REQUIRE(!r2);
  BOOST_CHECK(r2.error().code() == errc::non_finite);
  BOOST_CHECK_NE(r2.error().message().find("id=2"), std::string::npos);
  BOOST_CHECK_EQUAL(s.counters().rejected, 2u);
  BOOST_CHECK_EQUAL(s.size(), 0u);
}

BOOST_AUTO_TEST_CASE(upsert_before_create_index_is_an_error) {
  ingest_state s(2);
  std::uint64_t id = 1;
  float v[d] = {};
  auto r = s.upsert(&id, v, 1, d);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error().code() == errc::not_trained);
}

BOOST_AUTO_TEST_CASE(last_occurrence_of_a_repeated_id_wins) {
  ingest_state s(2);
  BOOST_REQUIRE(s.create_index(params(), 300));
  auto x = test::clustered_data(300, d, 10, 4);
  auto ids = test::iota_ids(300);
  BOOST_REQUIRE(s.upsert(ids.data(), x.data(), 300, d));
  BOOST_REQUIRE(s.trained());
  std::uint64_t same[3] = {5, 5, 5};
  auto b = s.upsert(same, x.data() + 10 * d, 3, d);
  BOOST_REQUIRE(b);
  BOOST_CHECK_EQUAL(routed_ids(*b), 1u);
  for (const auto& u : b->updates)
    if (!u.ids.empty()) {
      // The prepared vector (l2: unchanged) is the third one.
      for (std::size_t j = 0; j < d; ++j) BOOST_CHECK_EQUAL(u.vectors[j], x[12 * d + j]);
    }
}

BOOST_AUTO_TEST_CASE(delete_of_a_buffered_id_drops_it_before_training) {
  ingest_state s(2);
  BOOST_REQUIRE(s.create_index(params(), 1000));
  auto x = test::clustered_data(10, d, 2, 4);
  auto ids = test::iota_ids(10);
  BOOST_REQUIRE(s.upsert(ids.data(), x.data(), 10, d));
  BOOST_REQUIRE(s.remove(ids.data(), 4));
  BOOST_CHECK_EQUAL(s.size(), 6u);
}

BOOST_AUTO_TEST_CASE(offsets_track_the_next_record_per_topic_partition) {
  ingest_state s(1);
  s.note_offset("v", 0, 10);
  s.note_offset("v", 0, 4);
  s.note_offset("v", 1, 0);
  BOOST_CHECK_EQUAL((s.offsets().at({"v", 0})), 11);
  BOOST_CHECK_EQUAL((s.offsets().at({"v", 1})), 1);
}
