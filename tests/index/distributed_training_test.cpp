// Distributed codebook training (index/distributed_training.hpp): nodes send sufficient statistics, a
// leader reduces them; on the same data split across nodes the codebooks equal single-node training on
// the union (same init, same iterations), and they index as well as the ordinary trainer's.
#define BOOST_TEST_MODULE distributed_training_test
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "index/distributed_training.hpp"
#include "index/ivfpq_index.hpp"
#include "synthetic_data.hpp"

using namespace ivfstream;

namespace {

index_params small_params() {
  index_params p;
  p.dimension = 16;
  p.num_partitions = 24;
  p.num_sub_vectors = 4;
  p.num_bits = 6;
  p.max_iterations = 12;
  return p;
}

float worst_relative(const std::vector<float>& a, const std::vector<float>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / (1.f + std::fabs(b[i])));
  return worst;
}

}  // namespace

BOOST_AUTO_TEST_CASE(three_nodes_train_the_codebooks_of_one_node_holding_the_union) {
  const index_params p = small_params();
  const std::size_t n = 6000, d = p.dimension;
  const auto x = test::clustered_data(n, d, 40, 21);
  const float* init_sample = x.data();  // the leader's sample: its first 2000 rows
  const std::size_t init_n = 2000;
  auto single = train_distributed(p, {{x.data(), n}}, init_sample, init_n);
  BOOST_REQUIRE(single);
  auto three = train_distributed(p, {{x.data(), 2000}, {x.data() + 2000 * d, 2500}, {x.data() + 4500 * d, 1500}},
                                 init_sample, init_n);
  BOOST_REQUIRE(three);
  BOOST_TEST(worst_relative((*three)->centroids(), (*single)->centroids()) <= 1e-5f);
  BOOST_TEST(worst_relative((*three)->pq_codebooks(), (*single)->pq_codebooks()) <= 1e-5f);
}

BOOST_AUTO_TEST_CASE(distributed_codebooks_search_like_the_ordinary_trainer) {
  const index_params p = small_params();
  const std::size_t n = 6000, d = p.dimension, nq = 50;
  const auto x = test::clustered_data(n, d, 40, 22);
  auto cb = train_distributed(p, {{x.data(), 3000}, {x.data() + 3000 * d, 3000}}, x.data(), 2000);
  BOOST_REQUIRE(cb);
  auto dist = ivfpq_index::create(p);
  auto ref = ivfpq_index::create(p);
  BOOST_REQUIRE(dist && ref);
  BOOST_REQUIRE(dist->adopt_codebooks(*cb));
  BOOST_REQUIRE(ref->train(x.data(), n));
  const auto ids = test::iota_ids(n);
  BOOST_REQUIRE(dist->add(ids.data(), x.data(), n));
  BOOST_REQUIRE(ref->add(ids.data(), x.data(), n));
  search_params sp;
  sp.limit = 10;
  sp.nprobes = 6;
  sp.refine_factor = 4;
  double r_dist = 0, r_ref = 0;
  for (std::size_t q = 0; q < nq; ++q) {
    const float* query = x.data() + (q * 97) * d;
    const auto truth = test::brute_force(p.metric, query, x.data(), n, d, 10);
    auto a = dist->search(query, sp);
    auto b = ref->search(query, sp);
    BOOST_REQUIRE(a && b);
    std::vector<std::uint64_t> fa, fb;
    for (const auto& h : *a) fa.push_back(h.id);
    for (const auto& h : *b) fb.push_back(h.id);
    r_dist += test::recall(fa, truth);
    r_ref += test::recall(fb, truth);
  }
  r_dist /= nq;
  r_ref /= nq;
  BOOST_TEST_MESSAGE("recall@10 distributed " << r_dist << " ordinary " << r_ref);
  BOOST_TEST(r_dist >= r_ref - 0.05);
  BOOST_TEST(r_dist >= 0.85);
}

BOOST_AUTO_TEST_CASE(opq_is_refused_with_its_name) {
  index_params p = small_params();
  p.opq = true;
  const auto x = test::clustered_data(500, p.dimension, 4, 1);
  auto cb = train_distributed(p, {{x.data(), 500}}, x.data(), 500);
  BOOST_REQUIRE(!cb);
  BOOST_TEST(cb.error().message().find("opq=true") != std::string::npos);
}
