#define BOOST_TEST_MODULE index_params
#include <boost/test/unit_test.hpp>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "tests/index/synthetic_data.hpp"

// Every bad parameter is an error whose message names the value and the allowed set.
using namespace ivfstream;

namespace {

index_params good_params() {
  index_params p;
  p.dimension = 32;
  p.num_partitions = 4;
  p.num_sub_vectors = 8;
  p.num_bits = 4;
  p.max_iterations = 3;
  return p;
}

template <class R>
void expect_error(const R& r, errc code, std::initializer_list<const char*> fragments) {
  BOOST_REQUIRE_MESSAGE(!r, "expected an error");
  BOOST_TEST(r.error().code() == code);
  for (const char* f : fragments)
    BOOST_TEST(r.error().message().find(f) != std::string::npos,
               "message '" << r.error().message() << "' should contain '" << f << "'");
}

ivfpq_index trained_index(metric m = metric::l2) {
  auto p = good_params();
  p.metric = m;
  auto idx = ivfpq_index::create(p);
  BOOST_REQUIRE(idx);
  const auto x = test::clustered_data(400, 32, 4, 3);
  BOOST_REQUIRE(idx->train(x.data(), 400));
  return std::move(*idx);
}

}  // namespace

BOOST_AUTO_TEST_CASE(num_sub_vectors_must_divide_dimension) {
  auto p = good_params();
  p.num_sub_vectors = 5;
  expect_error(ivfpq_index::create(p), errc::invalid_argument, {"num_sub_vectors=5", "divide dimension=32"});
  p.num_sub_vectors = 0;
  expect_error(ivfpq_index::create(p), errc::invalid_argument, {"num_sub_vectors=0"});
}

BOOST_AUTO_TEST_CASE(num_bits_outside_the_set_is_refused) {
  for (unsigned bits : {0u, 1u, 5u, 7u, 9u, 16u}) {
    auto p = good_params();
    p.num_bits = bits;
    expect_error(ivfpq_index::create(p), errc::invalid_argument,
                 {("num_bits=" + std::to_string(bits)).c_str(), "4, 6, 8, 10, 12"});
  }
}

BOOST_AUTO_TEST_CASE(other_build_parameters_are_checked) {
  auto p = good_params();
  p.dimension = 0;
  expect_error(ivfpq_index::create(p), errc::invalid_argument, {"dimension=0", ">= 1"});
  p = good_params();
  p.num_partitions = 0;
  expect_error(ivfpq_index::create(p), errc::invalid_argument, {"num_partitions=0"});
  p = good_params();
  p.max_iterations = 0;
  expect_error(ivfpq_index::create(p), errc::invalid_argument, {"max_iterations=0"});
  p = good_params();
  p.sample_rate = 0;
  expect_error(ivfpq_index::create(p), errc::invalid_argument, {"sample_rate=0"});
  index_options o;
  o.compact_fraction = -0.5;
  expect_error(ivfpq_index::create(good_params(), o), errc::invalid_argument, {"compact_fraction=-0.5", ">= 0"});
}

BOOST_AUTO_TEST_CASE(num_partitions_above_training_vectors_is_refused) {
  auto p = good_params();
  p.num_partitions = 100;
  auto idx = ivfpq_index::create(p);
  BOOST_REQUIRE(idx);
  const auto x = test::clustered_data(50, 32, 4, 1);
  expect_error(idx->train(x.data(), 50), errc::invalid_argument, {"num_partitions=100", "training vectors (50)"});
  expect_error(idx->train(x.data(), 0), errc::invalid_argument, {"training set is empty"});
  BOOST_TEST(!idx->trained());
}

BOOST_AUTO_TEST_CASE(too_few_training_vectors_for_the_pq_codebook) {
  auto p = good_params();
  p.num_bits = 8;
  auto idx = ivfpq_index::create(p);
  BOOST_REQUIRE(idx);
  const auto x = test::clustered_data(200, 32, 4, 1);
  expect_error(idx->train(x.data(), 200), errc::invalid_argument, {"num_bits=8", "256", "got 200"});
}

BOOST_AUTO_TEST_CASE(wrong_dimension_is_refused) {
  auto idx = trained_index();
  std::vector<float> q(64, 0.5f);
  search_params sp;
  expect_error(idx.search(q.data(), 31, sp), errc::dimension_mismatch, {"query dimension=31", "dimension=32"});
  expect_error(idx.search_batch(q.data(), 2, 64, sp), errc::dimension_mismatch, {"dimension=64"});
  const std::uint64_t id = 1;
  expect_error(idx.add(&id, q.data(), 1, 16), errc::dimension_mismatch, {"added vector dimension=16", "32"});
  expect_error(idx.train(q.data(), 1, 33), errc::dimension_mismatch, {"training vector dimension=33"});
  BOOST_TEST(idx.search(q.data(), 32, sp).has_value());
}

