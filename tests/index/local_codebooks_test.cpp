#define BOOST_TEST_MODULE local_codebooks
#include <boost/test/unit_test.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "index/codebook_set.hpp"
#include "index/distributed_training.hpp"
#include "index/ivfpq_index.hpp"
#include "index/list_rebalance.hpp"
#include "index/local_codebooks.hpp"
#include "index/opq_rotation.hpp"
#include "kernels/pq_codes.hpp"
#include "tests/index/index_test_support.hpp"

// LOPQ (index/local_codebooks.hpp): per group of lists a rotation and PQ codebooks from the group's own
// residuals. On data whose clusters are each stretched along their own directions, LOPQ beats global PQ
// and global OPQ at the same code size; small groups fall back to the global codebooks; the ADC estimate
// equals the distance to the decoded vector; plans do not depend on the batch; save → load keeps results
// bit for bit; a retrain trains local codebooks again; bad parameters and corrupt arrays are clear errors;
// the local codebooks' memory is accounted.
using namespace ivfstream;

namespace {

constexpr std::size_t k_d = 32, k_clusters = 16, k_nq = 100, k_k = 10;

/// n × k_d rows drawn from k_clusters Gaussian clusters (weights[c] ∝ share of cluster c; equal when
/// empty). Cluster c: a centre far from the others (N(0, 6²) per component) and its own random
/// orthogonal basis Q_c with a decaying spectrum σ_j = 0.8^j, x = centre_c + Q_c (σ ⊙ z). Every cluster
/// is stretched along different directions, so one global rotation and codebook fit none of them well.
/// `structure_seed` fixes centres and bases (the same for data and queries); `seed` the draws.
std::vector<float> locally_anisotropic_data(std::size_t n, std::uint64_t seed, const std::vector<double>& weights = {},
                                            std::uint64_t structure_seed = 5) {
  std::mt19937_64 srng(structure_seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<Eigen::MatrixXd> bases;
  std::vector<Eigen::VectorXd> centres;
  for (std::size_t c = 0; c < k_clusters; ++c) {
    Eigen::MatrixXd a(k_d, k_d);
    for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = g(srng);
    bases.push_back(Eigen::HouseholderQR<Eigen::MatrixXd>(a).householderQ());
    Eigen::VectorXd centre(k_d);
    for (Eigen::Index j = 0; j < centre.size(); ++j) centre(j) = 6.0 * g(srng);
    centres.push_back(centre);
  }
  std::vector<double> w = weights.empty() ? std::vector<double>(k_clusters, 1.0) : weights;
  std::discrete_distribution<std::size_t> pick(w.begin(), w.end());
  std::mt19937_64 rng(seed);
  std::vector<float> out(n * k_d);
  Eigen::VectorXd z(k_d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = pick(rng);
    for (std::size_t j = 0; j < k_d; ++j) z(static_cast<Eigen::Index>(j)) = g(rng) * std::pow(0.8, double(j));
    const Eigen::VectorXd x = centres[c] + bases[c] * z;
    for (std::size_t j = 0; j < k_d; ++j) out[i * k_d + j] = static_cast<float>(x(static_cast<Eigen::Index>(j)));
  }
  return out;
}

index_params make_params(bool lopq, std::size_t groups = k_clusters) {
  index_params p;
  p.dimension = k_d;
  p.num_partitions = k_clusters;
  p.num_sub_vectors = 8;
  p.num_bits = 6;
  p.max_iterations = 15;
  p.keep_raw_vectors = false;
  p.train_threads = 1;
  p.lopq = lopq;
  p.lopq_groups = groups;
  return p;
}

/// Mean recall@10 against brute force, every list probed (so only the quantiser differs), refine 0.
double mean_recall(const ivfpq_index& index, const std::vector<float>& x, const std::vector<float>& q) {
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = index.params().num_partitions;
  auto hits = index.search_batch(q.data(), k_nq, sp);
  BOOST_REQUIRE(hits);
  return test::mean_recall(*hits, metric::l2, q.data(), x.data(), x.size() / k_d, k_d, k_k);
}

}  // namespace

// Measured on this data (seeded; 16000 × 32, 16 lists, M 8 × 6 bits = 6 B codes, all lists probed,
// refine 0): PQ 0.613, OPQ (4 alternations) 0.648, LOPQ one group per list 0.900, LOPQ 8 groups 0.786.
// Global OPQ gains little because no single rotation suits clusters stretched along different
// directions. Bounds: about half of each measured gain (+0.287, +0.252, +0.173), so kernel or rounding
// changes that move a few neighbours cannot flip them, while LOPQ codebooks that are not used (every
// list on the global ones) fail all three.
BOOST_AUTO_TEST_CASE(lopq_beats_global_pq_and_opq_on_locally_anisotropic_data) {
  const std::size_t n = 16000;
  const auto x = locally_anisotropic_data(n, 11);
  const auto q = locally_anisotropic_data(k_nq, 12);
  const ivfpq_index plain = test::build_index(make_params(false), x);
  index_params po = make_params(false);
  po.opq = true;
  po.opq_iterations = 4;
  const ivfpq_index opq = test::build_index(po, x);
  const ivfpq_index per_list = test::build_index(make_params(true), x);
  const ivfpq_index grouped = test::build_index(make_params(true, 8), x);
  BOOST_REQUIRE(per_list.codebooks()->local());
  BOOST_TEST(per_list.codebooks()->local()->num_groups() == k_clusters);
  BOOST_TEST(per_list.codebooks()->local()->num_local_lists() == k_clusters);
  BOOST_TEST(grouped.codebooks()->local()->num_groups() <= 8u);
  BOOST_TEST(per_list.codebooks()->code_size() == plain.codebooks()->code_size());
  const double r_plain = mean_recall(plain, x, q), r_opq = mean_recall(opq, x, q);
  const double r_lopq = mean_recall(per_list, x, q), r_grouped = mean_recall(grouped, x, q);
  BOOST_TEST_MESSAGE("recall@10 (all lists, refine 0): PQ " << r_plain << ", OPQ " << r_opq << ", LOPQ per list "
                                                             << r_lopq << ", LOPQ 8 groups " << r_grouped);
  BOOST_TEST(r_lopq >= 0.8);
  BOOST_TEST(r_lopq >= r_plain + 0.14);
  BOOST_TEST(r_lopq >= r_opq + 0.12);
  BOOST_TEST(r_grouped >= r_plain + 0.08);
}

// Clusters of very unequal sizes, one list per cluster, 4-bit codes (fast-scan lists): lists with fewer
// than lopq_min_points × 16 training vectors keep the global codebooks. Both kinds of list: the ADC
// estimate from list_table equals ‖q − decode(code)‖², and search still finds the neighbours.
BOOST_AUTO_TEST_CASE(small_groups_fall_back_to_the_global_codebooks) {
  std::vector<double> w(k_clusters, 1.0);
  for (std::size_t c = 0; c < k_clusters; c += 3) w[c] = 0.15;  // ~80 of 6000 vectors: below 8 × 16
  const std::size_t n = 6000;
  const auto x = locally_anisotropic_data(n, 21, w);
  const auto q = locally_anisotropic_data(k_nq, 22, w);
  index_params p = make_params(true);
  p.num_bits = 4;
  p.lopq_min_points = 8;
  const ivfpq_index index = test::build_index(p, x);
  const codebook_set& cb = *index.codebooks();
  BOOST_REQUIRE(cb.local());
  const local_codebooks& local = *cb.local();
  BOOST_TEST(local.num_local_lists() > 0u);
  BOOST_TEST(local.num_local_lists() < k_clusters);
  BOOST_TEST(local.num_groups() == local.num_local_lists());  // one group per list
  std::size_t global_lists = 0;
  for (std::uint32_t g : local.list_group()) global_lists += g == local_codebooks::k_global_group;
  BOOST_TEST(global_lists == k_clusters - local.num_local_lists());

  // ADC estimate = distance to the reconstruction, on local and on global lists.
  const std::size_t cs = cb.code_size(), M = cb.num_sub_vectors(), ksub = cb.ksub();
  std::vector<std::uint32_t> lists(n);
  std::vector<std::uint8_t> codes(n * cs);
  cb.encode(x.data(), n, lists.data(), codes.data());
  auto plan = cb.plan_query(q.data(), cb.num_partitions());
  BOOST_REQUIRE(plan);
  std::vector<float> lut(M * ksub), rec(k_d);
  std::size_t checked_local = 0, checked_global = 0;
  for (std::size_t i = 0; i < n; i += 7) {
    const std::size_t probe = std::find(plan->lists.begin(), plan->lists.end(), lists[i]) - plan->lists.begin();
    BOOST_REQUIRE(probe < plan->lists.size());
    float est = cb.list_table(*plan, probe, lut.data());
    for (std::size_t m = 0; m < M; ++m) est += lut[m * ksub + kernels::read_sub_code(&codes[i * cs], cs, m, 4)];
    cb.decode(lists[i], &codes[i * cs], rec.data());
    double exact = 0;
    for (std::size_t j = 0; j < k_d; ++j) exact += double(q[j] - rec[j]) * (q[j] - rec[j]);
    BOOST_TEST(std::abs(est - exact) <= 1e-3 * std::max(1.0, exact));
    (local.list_group()[lists[i]] == local_codebooks::k_global_group ? checked_global : checked_local)++;
  }
  BOOST_TEST(checked_local > 0u);
  BOOST_TEST(checked_global > 0u);
  const double r = mean_recall(index, x, q);
  BOOST_TEST_MESSAGE("recall@10 with fallback lists, 4-bit: " << r);
  BOOST_TEST(r >= 0.7);  // measured 0.822
}

// A query's plan (probed lists, per-group tables) does not depend on the batch it is planned in.
BOOST_AUTO_TEST_CASE(plans_do_not_depend_on_the_batch) {
  const auto x = locally_anisotropic_data(8000, 31);
  const auto q = locally_anisotropic_data(k_nq, 32);
  const ivfpq_index index = test::build_index(make_params(true, 8), x);
  const codebook_set& cb = *index.codebooks();
  auto batch = cb.plan_queries(q.data(), k_nq, 5);
  BOOST_REQUIRE(batch);
  for (std::size_t i = 0; i < k_nq; i += 9) {
    auto one = cb.plan_query(&q[i * k_d], 5);
    BOOST_REQUIRE(one);
    BOOST_TEST(one->lists == (*batch)[i].lists, boost::test_tools::per_element());
    BOOST_TEST(one->probe_table == (*batch)[i].probe_table, boost::test_tools::per_element());
    BOOST_TEST(one->local_tables == (*batch)[i].local_tables, boost::test_tools::per_element());
    // one table per distinct probed group, shared by that group's lists
    std::vector<std::uint32_t> groups;
    for (std::uint32_t l : one->lists) {
      const std::uint32_t g = cb.local()->list_group()[l];
      if (g != local_codebooks::k_global_group && std::find(groups.begin(), groups.end(), g) == groups.end())
        groups.push_back(g);
    }
    BOOST_TEST(one->local_tables.size() == groups.size() * cb.num_sub_vectors() * cb.ksub());
  }
}

BOOST_AUTO_TEST_CASE(save_then_load_gives_identical_results) {
  const test::temp_dir dir("ivfstream-lopq-test");
  const auto x = locally_anisotropic_data(8000, 41);
  const auto q = locally_anisotropic_data(k_nq, 42);
  index_params p = make_params(true, 8);
  p.num_bits = 8;  // 8-bit lists and the precomputed per-list term
  p.lopq_min_points = 2;
  p.lopq_iterations = 2;
  p.opq = true;    // the fallback lists' global OPQ rotation is saved beside the local ones
  p.keep_raw_vectors = true;
  const ivfpq_index a = test::build_index(p, x);
  BOOST_REQUIRE(a.codebooks()->local());
  const std::string path = dir.file("lopq.ivfi");
  BOOST_REQUIRE(a.save(path));
  auto b = ivfpq_index::load(path);
  BOOST_REQUIRE(b);
  BOOST_TEST(b->params().lopq);
  BOOST_TEST(b->params().lopq_groups == 8u);
  BOOST_TEST(b->params().lopq_iterations == 2u);
  BOOST_TEST(b->params().lopq_min_points == 2u);
  BOOST_REQUIRE(b->codebooks()->local());
  const local_codebooks &la = *a.codebooks()->local(), &lb = *b->codebooks()->local();
  BOOST_TEST(la.list_group() == lb.list_group(), boost::test_tools::per_element());
  BOOST_TEST(la.rotations() == lb.rotations(), boost::test_tools::per_element());
  BOOST_TEST(la.pq_codebooks() == lb.pq_codebooks(), boost::test_tools::per_element());
  for (std::size_t refine : {std::size_t{0}, std::size_t{4}}) {
    search_params sp;
    sp.limit = k_k;
    sp.nprobes = 4;
    sp.refine_factor = refine;
    auto ra = a.search_batch(q.data(), k_nq, sp);
    auto rb = b->search_batch(q.data(), k_nq, sp);
    BOOST_REQUIRE(ra);
    BOOST_REQUIRE(rb);
    test::require_same_hits(*ra, *rb);
  }
}

// The trainer actor retrains with codebook_set::train_with_centroids (and ivfpq_index::train on a filled
// index): both train local codebooks again, and the retrained index answers as well.
BOOST_AUTO_TEST_CASE(retraining_trains_local_codebooks_again) {
  const auto x = locally_anisotropic_data(8000, 51);
  const auto q = locally_anisotropic_data(k_nq, 52);
  index_params p = make_params(true, 8);
  p.keep_raw_vectors = true;  // re-encoding reads the raw vectors
  ivfpq_index index = test::build_index(p, x);
  const auto v1 = index.codebooks();
  auto same = codebook_set::train_with_centroids(p, x.data(), 8000, v1->centroids(), 2);
  BOOST_REQUIRE(same);
  BOOST_REQUIRE((*same)->local());
  BOOST_TEST((*same)->version() == 2u);
  // same centroids, same seed: the same groups and local codebooks
  BOOST_TEST((*same)->local()->list_group() == v1->local()->list_group(), boost::test_tools::per_element());
  BOOST_TEST((*same)->local()->pq_codebooks() == v1->local()->pq_codebooks(), boost::test_tools::per_element());
  const double before = mean_recall(index, x, q);
  BOOST_REQUIRE(index.adopt_codebooks(*same));
  BOOST_TEST(index.codebooks()->version() == 2u);
  BOOST_TEST(mean_recall(index, x, q) == before);
  BOOST_REQUIRE(index.train(x.data(), 8000));  // retrain of a filled index: version + 1, re-encoded
  BOOST_TEST(index.codebooks()->version() == 3u);
  BOOST_REQUIRE(index.codebooks()->local());
  const double after = mean_recall(index, x, q);
  BOOST_TEST_MESSAGE("recall@10 before / after retrain: " << before << " / " << after);
  BOOST_TEST(after >= before - 0.05);
}

BOOST_AUTO_TEST_CASE(memory_of_the_local_codebooks_is_accounted) {
  const auto x = locally_anisotropic_data(8000, 61);
  const ivfpq_index plain = test::build_index(make_params(false), x);
  const ivfpq_index lopq = test::build_index(make_params(true, 8), x);
  const codebook_set& cb = *lopq.codebooks();
  const std::size_t groups = cb.local()->num_groups(), ksub = cb.ksub();
  BOOST_REQUIRE(groups > 0u);
  // at least: per group d × d rotation + ksub × d codewords + M × ksub norms, and nlist × d rotated centroids
  const std::size_t least = sizeof(float) * (groups * (k_d * k_d + ksub * k_d + cb.num_sub_vectors() * ksub) +
                                             cb.num_partitions() * k_d);
  BOOST_TEST(cb.local()->memory_bytes() >= least);
  BOOST_TEST(cb.memory_bytes() == plain.codebooks()->memory_bytes() + cb.local()->memory_bytes());
  BOOST_TEST(lopq.memory().codebook_bytes == cb.memory_bytes());
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_clear_errors) {
  auto message = [](const index_params& p) {
    const auto st = p.validate();
    BOOST_REQUIRE(!st);
    BOOST_TEST(st.error().code() == errc::invalid_argument);
    return st.error().message();
  };
  index_params p = make_params(true, 0);
  BOOST_TEST(message(p).find("lopq_groups=0 with lopq=true: must be in [1, num_partitions=16]") != std::string::npos);
  p.lopq_groups = 17;
  BOOST_TEST(message(p).find("lopq_groups=17") != std::string::npos);
  p.lopq_groups = 16;
  BOOST_TEST(static_cast<bool>(p.validate()));
  p.lopq_iterations = 101;
  BOOST_TEST(message(p).find("lopq_iterations=101: must be in [0, 100]") != std::string::npos);
  p.lopq_iterations = 0;
  p.lopq_min_points = 0;
  BOOST_TEST(message(p).find("lopq_min_points=0: must be in [1, 1000000]") != std::string::npos);
  p.lopq_min_points = 8;
  p.polysemous = true;
  p.num_bits = 8;
  BOOST_TEST(message(p).find("lopq=true with polysemous=true") != std::string::npos);
  p.polysemous = false;
  p.quantizer = quantizer_kind::rq;
  BOOST_TEST(message(p).find("quantizer=rq") != std::string::npos);
  // lopq off: the group count is not looked at (default behaviour unchanged)
  index_params off = make_params(false, 0);
  BOOST_TEST(static_cast<bool>(off.validate()));
}

// Arrays from a file (snapshot, checkpoint, codebooks topic) are checked before use.
BOOST_AUTO_TEST_CASE(corrupt_local_codebooks_are_refused) {
  const auto x = locally_anisotropic_data(8000, 71);
  const index_params p = make_params(true, 8);
  const ivfpq_index index = test::build_index(p, x);
  const codebook_set& cb = *index.codebooks();
  const local_codebooks& local = *cb.local();
  auto rebuild = [&](lopq_parts parts, const index_params& params) {
    return codebook_set::from_parts(params, 1, cb.centroids(), cb.pq_codebooks(), cb.rotation(), std::move(parts));
  };
  const lopq_parts good{local.list_group(), local.rotations(), local.pq_codebooks()};
  BOOST_TEST(static_cast<bool>(rebuild(good, p)));
  auto expect = [](const result<std::shared_ptr<const codebook_set>>& r, const std::string& what) {
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().code() == errc::corrupt_data);
    BOOST_TEST_CONTEXT(r.error().message()) { BOOST_TEST(r.error().message().find(what) != std::string::npos); }
  };
  lopq_parts short_map = good;
  short_map.list_group.pop_back();
  expect(rebuild(short_map, p), "list_group holds 15 entries, expected num_partitions = 16");
  lopq_parts bad_group = good;
  bad_group.list_group[3] = static_cast<std::uint32_t>(local.num_groups());
  expect(rebuild(bad_group, p), "list 3 names group");
  lopq_parts odd_pq = good;
  odd_pq.pq.pop_back();
  expect(rebuild(odd_pq, p), "lopq: pq_codebooks hold");
  lopq_parts skew = good;
  skew.rotations[0] *= 2.0f;
  expect(rebuild(skew, p), "rotation of group 0 is not orthogonal");
  lopq_parts nan = good;
  nan.pq[5] = std::nanf("");
  expect(rebuild(nan, p), "not finite");
  expect(rebuild(good, make_params(false)), "lopq=false");
  expect(rebuild(lopq_parts{}, p), "list_group holds 0 entries");
}

// What LOPQ does not do yet is refused with a message, not silently done with global codebooks.
BOOST_AUTO_TEST_CASE(rebalance_and_distributed_training_refuse_lopq) {
  const auto x = locally_anisotropic_data(8000, 81);
  index_params p = make_params(true, 8);
  p.keep_raw_vectors = true;
  ivfpq_index index = test::build_index(p, x);
  auto rebalanced = rebalance_lists(index);
  BOOST_REQUIRE(!rebalanced);
  BOOST_TEST(rebalanced.error().message().find("lopq=true is not supported") != std::string::npos);
  auto init = initial_coarse_centroids(p, x.data(), 8000);
  BOOST_REQUIRE(!init);
  BOOST_TEST(init.error().message().find("lopq=true: distributed training supports lopq=false only") !=
             std::string::npos);
}
