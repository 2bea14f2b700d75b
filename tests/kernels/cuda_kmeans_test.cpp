#define BOOST_TEST_MODULE cuda_kmeans
#include <boost/test/unit_test.hpp>

// kernels/cuda without the rest of ivfstream: this suite links only ivfstream_kernels_cuda (nvcc +
// cuBLAS), so building it proves the CUDA sources compile. Without a GPU it checks the host steps
// (initial centroids, empty-cluster repair) and that every entry point returns `unavailable` or
// `invalid_argument` instead of aborting. With a GPU it also compares GPU Lloyd with a CPU Lloyd from
// the same initial centroids (the full-size comparison is tests/gpu/check.sh).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/cuda/gpu_kmeans.hpp"
#include "kernels/cuda/kmeans_host_steps.hpp"

namespace k = ivfstream::kernels;

namespace {

std::vector<float> gaussian_blobs(std::size_t n, std::size_t d, std::size_t blobs, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> g;
  std::vector<float> centres(blobs * d);
  for (auto& v : centres) v = 10.0f * g(gen);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < d; ++t) x[i * d + t] = centres[(i % blobs) * d + t] + g(gen);
  return x;
}

bool gpu_present() {
  int count = 0;
  return k::gpu_device_count(&count).ok() && count > 0;
}

// Plain Lloyd with the same conventions as the GPU trainer: M sub-spaces, ties to the lower index,
// repair_empty_clusters with repair_seed, objective of the returned centroids.
double cpu_lloyd(const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t M, std::size_t kc,
                 std::size_t iterations, std::uint64_t seed, std::vector<float>* cents) {
  const std::size_t dsub = d / M;
  std::vector<std::uint32_t> assign(n * M);
  const auto assign_all = [&] {
    double obj = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t m = 0; m < M; ++m) {
        float best = INFINITY;
        std::uint32_t bc = 0;
        for (std::size_t c = 0; c < kc; ++c) {
          float s = 0.0f;
          for (std::size_t t = 0; t < dsub; ++t) {
            const float diff = x[i * d + m * dsub + t] - (*cents)[(m * kc + c) * dsub + t];
            s += diff * diff;
          }
          if (s < best) best = s, bc = static_cast<std::uint32_t>(c);
        }
        assign[i * M + m] = bc;
        obj += best;
      }
    return obj;
  };
  for (std::size_t it = 0; it < iterations; ++it) {
    assign_all();
    std::vector<double> sums(kc * d, 0.0);
    std::vector<std::uint32_t> counts(M * kc, 0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t m = 0; m < M; ++m) {
        const std::size_t row = m * kc + assign[i * M + m];
        ++counts[row];
        for (std::size_t t = 0; t < dsub; ++t) sums[row * dsub + t] += x[i * d + m * dsub + t];
      }
    for (std::size_t row = 0; row < M * kc; ++row)
      if (counts[row] > 0)
        for (std::size_t t = 0; t < dsub; ++t)
          (*cents)[row * dsub + t] = static_cast<float>(sums[row * dsub + t] / counts[row]);
    for (std::size_t m = 0; m < M; ++m)
      (void)k::repair_empty_clusters(cents->data() + m * kc * dsub, counts.data() + m * kc, kc, dsub,
                                     k::repair_seed(seed, it, m));
  }
  return assign_all();
}

}  // namespace

BOOST_AUTO_TEST_CASE(initial_centroids_are_distinct_training_rows_per_subspace) {
  const std::size_t n = 500, d = 6, M = 3, kc = 40, dsub = d / M;
  std::vector<float> x(n * d);
  std::iota(x.begin(), x.end(), 0.0f);  // every sub-vector is unique and names its row
  std::vector<float> out(kc * d);
  k::sample_initial_centroids(x.data(), n, d, M, kc, 5, out.data());
  for (std::size_t m = 0; m < M; ++m) {
    std::set<std::size_t> rows;
    for (std::size_t c = 0; c < kc; ++c) {
      const float first = out[(m * kc + c) * dsub];
      const std::size_t row = static_cast<std::size_t>(first) / d;
      BOOST_TEST(static_cast<std::size_t>(first) % d == m * dsub);  // the m-th slice of that row
      for (std::size_t t = 0; t < dsub; ++t) BOOST_TEST(out[(m * kc + c) * dsub + t] == x[row * d + m * dsub + t]);
      rows.insert(row);
    }
    BOOST_TEST(rows.size() == kc);
  }
  std::vector<float> again(kc * d);
  k::sample_initial_centroids(x.data(), n, d, M, kc, 5, again.data());
  BOOST_TEST(out == again, boost::test_tools::per_element());
  const std::vector<std::size_t> all = k::sample_distinct_rows(50, 50, 9);
  BOOST_TEST(std::set<std::size_t>(all.begin(), all.end()).size() == 50u);
}

