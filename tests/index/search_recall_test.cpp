#define BOOST_TEST_MODULE search_recall
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "index/ivfpq_index.hpp"
#include "tests/index/synthetic_data.hpp"

// Recall@10 against brute force (exact distances in LanceDB semantics) for every metric × num_bits,
// on clustered synthetic data with fixed seeds. The bounds are the recalls measured on this data
// (printed with --log_level=message) minus a margin of about 0.05: they catch a broken scan, table or
// refine, not a last-digit change of the training.
using namespace ivfstream;

namespace {

constexpr std::size_t k_d = 32, k_n = 6000, k_nq = 100, k_k = 10;

struct bounds {
  double probe_all;         ///< nprobes = all, no refine
  double probe_all_refine;  ///< nprobes = all, refine_factor = 4
  double probe_quarter;     ///< nprobes = num_partitions / 4, refine_factor = 4
};

double mean_recall(const ivfpq_index& index, metric m, const std::vector<float>& x, const std::vector<float>& q,
                   const search_params& sp) {
  auto hits = index.search_batch(q.data(), k_nq, sp);
  BOOST_REQUIRE(hits);
  double sum = 0;
  for (std::size_t i = 0; i < k_nq; ++i) {
    std::vector<std::uint64_t> found;
    for (const auto& h : (*hits)[i]) found.push_back(h.id);
    sum += test::recall(found, test::brute_force(m, &q[i * k_d], x.data(), k_n, k_d, k_k));
  }
  return sum / k_nq;
}

void check_recall(metric m, unsigned nbits, const bounds& b) {
  BOOST_TEST_CONTEXT("metric=" << m << " num_bits=" << nbits) {
    index_params p;
    p.dimension = k_d;
    p.metric = m;
    p.num_partitions = 16;
    p.num_sub_vectors = 16;
    p.num_bits = nbits;
    p.max_iterations = nbits >= 12 ? 3 : nbits >= 10 ? 4 : 10;  // 2^10 / 2^12 sub-centroids: keep the suite fast
    auto index = ivfpq_index::create(p);
    BOOST_REQUIRE(index);
    const auto x = test::clustered_data(k_n, k_d, 64, 31);
    const auto q = test::clustered_data(k_nq, k_d, 64, 31 + 1000);  // other draws, other centres
    BOOST_REQUIRE(index->train(x.data(), k_n));
    const auto ids = test::iota_ids(k_n);
    BOOST_REQUIRE(index->add(ids.data(), x.data(), k_n));
    search_params sp;
    sp.limit = k_k;
    sp.nprobes = p.num_partitions;
    const double all = mean_recall(*index, m, x, q, sp);
    sp.refine_factor = 4;
    const double all_refine = mean_recall(*index, m, x, q, sp);
    sp.nprobes = p.num_partitions / 4;
    const double quarter = mean_recall(*index, m, x, q, sp);
    BOOST_TEST_MESSAGE("recall@10 metric=" << m << " num_bits=" << nbits << ": nprobes=all " << all
                                           << ", refine 4 " << all_refine << ", nprobes=4 refine 4 " << quarter);
    BOOST_TEST(all >= b.probe_all);
    BOOST_TEST(all_refine >= b.probe_all_refine);
    BOOST_TEST(quarter >= b.probe_quarter);
    BOOST_TEST(all_refine >= all - 0.02);  // refine re-ranks the same lists exactly: never much worse
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(recall_l2_every_num_bits) {
  check_recall(metric::l2, 4, {0.41, 0.78, 0.71});
  check_recall(metric::l2, 6, {0.66, 0.94, 0.83});
  check_recall(metric::l2, 8, {0.80, 0.95, 0.83});
  check_recall(metric::l2, 10, {0.87, 0.95, 0.74});
  check_recall(metric::l2, 12, {0.93, 0.95, 0.72});
}

BOOST_AUTO_TEST_CASE(recall_cosine_every_num_bits) {
  check_recall(metric::cosine, 4, {0.35, 0.74, 0.69});
  check_recall(metric::cosine, 6, {0.59, 0.92, 0.81});
  check_recall(metric::cosine, 8, {0.78, 0.95, 0.83});
  check_recall(metric::cosine, 10, {0.87, 0.95, 0.82});
  check_recall(metric::cosine, 12, {0.93, 0.95, 0.83});
}

BOOST_AUTO_TEST_CASE(recall_dot_every_num_bits) {
  check_recall(metric::dot, 4, {0.37, 0.76, 0.63});
  check_recall(metric::dot, 6, {0.63, 0.93, 0.74});
  check_recall(metric::dot, 8, {0.78, 0.95, 0.75});
  check_recall(metric::dot, 10, {0.86, 0.95, 0.76});
  check_recall(metric::dot, 12, {0.94, 0.95, 0.74});
}