BOOST_AUTO_TEST_CASE(non_finite_values_are_refused) {
  auto idx = trained_index();
  std::vector<float> v(3 * 32, 0.25f);
  v[2 * 32 + 7] = std::numeric_limits<float>::quiet_NaN();
  const std::uint64_t ids[3] = {1, 2, 3};
  expect_error(idx.add(ids, v.data(), 3), errc::non_finite, {"vector 2 component 7 is NaN", "finite"});
  BOOST_TEST(idx.size() == 0u);  // all-or-nothing
  std::vector<float> q(32, 0.1f);
  q[3] = std::numeric_limits<float>::infinity();
  search_params sp;
  expect_error(idx.search(q.data(), sp), errc::non_finite, {"query 0 component 3 is Inf"});
  auto p = good_params();
  auto fresh = ivfpq_index::create(p);
  BOOST_REQUIRE(fresh);
  auto x = test::clustered_data(400, 32, 4, 3);
  x[10] = -std::numeric_limits<float>::infinity();
  expect_error(fresh->train(x.data(), 400), errc::non_finite, {"training vector 0 component 10 is Inf"});
}

BOOST_AUTO_TEST_CASE(zero_vector_is_refused_under_cosine) {
  auto idx = trained_index(metric::cosine);
  std::vector<float> zero(32, 0.0f);
  const std::uint64_t id = 5;
  expect_error(idx.add(&id, zero.data(), 1), errc::invalid_argument, {"vector 0 has norm 0", "metric=cosine"});
  search_params sp;
  expect_error(idx.search(zero.data(), sp), errc::invalid_argument, {"query 0 has norm 0"});
}

BOOST_AUTO_TEST_CASE(search_parameters_are_checked) {
  auto idx = trained_index();
  std::vector<float> q(32, 0.1f);
  search_params sp;
  sp.limit = 0;
  expect_error(idx.search(q.data(), sp), errc::invalid_argument, {"limit=0", ">= 1"});
  sp = {};
  sp.nprobes = 0;
  expect_error(idx.search(q.data(), sp), errc::invalid_argument, {"nprobes=0", ">= 1"});
  expect_error(idx.search_batch(q.data(), 1, sp), errc::invalid_argument, {"nprobes=0"});
}

BOOST_AUTO_TEST_CASE(search_and_add_before_training_are_refused) {
  auto idx = ivfpq_index::create(good_params());
  BOOST_REQUIRE(idx);
  std::vector<float> q(32, 0.1f);
  search_params sp;
  expect_error(idx->search(q.data(), sp), errc::not_trained, {"search before train"});
  expect_error(idx->search_batch(q.data(), 1, sp), errc::not_trained, {"search before train"});
  const std::uint64_t id = 1;
  expect_error(idx->add(&id, q.data(), 1), errc::not_trained, {"add before train"});
}

BOOST_AUTO_TEST_CASE(refine_without_raw_vectors_is_refused) {
  auto p = good_params();
  p.keep_raw_vectors = false;
  auto idx = ivfpq_index::create(p);
  BOOST_REQUIRE(idx);
  const auto x = test::clustered_data(400, 32, 4, 3);
  BOOST_REQUIRE(idx->train(x.data(), 400));
  search_params sp;
  sp.refine_factor = 2;
  expect_error(idx->search(x.data(), sp), errc::invalid_argument, {"refine_factor=2", "keep_raw_vectors=false"});
  sp.refine_factor = 0;
  BOOST_TEST(idx->search(x.data(), sp).has_value());
}

BOOST_AUTO_TEST_CASE(metric_names_parse_and_unknown_ones_are_refused) {
  BOOST_TEST(*parse_metric("cosine") == metric::cosine);
  BOOST_TEST(*parse_metric("ip") == metric::dot);
  expect_error(parse_metric("hamming"), errc::invalid_argument, {"metric=hamming", "l2, cosine, dot"});
}

