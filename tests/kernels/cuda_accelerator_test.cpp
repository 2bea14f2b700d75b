#define BOOST_TEST_MODULE cuda_accelerator
#include <boost/test/unit_test.hpp>

// accelerator = cpu | cuda | auto (kernels/accelerator.hpp). On a machine without a GPU (CI, the build
// machines) auto must fall back to the CPU with one log line and give exactly the CPU result, and cuda
// must fail with a message naming the problem. Where a GPU is present the GPU-only expectations run instead.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/accelerator.hpp"

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
  k::accelerator_choice c;
  return k::resolve_accelerator(k::accelerator::automatic, nullptr, &c).ok() &&
         c.used == k::accelerator::cuda;
}

struct log_capture {
  std::vector<std::string> lines;
  k::log_sink sink() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
};

}  // namespace

// Preconditions: a case that needs (or needs the absence of) a GPU is reported as skipped elsewhere.
boost::test_tools::assertion_result needs_gpu(boost::unit_test::test_unit_id) { return gpu_present(); }
boost::test_tools::assertion_result needs_no_gpu(boost::unit_test::test_unit_id) { return !gpu_present(); }

BOOST_AUTO_TEST_CASE(names_round_trip_and_unknown_names_are_rejected) {
  for (auto a : {k::accelerator::cpu, k::accelerator::cuda, k::accelerator::automatic}) {
    const auto parsed = k::parse_accelerator(k::to_string(a));
    BOOST_TEST_REQUIRE(parsed.has_value());
    BOOST_TEST(static_cast<int>(*parsed) == static_cast<int>(a));
  }
  BOOST_TEST(!k::parse_accelerator("gpu").has_value());
  BOOST_TEST(!k::parse_accelerator("CUDA").has_value());
  BOOST_TEST(k::accelerator_parse_error("gpu") == "accelerator=gpu: must be one of cpu, cuda, auto");
}

BOOST_AUTO_TEST_CASE(cpu_resolves_to_cpu_silently) {
  log_capture log;
  k::accelerator_choice c;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cpu, log.sink(), &c).ok());
  BOOST_TEST(c.used == k::accelerator::cpu);
  BOOST_TEST(log.lines.empty());
}

BOOST_AUTO_TEST_CASE(auto_without_gpu_falls_back_to_cpu_with_one_log_line) {
  log_capture log;
  k::accelerator_choice c;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::automatic, log.sink(), &c).ok());
  if (c.used == k::accelerator::cuda) {
    BOOST_TEST_MESSAGE("a GPU is present: auto chose cuda");
    BOOST_TEST(log.lines.empty());
    return;
  }
  BOOST_TEST(c.used == k::accelerator::cpu);
  BOOST_TEST_REQUIRE(log.lines.size() == 1u);
  BOOST_TEST(log.lines[0] == c.reason);
  BOOST_TEST(log.lines[0].find("accelerator=auto: ") == 0u);
  BOOST_TEST(log.lines[0].find("training on the CPU") != std::string::npos);
  if (k::cuda_built())  // the runtime's own reason is carried through
    BOOST_TEST(log.lines[0].find("cudaGetDeviceCount") != std::string::npos);
  else
    BOOST_TEST(log.lines[0].find("no CUDA support") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(cuda_without_gpu_is_an_error_naming_the_problem, *boost::unit_test::precondition(needs_no_gpu)) {
  log_capture log;
  k::accelerator_choice c;
  const k::device_status s = k::resolve_accelerator(k::accelerator::cuda, log.sink(), &c);
  BOOST_TEST_REQUIRE(!s.ok());
  BOOST_TEST(s.code() == k::device_errc::unavailable);
  BOOST_TEST(s.message().find("accelerator=cuda: ") == 0u);
  BOOST_TEST(s.message().find(k::cuda_built() ? "no usable CUDA device" : "no CUDA support") !=
             std::string::npos);
  BOOST_TEST(s.message().find("use accelerator=cpu or auto") != std::string::npos);
  BOOST_TEST(log.lines.empty());
}

BOOST_AUTO_TEST_CASE(auto_kmeans_matches_cpu_kmeans_without_gpu, *boost::unit_test::precondition(needs_no_gpu)) {
  const std::size_t n = 3000, d = 16, kc = 12;
  const std::vector<float> x = gaussian_blobs(n, d, kc, 7);
  k::kmeans_options opt;
  opt.max_iterations = 20;
  opt.max_points_per_centroid = 100;  // exercises the seeded subsample
  k::accelerator_choice cpu, automatic;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cpu, nullptr, &cpu).ok());
  log_capture log;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::automatic, log.sink(), &automatic).ok());
  k::kmeans_result a, b;
  BOOST_TEST_REQUIRE(k::train_kmeans(cpu, x.data(), n, d, kc, opt, log.sink(), &a).ok());
  BOOST_TEST_REQUIRE(k::train_kmeans(automatic, x.data(), n, d, kc, opt, log.sink(), &b).ok());
  BOOST_TEST(a.centroids == b.centroids, boost::test_tools::per_element());
  BOOST_TEST(a.objective == b.objective);
  BOOST_TEST(a.iterations == b.iterations);
  BOOST_TEST(log.lines.size() == 1u);  // the resolve line only; training adds none
}