BOOST_AUTO_TEST_CASE(empty_clusters_are_split_from_populated_ones) {
  const std::size_t kc = 5, dsub = 4;
  std::vector<float> cents = {1, 2, 3, 4,  0, 0, 0, 0,  5, 6, 7, 8,  0, 0, 0, 0,  9, 9, 9, 9};
  std::vector<std::uint32_t> counts = {10, 0, 1, 0, 7};
  const std::vector<float> before = cents;
  const std::size_t repaired = k::repair_empty_clusters(cents.data(), counts.data(), kc, dsub, 17);
  BOOST_TEST(repaired == 2u);
  BOOST_TEST(std::accumulate(counts.begin(), counts.end(), 0u) == 18u);
  for (std::size_t c : {1u, 3u}) {
    BOOST_TEST(counts[c] > 0u);
    // A repaired centroid sits within 1/1024 relative of a populated cluster other than the singleton.
    bool near_donor = false;
    for (std::size_t j : {0u, 4u}) {
      bool close = true;
      for (std::size_t t = 0; t < dsub; ++t)
        close = close && std::fabs(cents[c * dsub + t] - before[j * dsub + t]) <= before[j * dsub + t] / 1000.0f;
      near_donor = near_donor || close;
    }
    BOOST_TEST(near_donor);
  }
  for (std::size_t t = 0; t < dsub; ++t) BOOST_TEST(cents[2 * dsub + t] == before[2 * dsub + t]);  // count 1: never a donor
  std::vector<std::uint32_t> singletons = {1, 0, 1};
  std::vector<float> three(3 * dsub, 1.0f);
  BOOST_TEST(k::repair_empty_clusters(three.data(), singletons.data(), 3, dsub, 1) == 0u);
}

BOOST_AUTO_TEST_CASE(entry_points_report_instead_of_aborting) {
  const std::size_t n = 64, d = 8;
  const std::vector<float> x = gaussian_blobs(n, d, 4, 1);
  std::vector<float> cents(4 * d);
  k::gpu_kmeans_options opt;
  k::device_status s = k::gpu_kmeans(x.data(), n, d, 100, cents.data(), opt, cents.data(), nullptr);
  BOOST_TEST(s.code() == k::device_errc::invalid_argument);
  BOOST_TEST(s.message() == "k=100: must be in [1, n=64]");
  s = k::gpu_train_pq(x.data(), n, d, 3, 4, cents.data(), opt, cents.data(), nullptr);
  BOOST_TEST(s.code() == k::device_errc::invalid_argument);
  BOOST_TEST(s.message() == "M=3: must be ≥ 1 and divide d=8");
  opt.max_iterations = 0;
  s = k::gpu_kmeans(x.data(), n, d, 4, cents.data(), opt, cents.data(), nullptr);
  BOOST_TEST(s.message() == "max_iterations=0: must be ≥ 1");
  if (gpu_present()) return;
  int count = -1;
  s = k::gpu_device_count(&count);
  BOOST_TEST(count == 0);
  BOOST_TEST(s.code() == k::device_errc::unavailable);
  BOOST_TEST(s.message().find("cudaGetDeviceCount") != std::string::npos);
  BOOST_TEST_MESSAGE("no GPU here: " << s.to_string());
  opt.max_iterations = 5;
  s = k::gpu_kmeans(x.data(), n, d, 4, cents.data(), opt, cents.data(), nullptr);
  BOOST_TEST(s.code() == k::device_errc::unavailable);
  k::gpu_kmeanspp_passes passes;
  BOOST_TEST(passes.load(x.data(), n, d).code() == k::device_errc::unavailable);
  std::vector<float> min_d(n), sums(1);
  BOOST_TEST(passes.update(0, min_d.data(), sums.data()).message() == "k-means++ pass before load()");
}