// check_codebook_layout (codebooks topic installs and swaps, index_params.hpp): each field that fixes the code
// layout, the encoding or the search is named with both values; training-only fields do not matter.
BOOST_AUTO_TEST_CASE(codebook_layout_names_each_differing_field_with_both_values) {
  index_params index;
  index.dimension = 32;
  index.num_partitions = 16;
  index.num_sub_vectors = 8;
  index.num_bits = 8;
  BOOST_TEST(check_codebook_layout(index, index, "install").has_value());

  struct change {
    std::function<void(index_params&)> apply;
    std::vector<const char*> trained, has;  // fragments of "they were trained with …" and "the index has …"
  };
  const std::vector<change> changes = {
      {[](index_params& p) { p.dimension = 64; }, {"dimension=64"}, {"dimension=32"}},
      {[](index_params& p) { p.metric = metric::cosine; }, {"metric=cosine"}, {"metric=l2"}},
      {[](index_params& p) { p.num_sub_vectors = 4; }, {"num_sub_vectors=4"}, {"num_sub_vectors=8"}},
      {[](index_params& p) { p.num_bits = 4; }, {"num_bits=4"}, {"num_bits=8"}},
      {[](index_params& p) { p.keep_raw_vectors = false; }, {"keep_raw_vectors=false"}, {"keep_raw_vectors=true"}},
      {[](index_params& p) { p.quantizer = quantizer_kind::rq; }, {"quantizer=rq"}, {"quantizer=pq"}},
      {[](index_params& p) { p.quantizer = quantizer_kind::lsq; }, {"quantizer=lsq"}, {"quantizer=pq"}},
      {[](index_params& p) { p.coarse_quantizer = coarse_quantizer_kind::imi, p.imi_bits = 2; },
       {"coarse_quantizer=imi"}, {"coarse_quantizer=flat"}},
      {[](index_params& p) { p.opq = true; }, {"opq=true"}, {"opq=false"}},
      {[](index_params& p) { p.lopq = true; }, {"lopq=true"}, {"lopq=false"}},
      {[](index_params& p) { p.polysemous = true; }, {"polysemous=true"}, {"polysemous=false"}},
  };
  for (const auto& c : changes) {
    index_params trained = index;
    c.apply(trained);
    auto st = check_codebook_layout(trained, index, "install codebooks");
    BOOST_REQUIRE_MESSAGE(!st, "a change of " << c.trained.front() << " was accepted");
    const std::string& m = st.error().message();
    BOOST_TEST(st.error().code() == errc::invalid_argument);
    const auto split = m.find(", the index has ");
    BOOST_REQUIRE_MESSAGE(m.rfind("install codebooks: they were trained with ", 0) == 0 && split != std::string::npos, m);
    for (const char* f : c.trained) BOOST_TEST(m.substr(0, split).find(f) != std::string::npos, m);
    for (const char* f : c.has) BOOST_TEST(m.substr(split).find(f) != std::string::npos, m);
  }

  // The list count: flat lists may be split and merged (a rebalanced version has another count), so it is
  // compared only where it fixes the layout: imi cells, lopq groups.
  index_params more_lists = index;
  more_lists.num_partitions = 19;
  BOOST_TEST(check_codebook_layout(more_lists, index, "install").has_value());
  index_params lopq_lists = index, lopq_index = index;
  lopq_lists.lopq = lopq_index.lopq = true;
  lopq_lists.num_partitions = 8;
  auto lists = check_codebook_layout(lopq_lists, lopq_index, "install");
  BOOST_REQUIRE(!lists);
  BOOST_TEST(lists.error().message().find("num_partitions=8") != std::string::npos, lists.error().message());

  // Selector-dependent fields: compared when both sides use them.
  index_params rq = index, lsq = index, imi = index, lopq = index;
  rq.quantizer = quantizer_kind::rq;
  lsq.quantizer = quantizer_kind::lsq;
  imi.coarse_quantizer = coarse_quantizer_kind::imi;
  imi.imi_bits = 2;
  lopq.lopq = true;
  auto expect_named = [](index_params a, const index_params& b, const std::string& was, const std::string& has) {
    auto st = check_codebook_layout(a, b, "swap");
    BOOST_REQUIRE(!st);
    BOOST_TEST(st.error().message() == "swap: they were trained with " + was + ", the index has " + has);
  };
  index_params rq8 = rq;
  rq8.rq_beam_size = 8;
  expect_named(rq8, rq, "rq_beam_size=8", "rq_beam_size=4");
  index_params lsq0 = lsq;
  lsq0.lsq_icm_iterations = 0;
  expect_named(lsq0, lsq, "lsq_icm_iterations=0", "lsq_icm_iterations=2");
  index_params imi3 = imi;
  imi3.imi_bits = 3;
  imi3.num_partitions = 64;
  expect_named(imi3, imi, "num_partitions=64 imi_bits=3", "num_partitions=16 imi_bits=2");
  index_params lopq4 = lopq;
  lopq4.lopq_groups = 4;
  expect_named(lopq4, lopq, "lopq_groups=4", "lopq_groups=16");
  // ... and ignored where one side does not use them (flat ignores imi_bits, pq the beam).
  index_params flat_bits = index, pq_beam = index;
  flat_bits.imi_bits = 5;
  pq_beam.rq_beam_size = 9;
  BOOST_TEST(check_codebook_layout(flat_bits, index, "x").has_value());
  BOOST_TEST(check_codebook_layout(pq_beam, index, "x").has_value());
  expect_named(rq8, index, "quantizer=rq", "quantizer=pq");

  // Training-only and runtime fields: their result is in the codebooks, so they may differ.
  index_params other = index;
  other.max_iterations = 3;
  other.sample_rate = 17;
  other.seed = 99;
  other.opq_iterations = 2;
  other.polysemous_iterations = 5;
  other.lsq_iterations = 9;
  other.lopq_iterations = 4;
  other.lopq_min_points = 2;
  other.train_threads = 3;
  other.polysemous_objective = polysemous_objective_kind::faiss;
  BOOST_TEST(check_codebook_layout(other, index, "x").has_value());
}