BOOST_AUTO_TEST_CASE(auto_pq_codebooks_match_cpu_codebooks_without_gpu, *boost::unit_test::precondition(needs_no_gpu)) {
  const std::size_t n = 2048, d = 16, M = 4, ksub = 16;
  const std::vector<float> x = gaussian_blobs(n, d, 32, 11);
  k::kmeans_options opt;
  opt.max_iterations = 10;
  k::accelerator_choice cpu, automatic;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cpu, nullptr, &cpu).ok());
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::automatic, nullptr, &automatic).ok());
  std::vector<float> a, b;
  BOOST_TEST_REQUIRE(k::train_pq_codebooks(cpu, x.data(), n, d, M, ksub, opt, nullptr, &a).ok());
  BOOST_TEST_REQUIRE(k::train_pq_codebooks(automatic, x.data(), n, d, M, ksub, opt, nullptr, &b).ok());
  BOOST_TEST_REQUIRE(a.size() == M * ksub * (d / M));
  BOOST_TEST(a == b, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pq_codebooks_on_cpu_are_per_subspace_kmeans) {
  // Sub-space m of the codebooks is kmeans() of the m-th sub-vectors with seed opt.seed + m.
  const std::size_t n = 1024, d = 8, M = 2, ksub = 8, dsub = d / M;
  const std::vector<float> x = gaussian_blobs(n, d, 16, 3);
  k::kmeans_options opt;
  opt.max_iterations = 8;
  k::accelerator_choice cpu;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cpu, nullptr, &cpu).ok());
  std::vector<float> books;
  BOOST_TEST_REQUIRE(k::train_pq_codebooks(cpu, x.data(), n, d, M, ksub, opt, nullptr, &books).ok());
  for (std::size_t m = 0; m < M; ++m) {
    std::vector<float> sub(n * dsub);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t t = 0; t < dsub; ++t) sub[i * dsub + t] = x[i * d + m * dsub + t];
    k::kmeans_options o = opt;
    o.seed = opt.seed + m;
    const k::kmeans_result r = k::kmeans(sub.data(), n, dsub, ksub, o);
    const std::vector<float> got(books.begin() + m * ksub * dsub, books.begin() + (m + 1) * ksub * dsub);
    BOOST_TEST(got == r.centroids, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(bad_sizes_are_errors_not_aborts) {
  const std::vector<float> x(10 * 4, 1.0f);
  k::accelerator_choice c;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::automatic, nullptr, &c).ok());
  k::kmeans_result r;
  k::device_status s = k::train_kmeans(c, x.data(), 10, 4, 11, {}, nullptr, &r);
  BOOST_TEST(s.code() == k::device_errc::invalid_argument);
  BOOST_TEST(s.message() == "k=11: must be in [1, n=10]");
  std::vector<float> books;
  s = k::train_pq_codebooks(c, x.data(), 10, 4, 3, 2, {}, nullptr, &books);
  BOOST_TEST(s.code() == k::device_errc::invalid_argument);
  BOOST_TEST(s.message() == "M=3: must be ≥ 1 and divide d=4");
}

