#define BOOST_TEST_MODULE kmeans
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "kernels/kernel_table.hpp"
#include "kernels/kmeans.hpp"

namespace k = ivfstream::kernels;

namespace {
float l2(const float* a, const float* b, std::size_t d) {
  float s = 0;
  for (std::size_t t = 0; t < d; ++t) s += (a[t] - b[t]) * (a[t] - b[t]);
  return s;
}

/// n points around `clusters` centres far apart (centre j at 100·j on every axis), noise in [-1, 1].
std::vector<float> planted(std::size_t clusters, std::size_t per, std::size_t d, std::uint32_t seed,
                           std::vector<std::uint32_t>* truth) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> noise(-1.f, 1.f);
  std::vector<float> x;
  for (std::size_t i = 0; i < clusters * per; ++i) {
    const std::size_t c = i % clusters;  // interleaved order
    for (std::size_t t = 0; t < d; ++t) x.push_back(100.f * static_cast<float>(c) * ((t % 2) ? 1.f : -1.f) + noise(gen));
    if (truth) truth->push_back(static_cast<std::uint32_t>(c));
  }
  return x;
}

std::vector<float> gaussian(std::size_t n, std::size_t d, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(n * d);
  for (auto& v : x) v = g(gen);
  return x;
}
}  // namespace

BOOST_AUTO_TEST_CASE(assign_nearest_matches_brute_force) {
  const std::size_t n = 333, k = 37, d = 19;
  const auto x = gaussian(n, d, 1), c = gaussian(k, d, 2);
  std::vector<std::uint32_t> labels(n);
  std::vector<float> dists(n);
  k::assign_nearest(x.data(), n, c.data(), k, d, labels.data(), dists.data());
  for (std::size_t i = 0; i < n; ++i) {
    float best = std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < k; ++j) best = std::min(best, l2(&x[i * d], &c[j * d], d));
    BOOST_TEST(l2(&x[i * d], &c[labels[i] * d], d) <= best + 1e-3f);
    BOOST_TEST(std::abs(dists[i] - best) <= 1e-3f * (1 + best));
  }
}

BOOST_AUTO_TEST_CASE(nearest_centroids_are_sorted_and_match_brute_force) {
  const std::size_t n = 50, k = 64, d = 8, count = 5;
  const auto x = gaussian(n, d, 3), c = gaussian(k, d, 4);
  std::vector<std::uint32_t> labels(n * count);
  std::vector<float> dists(n * count);
  k::nearest_centroids(x.data(), n, c.data(), k, d, count, labels.data(), dists.data());
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::pair<float, std::uint32_t>> all;
    for (std::size_t j = 0; j < k; ++j) all.emplace_back(l2(&x[i * d], &c[j * d], d), static_cast<std::uint32_t>(j));
    std::sort(all.begin(), all.end());
    for (std::size_t t = 0; t < count; ++t) {
      BOOST_TEST(std::abs(dists[i * count + t] - all[t].first) <= 1e-3f * (1 + all[t].first));
      if (t > 0) BOOST_TEST(dists[i * count + t] >= dists[i * count + t - 1]);
      // the label's true distance is the t-th smallest (up to rounding)
      BOOST_TEST(std::abs(l2(&x[i * d], &c[labels[i * count + t] * d], d) - all[t].first) <= 1e-3f * (1 + all[t].first));
    }
  }
}

BOOST_AUTO_TEST_CASE(finds_planted_clusters_exactly) {
  const std::size_t clusters = 12, per = 40, d = 16;
  std::vector<std::uint32_t> truth;
  const auto x = planted(clusters, per, d, 5, &truth);
  const auto r = k::kmeans(x.data(), clusters * per, d, clusters, {});
  std::vector<std::uint32_t> labels(clusters * per);
  k::assign_nearest(x.data(), labels.size(), r.centroids.data(), clusters, d, labels.data(), nullptr);
  // a bijection between true clusters and found labels
  std::vector<int> map(clusters, -1);
  std::set<std::uint32_t> used;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (map[truth[i]] < 0) {
      map[truth[i]] = static_cast<int>(labels[i]);
      used.insert(labels[i]);
    }
    BOOST_TEST(map[truth[i]] == static_cast<int>(labels[i]));
  }
  BOOST_TEST(used.size() == clusters);
  BOOST_TEST(r.objective <= static_cast<double>(clusters * per * d));  // noise ≤ 1 per axis
}

