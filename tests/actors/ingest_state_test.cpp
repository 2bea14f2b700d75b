// ingest_state: buffering until training, validation errors, last-write-wins, routing.
#define BOOST_TEST_MODULE ingest_state
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

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

// Codebooks from the codebooks topic trained with another quantizer (or coarse quantizer, OPQ, LOPQ,
// polysemous, raw-vector keeping) are refused with both values named; the buffer keeps growing and the
// codebooks trained with the index's own parameters then route all of it.
BOOST_AUTO_TEST_CASE(codebooks_of_another_quantizer_are_refused_naming_both_and_ingest_goes_on) {
  index_params p = params();
  p.num_bits = 8;  // rq/lsq and polysemous need 8-bit codes
  p.num_partitions = 4;
  ingest_state s(2);
  BOOST_REQUIRE(s.create_index(p, 1u << 30));  // trains only when told
  const std::size_t n = 600;
  auto x = test::clustered_data(n, d, 10, 5);
  auto ids = test::iota_ids(n);

  struct variant {
    std::function<void(index_params&)> apply;
    const char* trained;  // "field=value" the codebooks were trained with
    const char* has;      // "field=value" of the index
  };
  const std::vector<variant> variants = {
      {[](index_params& v) { v.quantizer = quantizer_kind::rq; }, "quantizer=rq", "quantizer=pq"},
      {[](index_params& v) { v.quantizer = quantizer_kind::lsq, v.lsq_iterations = 1; }, "quantizer=lsq", "quantizer=pq"},
      {[](index_params& v) { v.coarse_quantizer = coarse_quantizer_kind::imi, v.imi_bits = 1; },
       "coarse_quantizer=imi", "coarse_quantizer=flat"},
      {[](index_params& v) { v.opq = true, v.opq_iterations = 2; }, "opq=true", "opq=false"},
      {[](index_params& v) { v.lopq = true, v.lopq_groups = 2, v.lopq_min_points = 1; }, "lopq=true", "lopq=false"},
      {[](index_params& v) { v.polysemous = true, v.polysemous_iterations = 500; }, "polysemous=true",
       "polysemous=false"},
      {[](index_params& v) { v.keep_raw_vectors = false; }, "keep_raw_vectors=false", "keep_raw_vectors=true"},
  };
  std::size_t buffered = 0;
  for (const auto& v : variants) {
    index_params other = p;
    v.apply(other);
    auto cb = codebook_set::train(other, x.data(), n);
    BOOST_REQUIRE_MESSAGE(cb, (cb ? "" : cb.error().message()));
    auto r = s.install(*cb);
    BOOST_REQUIRE_MESSAGE(!r, v.trained << ": installed");
    BOOST_CHECK(r.error().code() == errc::invalid_argument);
    const std::string want = std::string("install codebooks: they were trained with ") + v.trained +
                             ", the index has " + v.has;
    BOOST_CHECK_EQUAL(r.error().message(), want);
    BOOST_CHECK(!s.trained());
    // The stream goes on: the next vectors are buffered.
    auto b = s.upsert(ids.data() + buffered, x.data() + buffered * d, 50, d);
    BOOST_REQUIRE(b);
    buffered += 50;
    BOOST_CHECK_EQUAL(s.counters().buffered, buffered);
  }
  auto own = codebook_set::train(p, x.data(), n);
  BOOST_REQUIRE(own);
  auto routed = s.install(*own);
  BOOST_REQUIRE_MESSAGE(routed, (routed ? "" : routed.error().message()));
  BOOST_CHECK(routed->new_codebooks == *own);
  BOOST_CHECK_EQUAL(routed_ids(*routed), buffered);
  BOOST_CHECK(s.trained());
  BOOST_CHECK_EQUAL(s.counters().buffered, 0u);
}