namespace {

// Reported as skipped where no GPU is present (CI): the cases below need one (tests/gpu/device_check.sh).

// Σ over rows and sub-spaces of the squared distance to the nearest codeword. books: M × ksub × dsub.
double pq_distortion(const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t M, std::size_t ksub,
                     const std::vector<float>& books) {
  const std::size_t dsub = d / M;
  double total = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t m = 0; m < M; ++m) {
      double best = 1e300;
      for (std::size_t c = 0; c < ksub; ++c) {
        double s = 0;
        for (std::size_t t = 0; t < dsub; ++t) {
          const double diff = double(x[i * d + m * dsub + t]) - books[(m * ksub + c) * dsub + t];
          s += diff * diff;
        }
        best = std::min(best, s);
      }
      total += best;
    }
  return total;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cuda_kmeans_starts_where_cpu_kmeans_starts, *boost::unit_test::precondition(needs_gpu)) {
  // The GPU runs kmeans()'s own start (subsample + k-means++), so after one Lloyd update both devices
  // are at the same objective up to float rounding; after 20 updates still within 1 %.
  const std::size_t n = 20000, d = 32, kc = 64;
  const std::vector<float> x = gaussian_blobs(n, d, 80, 21);
  k::kmeans_options opt;
  opt.max_points_per_centroid = 200;  // 12,800 of 20,000 rows: the subsample is shared too
  k::accelerator_choice cpu, cuda;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cpu, nullptr, &cpu).ok());
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cuda, nullptr, &cuda).ok());
  for (std::size_t iterations : {1u, 20u}) {
    opt.max_iterations = iterations;
    k::kmeans_result a, b;
    BOOST_TEST_REQUIRE(k::train_kmeans(cpu, x.data(), n, d, kc, opt, nullptr, &a).ok());
    BOOST_TEST_REQUIRE(k::train_kmeans(cuda, x.data(), n, d, kc, opt, nullptr, &b).ok());
    const double rel = std::abs(a.objective - b.objective) / a.objective;
    BOOST_TEST_MESSAGE("iterations " << iterations << ": objective cpu " << a.objective << " cuda " << b.objective);
    BOOST_TEST(rel <= (iterations == 1 ? 1e-4 : 1e-2), "relative difference " << rel);
  }
}

BOOST_AUTO_TEST_CASE(cuda_pq_codebooks_start_where_cpu_ones_start, *boost::unit_test::precondition(needs_gpu)) {
  const std::size_t n = 4096, d = 32, M = 8, ksub = 16;
  const std::vector<float> x = gaussian_blobs(n, d, 40, 23);
  k::kmeans_options opt;
  opt.init = k::kmeans_init::random_rows;  // as the index trains PQ
  k::accelerator_choice cpu, cuda;
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cpu, nullptr, &cpu).ok());
  BOOST_TEST_REQUIRE(k::resolve_accelerator(k::accelerator::cuda, nullptr, &cuda).ok());
  for (std::size_t iterations : {1u, 25u}) {
    opt.max_iterations = iterations;
    std::vector<float> a, b;
    BOOST_TEST_REQUIRE(k::train_pq_codebooks(cpu, x.data(), n, d, M, ksub, opt, nullptr, &a).ok());
    BOOST_TEST_REQUIRE(k::train_pq_codebooks(cuda, x.data(), n, d, M, ksub, opt, nullptr, &b).ok());
    const double da = pq_distortion(x, n, d, M, ksub, a), db = pq_distortion(x, n, d, M, ksub, b);
    BOOST_TEST_MESSAGE("iterations " << iterations << ": PQ distortion cpu " << da << " cuda " << db);
    BOOST_TEST(std::abs(da - db) / da <= (iterations == 1 ? 1e-4 : 1e-2), "cpu " << da << " cuda " << db);
  }
}