BOOST_AUTO_TEST_CASE(objective_does_not_increase_with_more_iterations) {
  const std::size_t n = 2000, d = 12, kk = 32;
  const auto x = gaussian(n, d, 9);
  double previous = std::numeric_limits<double>::infinity();
  for (std::size_t iters : {0, 1, 2, 4, 8, 16}) {
    k::kmeans_options opt;
    opt.max_iterations = iters;
    const auto r = k::kmeans(x.data(), n, d, kk, opt);
    BOOST_TEST(r.iterations <= iters);
    BOOST_TEST(r.objective <= previous * (1 + 1e-6));
    previous = r.objective;
    // objective is that of the returned centroids
    std::vector<std::uint32_t> labels(n);
    std::vector<float> dists(n);
    k::assign_nearest(x.data(), n, r.centroids.data(), kk, d, labels.data(), dists.data());
    double obj = 0;
    for (float v : dists) obj += v;
    BOOST_TEST(std::abs(obj - r.objective) <= 1e-6 * obj);
  }
}

BOOST_AUTO_TEST_CASE(deterministic_for_a_seed) {
  const std::size_t n = 3000, d = 10, kk = 20;
  const auto x = gaussian(n, d, 10);
  k::kmeans_options opt;
  opt.max_points_per_centroid = 64;  // subsampling path (1280 of 3000)
  const auto a = k::kmeans(x.data(), n, d, kk, opt), b = k::kmeans(x.data(), n, d, kk, opt);
  BOOST_TEST(a.centroids == b.centroids, boost::test_tools::per_element());
  BOOST_TEST(a.objective == b.objective);
  opt.seed = 43;
  const auto c = k::kmeans(x.data(), n, d, kk, opt);
  BOOST_TEST((c.centroids != a.centroids));
}

BOOST_AUTO_TEST_CASE(plus_plus_seeding_is_the_same_on_any_number_of_threads) {
  // max_iterations = 0 returns the seeding itself. k-means++ runs on 16·k = 12,816 rows (50 whole blocks
  // of 256 plus a partial one), enough for 3 threads: the picks must not depend on the thread count.
  const std::size_t n = 13000, d = 64, kk = 801;
  const auto x = gaussian(n, d, 12);
  k::kmeans_options opt;
  opt.max_iterations = 0;
  opt.max_threads = 1;
  const auto one = k::kmeans(x.data(), n, d, kk, opt);
  for (int threads : {2, 3, 0}) {
    opt.max_threads = threads;
    const auto many = k::kmeans(x.data(), n, d, kk, opt);
    BOOST_TEST(many.centroids == one.centroids, boost::test_tools::per_element());
  }
  // the seeds are distinct training rows
  std::set<std::vector<float>> distinct;
  for (std::size_t j = 0; j < kk; ++j)
    distinct.insert(std::vector<float>(one.centroids.begin() + j * d, one.centroids.begin() + (j + 1) * d));
  BOOST_TEST(distinct.size() == kk);
}

namespace {

// A stand-in for another device (the GPU's passes, kernels/accelerator.cpp): the CPU kernel on its own
// transposed copy, optionally failing from a given pass on. Counts its passes.
class fake_device final : public k::kmeanspp_device {
 public:
  explicit fake_device(std::size_t fail_at) : fail_at_(fail_at) {}
  bool load(const float* rows, std::size_t n, std::size_t d) override {
    n_ = n;
    d_ = d;
    rows_.assign(rows, rows + n * d);
    xt_.resize(n * d);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t t = 0; t < d; ++t) xt_[t * n + i] = rows[i * d + t];
    return true;
  }
  bool update(std::size_t seed, float* min_d, float* block_sums) override {
    if (passes == fail_at_) return false;
    ++passes;
    k::default_kernels().kmeanspp_update(xt_.data(), n_, d_, rows_.data() + seed * d_, min_d, block_sums);
    return true;
  }
  std::size_t passes = 0;

