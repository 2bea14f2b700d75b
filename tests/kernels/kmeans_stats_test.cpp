// Distributed k-means through sufficient statistics (kernels/kmeans_stats.hpp): the same data split over
// several shards gives the centroids one node gets on the union (same init, same iterations).
#define BOOST_TEST_MODULE kmeans_stats_test
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kmeans_stats.hpp"

using namespace ivfstream::kernels;

namespace {

std::vector<float> blobs(std::size_t n, std::size_t d, std::size_t clusters, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> c(clusters * d), x(n * d);
  for (float& v : c) v = 3.f * g(rng);
  std::uniform_int_distribution<std::size_t> pick(0, clusters - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = pick(rng);
    for (std::size_t t = 0; t < d; ++t) x[i * d + t] = c[j * d + t] + 0.5f * g(rng);
  }
  return x;
}

/// Plain Lloyd on one node (independent of kmeans_stats): double sums, empty clusters keep their place.
std::vector<float> naive_lloyd(const std::vector<float>& x, std::size_t d, std::vector<float> c, std::size_t k,
                               std::size_t iterations) {
  const std::size_t n = x.size() / d;
  for (std::size_t it = 0; it < iterations; ++it) {
    std::vector<double> sums(k * d, 0.0);
    std::vector<std::size_t> counts(k, 0);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t best = 0;
      double bd = INFINITY;
      for (std::size_t j = 0; j < k; ++j) {
        double s = 0;
        for (std::size_t t = 0; t < d; ++t) s += (double(x[i * d + t]) - c[j * d + t]) * (double(x[i * d + t]) - c[j * d + t]);
        if (s < bd) bd = s, best = j;
      }
      ++counts[best];
      for (std::size_t t = 0; t < d; ++t) sums[best * d + t] += x[i * d + t];
    }
    for (std::size_t j = 0; j < k; ++j)
      if (counts[j] > 0)
        for (std::size_t t = 0; t < d; ++t) c[j * d + t] = float(sums[j * d + t] / double(counts[j]));
  }
  return c;
}

void check_close(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / (1.f + std::fabs(b[i])));
  BOOST_TEST(worst <= tol, "largest relative difference " << worst << " > " << tol);
}

}  // namespace

BOOST_AUTO_TEST_CASE(three_shards_equal_one_node_on_the_union) {
  const std::size_t n = 3000, d = 12, k = 20, iters = 15;
  const auto x = blobs(n, d, 25, 7);
  const std::vector<float> init(x.begin(), x.begin() + k * d);  // same init everywhere: the first k rows
  const auto single = distributed_kmeans({{x.data(), n}}, d, init, k, iters);
  // uneven split, one shard empty
  const auto split = distributed_kmeans(
      {{x.data(), 1100}, {x.data() + 1100 * d, 0}, {x.data() + 1100 * d, 1300}, {x.data() + 2400 * d, 600}}, d, init,
      k, iters);
  check_close(split.centroids, single.centroids, 1e-5f);
  BOOST_TEST(std::fabs(split.objective - single.objective) <= 1e-6 * single.objective);
  // and both equal a plain Lloyd written independently of kmeans_stats (no empty clusters on this data)
  check_close(single.centroids, naive_lloyd(x, d, init, k, iters), 1e-4f);
}

BOOST_AUTO_TEST_CASE(statistics_count_every_row_once) {
  const std::size_t n = 500, d = 4, k = 5;
  const auto x = blobs(n, d, 5, 3);
  const std::vector<float> c(x.begin(), x.begin() + k * d);
  auto a = kmeans_local_stats(x.data(), 200, d, c.data(), k);
  merge_kmeans_stats(a, kmeans_local_stats(x.data() + 200 * d, 300, d, c.data(), k));
  const auto whole = kmeans_local_stats(x.data(), n, d, c.data(), k);
  BOOST_TEST(a.rows() == n);
  BOOST_TEST(a.counts == whole.counts, boost::test_tools::per_element());
  for (std::size_t i = 0; i < a.sums.size(); ++i) BOOST_TEST(a.sums[i] == whole.sums[i], boost::test_tools::tolerance(1e-9));
  BOOST_TEST(a.far_dist == whole.far_dist, boost::test_tools::per_element());
  BOOST_TEST(a.far_row == whole.far_row, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_cluster_takes_the_farthest_row_of_the_largest_on_every_split) {
  const std::size_t n = 900, d = 6, k = 4, iters = 6;
  const auto x = blobs(n, d, 4, 11);
  std::vector<float> init(x.begin(), x.begin() + k * d);
  std::copy_n(init.begin(), d, init.begin() + d);  // centroid 1 duplicates 0: it starts empty (ties go low)
  const auto first = kmeans_local_stats(x.data(), n, d, init.data(), k);
  BOOST_REQUIRE_EQUAL(first.counts[1], 0u);
  const auto updated = kmeans_update(first, init.data());
  std::size_t big = 0;
  for (std::size_t j = 1; j < k; ++j)
    if (first.counts[j] > first.counts[big]) big = j;
  const std::vector<float> moved(updated.begin() + d, updated.begin() + 2 * d);
  const std::vector<float> far(first.far_row.begin() + big * d, first.far_row.begin() + (big + 1) * d);
  BOOST_TEST(moved == far, boost::test_tools::per_element());
  const auto single = distributed_kmeans({{x.data(), n}}, d, init, k, iters);
  const auto split = distributed_kmeans({{x.data(), 301}, {x.data() + 301 * d, 599}}, d, init, k, iters);
  check_close(split.centroids, single.centroids, 1e-5f);
}

BOOST_AUTO_TEST_CASE(subspace_statistics_equal_those_of_the_gathered_columns) {
  const std::size_t n = 400, d = 8, dsub = 2, ksub = 6, m = 2;
  const auto x = blobs(n, d, 6, 5);
  std::vector<float> sub(n * dsub);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < dsub; ++t) sub[i * dsub + t] = x[i * d + m * dsub + t];
  const std::vector<float> c(sub.begin(), sub.begin() + ksub * dsub);
  const auto a = subspace_local_stats(x.data(), n, d, m, dsub, c.data(), ksub);
  const auto b = kmeans_local_stats(sub.data(), n, dsub, c.data(), ksub);
  BOOST_TEST(a.counts == b.counts, boost::test_tools::per_element());
  BOOST_TEST(a.sums == b.sums, boost::test_tools::per_element());
}