BOOST_AUTO_TEST_CASE(gpu_kmeanspp_passes_equal_the_cpu_definition) {
  if (!gpu_present()) {
    BOOST_TEST_MESSAGE("no GPU: skipped (tests/gpu/device_check.sh runs it on a GPU machine)");
    return;
  }
  // 1000 rows: three whole blocks of 256 and a partial one. min_d must equal the definition bit for bit
  // (no FMA, t order); the block sums only up to float summation order.
  const std::size_t n = 1000, d = 40;
  const std::vector<float> x = gaussian_blobs(n, d, 7, 5);
  k::gpu_kmeanspp_passes passes;
  BOOST_TEST_REQUIRE(passes.load(x.data(), n, d).ok());
  std::vector<float> gpu(n), sums(4), cpu(n, std::numeric_limits<float>::infinity());
  for (std::size_t seed : {std::size_t{3}, std::size_t{999}, std::size_t{500}}) {
    BOOST_TEST_REQUIRE(passes.update(seed, gpu.data(), sums.data()).ok());
    for (std::size_t i = 0; i < n; ++i) {
      volatile float acc = 0.0f;  // volatile: one rounding per operation, as the definition says
      for (std::size_t t = 0; t < d; ++t) {
        volatile float diff = x[i * d + t] - x[seed * d + t];
        volatile float sq = diff * diff;
        acc = acc + sq;
      }
      cpu[i] = acc < cpu[i] ? float(acc) : cpu[i];
    }
    BOOST_TEST(gpu == cpu, boost::test_tools::per_element());
    for (std::size_t b = 0; b < 4; ++b) {
      double expect = 0;
      for (std::size_t i = 256 * b; i < std::min(n, 256 * b + 256); ++i) expect += cpu[i];
      BOOST_TEST(std::fabs(sums[b] - expect) <= 1e-5 * expect);
    }
  }
  BOOST_TEST(gpu[3] == 0.0f);
  BOOST_TEST(passes.update(n, gpu.data(), sums.data()).code() == k::device_errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(gpu_lloyd_matches_cpu_lloyd_from_the_same_start) {
  if (!gpu_present()) {
    BOOST_TEST_MESSAGE("no GPU: skipped (tests/gpu/check.sh runs the full comparison on a GPU machine)");
    return;
  }
  const std::size_t n = 4000, d = 16, kc = 24, iterations = 10;
  const std::vector<float> x = gaussian_blobs(n, d, 20, 2);
  for (std::size_t M : {std::size_t{1}, std::size_t{4}}) {
    std::vector<float> init(kc * d);
    k::sample_initial_centroids(x.data(), n, d, M, kc, 3, init.data());
    std::vector<float> cpu = init, gpu(kc * d), streamed(kc * d);
    const double cpu_obj = cpu_lloyd(x, n, d, M, kc, iterations, 42, &cpu);
    k::gpu_kmeans_options opt;
    opt.max_iterations = iterations;
    k::gpu_kmeans_stats st, st_streamed;
    BOOST_TEST_REQUIRE(k::gpu_train_pq(x.data(), n, d, M, kc, init.data(), opt, gpu.data(), &st).ok());
    opt.device_memory_limit = 64 * 1024;  // forces streaming in small batches
    BOOST_TEST_REQUIRE(
        k::gpu_train_pq(x.data(), n, d, M, kc, init.data(), opt, streamed.data(), &st_streamed).ok());
    BOOST_TEST(st_streamed.streamed);
    BOOST_TEST(st.iterations == iterations);
    BOOST_TEST(std::fabs(st.objective - cpu_obj) <= 1e-3 * cpu_obj);
    BOOST_TEST(std::fabs(st_streamed.objective - st.objective) <= 1e-4 * st.objective);
  }
}