 private:
  std::size_t fail_at_, n_ = 0, d_ = 0;
  std::vector<float> rows_, xt_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(another_device_gives_the_same_seeds_and_a_failing_one_is_replaced_by_the_cpu) {
  const std::size_t n = 5000, d = 24, kk = 120;
  const auto x = gaussian(n, d, 13);
  k::kmeans_options opt;
  opt.max_threads = 2;
  const auto cpu = k::kmeans_initialise(x.data(), n, d, kk, opt);
  fake_device whole(static_cast<std::size_t>(-1)), failing(40);
  const auto on_device = k::kmeans_initialise(x.data(), n, d, kk, opt, &whole);
  const auto recovered = k::kmeans_initialise(x.data(), n, d, kk, opt, &failing);
  BOOST_TEST(whole.passes == kk - 1);  // one pass per seed after the first
  BOOST_TEST(failing.passes == 40u);
  BOOST_TEST(on_device.centroids == cpu.centroids, boost::test_tools::per_element());
  BOOST_TEST(recovered.centroids == cpu.centroids, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(duplicates_with_k_close_to_n_leave_no_empty_or_nan_centroid) {
  // 16 distinct points, each repeated 1..4 times (40 rows).
  const std::size_t d = 4, distinct = 16;
  std::vector<float> x;
  for (std::size_t p = 0; p < distinct; ++p)
    for (std::size_t r = 0; r < 1 + p % 4; ++r)
      for (std::size_t t = 0; t < d; ++t) x.push_back(static_cast<float>((p * 7 + t * 3) % 11) + static_cast<float>(p));
  const std::size_t n = x.size() / d;
  for (std::size_t kk : {distinct, std::size_t{30}, n}) {
    const auto r = k::kmeans(x.data(), n, d, kk, {});
    for (float v : r.centroids) BOOST_TEST(std::isfinite(v));
    BOOST_TEST(r.objective == 0.0);  // every distinct point gets its own centroid
  }
  // fewer centroids than distinct points: every centroid still owns a point
  const std::size_t kk = 12;
  const auto r = k::kmeans(x.data(), n, d, kk, {});
  std::vector<std::uint32_t> labels(n);
  k::assign_nearest(x.data(), n, r.centroids.data(), kk, d, labels.data(), nullptr);
  BOOST_TEST(std::set<std::uint32_t>(labels.begin(), labels.end()).size() == kk);
}

BOOST_AUTO_TEST_CASE(spherical_centroids_have_unit_length) {
  const std::size_t n = 500, d = 8, kk = 10;
  auto x = gaussian(n, d, 12);
  k::kmeans_options opt;
  opt.spherical = true;
  const auto r = k::kmeans(x.data(), n, d, kk, opt);
  for (std::size_t j = 0; j < kk; ++j) {
    float s = 0;
    for (std::size_t t = 0; t < d; ++t) s += r.centroids[j * d + t] * r.centroids[j * d + t];
    BOOST_TEST(std::abs(s - 1.f) < 1e-4f);
  }
}

BOOST_AUTO_TEST_CASE(random_rows_initialisation_starts_on_training_rows_and_converges) {
  const std::size_t n = 2000, d = 12, kk = 32;
  const auto x = gaussian(n, d, 21);
  k::kmeans_options opt;
  opt.init = k::kmeans_init::random_rows;
  opt.max_iterations = 0;  // the initial centroids themselves: k distinct rows of x
  const auto init = k::kmeans(x.data(), n, d, kk, opt);
  std::set<std::size_t> rows;
  for (std::size_t j = 0; j < kk; ++j)
    for (std::size_t i = 0; i < n; ++i)
      if (std::equal(x.begin() + i * d, x.begin() + (i + 1) * d, init.centroids.begin() + j * d)) rows.insert(i);
  BOOST_TEST(rows.size() == kk);
  opt.max_iterations = 25;
  const auto a = k::kmeans(x.data(), n, d, kk, opt), b = k::kmeans(x.data(), n, d, kk, opt);
  BOOST_TEST(a.centroids == b.centroids, boost::test_tools::per_element());  // seeded
  BOOST_TEST(a.objective < init.objective);
  // as good as k-means++ on unstructured data (within 5 %)
  const auto pp = k::kmeans(x.data(), n, d, kk, {});
  BOOST_TEST(a.objective <= pp.objective * 1.05);
}
