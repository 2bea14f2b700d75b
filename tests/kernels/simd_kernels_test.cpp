#define BOOST_TEST_MODULE simd_kernels
// Every compiled ISA variant (every level simd_level_supported() here) against the scalar reference, on
// awkward sizes, with integer-valued data so that results compare exactly (FMA and summation order make
// distances differ in the last bits on real data: a separate case states that tolerance; kmeanspp_update
// is also compared bit for bit on real data, its files being built without FMA). The suite is registered a
// second time per forced level (IVFSTREAM_SIMD), which also checks default_kernels() honours it.
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernel_table.hpp"
#include "kernels/pq_codes.hpp"

namespace k = ivfstream::kernels;

namespace {
const std::size_t k_sizes[] = {1, 3, 7, 15, 16, 17, 31, 33, 255, 257};

std::vector<const k::kernel_table*> levels_under_test() {
  std::vector<const k::kernel_table*> out;
  for (auto level : {k::simd_level::scalar, k::simd_level::avx2, k::simd_level::avx512, k::simd_level::neon})
    if (k::simd_level_supported(level)) out.push_back(&k::kernels_for(level));
  return out;
}

std::vector<float> integers(std::size_t n, std::mt19937& gen, int lo, int hi) {
  std::vector<float> out(n);
  for (auto& v : out) v = static_cast<float>(lo + static_cast<int>(gen() % static_cast<unsigned>(hi - lo + 1)));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(kernels_for_returns_requested_or_lower_level) {
  for (auto* t : levels_under_test()) BOOST_TEST(k::simd_level_supported(t->level));
  BOOST_TEST((k::kernels_for(k::simd_level::scalar).level == k::simd_level::scalar));
  BOOST_TEST((k::kernels_for(k::detect_simd_level()).level == k::detect_simd_level()));
  // a level of the other architecture is never supported and falls back to scalar
#if defined(__aarch64__)
  BOOST_TEST(!k::simd_level_supported(k::simd_level::avx2));
  BOOST_TEST(k::to_string(k::kernels_for(k::simd_level::avx512).level) == "scalar");
#else
  BOOST_TEST(!k::simd_level_supported(k::simd_level::neon));
  BOOST_TEST(k::to_string(k::kernels_for(k::simd_level::neon).level) == "scalar");
#endif
}

#if defined(IVFSTREAM_EXPECTED_SIMD_LEVEL)
BOOST_AUTO_TEST_CASE(detects_the_expected_level) {
  // set by builds whose target CPU is known (the aarch64 cross build: NEON is baseline there), so that
  // a dispatch mistake cannot reduce the comparisons below to scalar against scalar
  BOOST_TEST(k::to_string(k::detect_simd_level()) == IVFSTREAM_EXPECTED_SIMD_LEVEL);
}
#endif

BOOST_AUTO_TEST_CASE(default_kernels_honour_ivfstream_simd) {
  const char* forced = std::getenv("IVFSTREAM_SIMD");
  const auto level = forced ? k::parse_simd_level(forced) : std::nullopt;
  if (level && k::simd_level_supported(*level))
    BOOST_TEST(k::to_string(k::default_kernels().level) == k::to_string(*level));
  else
    BOOST_TEST(k::to_string(k::default_kernels().level) == k::to_string(k::detect_simd_level()));
}

BOOST_AUTO_TEST_CASE(distances_equal_scalar_on_awkward_sizes) {
  std::mt19937 gen(1);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (auto* t : levels_under_test())
    for (std::size_t d : k_sizes) {
      const std::size_t ny = 5;
      const auto x = integers(d, gen, -8, 8), y = integers(ny * d, gen, -8, 8);
      BOOST_TEST_CONTEXT(k::to_string(t->level) << " d=" << d) {
        BOOST_TEST(t->l2sqr(x.data(), y.data(), d) == ref.l2sqr(x.data(), y.data(), d));
        BOOST_TEST(t->inner_product(x.data(), y.data(), d) == ref.inner_product(x.data(), y.data(), d));
        std::vector<float> a(ny), b(ny);
        t->l2sqr_ny(x.data(), y.data(), ny, d, a.data());
        ref.l2sqr_ny(x.data(), y.data(), ny, d, b.data());
        BOOST_TEST(a == b, boost::test_tools::per_element());
        t->inner_product_ny(x.data(), y.data(), ny, d, a.data());
        ref.inner_product_ny(x.data(), y.data(), ny, d, b.data());
        BOOST_TEST(a == b, boost::test_tools::per_element());
      }
    }
}

// Real-valued data: the SIMD distances differ from scalar in summation order and by FMA (a product
// and its add rounded once; the scalar reference rounds the product first), so they are not equal bit
// for bit. The true tolerance: both are sums of d terms (squares for l2; products for ip), each within
// γ = d · 2⁻²⁴ relative error of Σ|term| (plus the product's own rounding), so they differ by at most
// 2 · (d + 1) · 2⁻²⁴ · Σ|term|; asserted here.
BOOST_AUTO_TEST_CASE(distances_agree_with_scalar_within_rounding_on_real_data) {
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.f, 10.f);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  bool some_differ = false;  // documents why the integer-valued test above is the exact one
  for (std::size_t d : {1, 3, 7, 15, 16, 17, 31, 33, 255, 257, 784}) {
    std::vector<float> x(d), y(d);
    for (auto& v : x) v = normal(gen);
    for (auto& v : y) v = normal(gen);
    double abs_l2 = 0, abs_ip = 0;
    for (std::size_t i = 0; i < d; ++i) {
      const double diff = double(x[i]) - double(y[i]);
      abs_l2 += diff * diff;
      abs_ip += std::abs(double(x[i]) * double(y[i]));
    }
    const double gamma = 2.0 * double(d + 1) * 0x1p-24;
    for (auto* t : levels_under_test()) {
      const float l2 = t->l2sqr(x.data(), y.data(), d), l2_ref = ref.l2sqr(x.data(), y.data(), d);
      const float ip = t->inner_product(x.data(), y.data(), d), ip_ref = ref.inner_product(x.data(), y.data(), d);
      some_differ = some_differ || l2 != l2_ref || ip != ip_ref;
      BOOST_TEST_CONTEXT(k::to_string(t->level) << " d=" << d) {
        BOOST_TEST(std::abs(double(l2) - double(l2_ref)) <= gamma * abs_l2);
        BOOST_TEST(std::abs(double(ip) - double(ip_ref)) <= gamma * abs_ip);
      }
    }
  }
  if (!some_differ) BOOST_TEST_MESSAGE("every level equalled scalar bit for bit on this data");
}

BOOST_AUTO_TEST_CASE(adc_scan_equals_scalar_for_every_nbits_and_size) {
  std::mt19937 gen(2);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (unsigned nbits : {4u, 6u, 8u, 10u, 12u})
    for (std::size_t M : {1, 3, 7, 8, 15, 16, 17, 31, 33, 65}) {  // 65: past NEON's 64-sub-code chunk
      const std::size_t ksub = std::size_t{1} << nbits;
      const auto lut = integers(M * ksub, gen, 0, 1000);
      for (std::size_t n : k_sizes) {
        std::vector<std::uint16_t> sub(n * M);
        for (auto& c : sub) c = static_cast<std::uint16_t>(gen() % ksub);
        // exactly sized buffer: over-reads past the end would be caught by ASan builds
        std::vector<std::uint8_t> codes(n * k::code_size(M, nbits));
        k::pack_codes(sub.data(), n, M, nbits, codes.data());
        std::vector<float> want(n), got(n);
        ref.adc_scan(codes.data(), n, M, nbits, lut.data(), 7.f, want.data());
        for (auto* t : levels_under_test()) {
          std::fill(got.begin(), got.end(), -1.f);
          t->adc_scan(codes.data(), n, M, nbits, lut.data(), 7.f, got.data());
          BOOST_TEST_CONTEXT(k::to_string(t->level) << " nbits=" << nbits << " M=" << M << " n=" << n) {
            BOOST_TEST(got == want, boost::test_tools::per_element());
          }
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(kmeans_steps_equal_scalar) {
  std::mt19937 gen(3);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t kk : k_sizes) {
    const std::size_t rows = 9;
    // few distinct values so that ties occur and must go to the lowest index
    const auto ip = integers(rows * kk, gen, -3, 3), norms = integers(kk, gen, 0, 4);
    std::vector<std::uint32_t> want_l(rows);
    std::vector<float> want_b(rows);
    ref.nearest_from_ip(ip.data(), rows, kk, norms.data(), want_l.data(), want_b.data());
    for (auto* t : levels_under_test()) {
      std::vector<std::uint32_t> got_l(rows, 99999);
      std::vector<float> got_b(rows);
      t->nearest_from_ip(ip.data(), rows, kk, norms.data(), got_l.data(), got_b.data());
      BOOST_TEST_CONTEXT(k::to_string(t->level) << " k=" << kk) {
        BOOST_TEST(got_l == want_l, boost::test_tools::per_element());
        BOOST_TEST(got_b == want_b, boost::test_tools::per_element());
      }
    }
  }
  for (std::size_t d : k_sizes) {
    const auto x = integers(d, gen, -100, 100);
    std::vector<double> want(d, 0.5);
    ref.accumulate_f64(want.data(), x.data(), d);
    for (auto* t : levels_under_test()) {
      std::vector<double> got(d, 0.5);
      t->accumulate_f64(got.data(), x.data(), d);
      BOOST_TEST(got == want, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(kmeanspp_update_equals_scalar) {
  std::mt19937 gen(6);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t n : {1, 3, 17, 255, 256, 257, 600})
    for (std::size_t d : {1, 3, 8, 17}) {
      const auto xt = integers(n * d, gen, -20, 20), c = integers(d, gen, -20, 20);
      auto start = integers(n, gen, 0, 3000);
      start[0] = std::numeric_limits<float>::infinity();
      const std::size_t blocks = (n + 255) / 256;
      auto want = start;
      std::vector<float> want_sums(blocks);
      ref.kmeanspp_update(xt.data(), n, d, c.data(), want.data(), want_sums.data());
      for (auto* t : levels_under_test()) {
        auto got = start;
        std::vector<float> sums(blocks);
        t->kmeanspp_update(xt.data(), n, d, c.data(), got.data(), sums.data());
        BOOST_TEST_CONTEXT(k::to_string(t->level) << " n=" << n << " d=" << d) {
          BOOST_TEST(got == want, boost::test_tools::per_element());
          BOOST_TEST(sums == want_sums, boost::test_tools::per_element());  // integers: exact in any order
        }
      }
    }
}

// Real-valued data: kmeanspp_update's distances add their rounded squares in coordinate order at every
// level (the per-ISA files are compiled with -ffp-contract=off, so no FMA), hence min_d is identical on
// any data, not only on integers; the block sums are added in a different order per level, so they
// agree within the rounding of a sum of 256 non-negative terms.
BOOST_AUTO_TEST_CASE(kmeanspp_update_equals_scalar_bit_for_bit_on_real_data) {
  std::mt19937 gen(16);
  std::normal_distribution<float> normal(0.f, 3.f);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t n : {17, 256, 600})
    for (std::size_t d : {3, 17, 64}) {
      std::vector<float> xt(n * d), c(d);
      for (auto& v : xt) v = normal(gen);
      for (auto& v : c) v = normal(gen);
      const std::vector<float> start(n, std::numeric_limits<float>::infinity());
      const std::size_t blocks = (n + 255) / 256;
      auto want = start;
      std::vector<float> want_sums(blocks);
      ref.kmeanspp_update(xt.data(), n, d, c.data(), want.data(), want_sums.data());
      for (auto* t : levels_under_test()) {
        auto got = start;
        std::vector<float> sums(blocks);
        t->kmeanspp_update(xt.data(), n, d, c.data(), got.data(), sums.data());
        BOOST_TEST_CONTEXT(k::to_string(t->level) << " n=" << n << " d=" << d) {
          BOOST_TEST(got == want, boost::test_tools::per_element());
          for (std::size_t b = 0; b < blocks; ++b)  // 256 terms ≥ 0: |error| ≤ 256 · 2⁻²³ · sum (loose)
            BOOST_TEST(std::abs(sums[b] - want_sums[b]) <= 256.f * 0x1p-23f * want_sums[b]);
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(matmul_nt_small_equals_scalar) {
  std::mt19937 gen(7);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t n : {1, 2, 3, 4, 5, 7, 17})
    for (std::size_t m : {1, 3, 7, 15, 16, 17, 33})
      for (std::size_t d : {1, 7, 8, 15, 16, 17, 33}) {
        const auto a = integers(n * d, gen, -9, 9), b = integers(m * d, gen, -9, 9);
        std::vector<float> want(n * m);
        ref.matmul_nt_small(a.data(), n, b.data(), m, d, want.data());
        for (auto* t : levels_under_test()) {
          std::vector<float> got(n * m + 1, 42.f);
          t->matmul_nt_small(a.data(), n, b.data(), m, d, got.data());
          BOOST_TEST(got[n * m] == 42.f);
          got.pop_back();
          BOOST_TEST_CONTEXT(k::to_string(t->level) << " n=" << n << " m=" << m << " d=" << d) {
            BOOST_TEST(got == want, boost::test_tools::per_element());
          }
        }
      }
}

BOOST_AUTO_TEST_CASE(matmul_nn_small_equals_scalar) {
  std::mt19937 gen(8);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t n : {1, 2, 3, 4, 5, 7, 17})
    for (std::size_t m : {1, 3, 7, 8, 15, 16, 17, 31, 33, 256, 257})
      for (std::size_t d : {1, 7, 8, 17, 49}) {
        const auto a = integers(n * d, gen, -9, 9), bt = integers(d * m, gen, -9, 9);
        std::vector<float> want(n * m);
        ref.matmul_nn_small(a.data(), n, bt.data(), d, m, want.data());
        for (auto* t : levels_under_test()) {
          std::vector<float> got(n * m + 1, 42.f);
          t->matmul_nn_small(a.data(), n, bt.data(), d, m, got.data());
          BOOST_TEST(got[n * m] == 42.f);
          got.pop_back();
          BOOST_TEST_CONTEXT(k::to_string(t->level) << " n=" << n << " m=" << m << " d=" << d) {
            BOOST_TEST(got == want, boost::test_tools::per_element());
          }
        }
      }
}

// Query tables come from matmul_nn_small (codebook_set::plan_queries): a query's row must not depend on
// the batch it is in, nor a column on where the tiles cut (full or masked tail), on real-valued data
// where rounding would show any difference in the order of operations.
BOOST_AUTO_TEST_CASE(matmul_nn_small_rows_and_columns_do_not_depend_on_the_shape) {
  std::mt19937 gen(12);
  std::normal_distribution<float> g;
  for (auto* t : levels_under_test())
    for (std::size_t m : {16, 33, 256})
      for (std::size_t d : {8, 49}) {
        const std::size_t n = 9;
        std::vector<float> a(n * d), bt(d * m), batch(n * m), alone(m);
        for (auto& v : a) v = g(gen);
        for (auto& v : bt) v = g(gen);
        t->matmul_nn_small(a.data(), n, bt.data(), d, m, batch.data());
        for (std::size_t i = 0; i < n; ++i) {
          t->matmul_nn_small(a.data() + i * d, 1, bt.data(), d, m, alone.data());
          BOOST_TEST_CONTEXT(k::to_string(t->level) << " m=" << m << " d=" << d << " row=" << i) {
            BOOST_TEST(std::equal(alone.begin(), alone.end(), batch.begin() + i * m));
          }
        }
        // the last column alone (bt's column j as a d × 1 matrix) equals column j of the full product
        std::vector<float> col(d), one(n);
        for (std::size_t q = 0; q < d; ++q) col[q] = bt[q * m + m - 1];
        t->matmul_nn_small(a.data(), n, col.data(), d, 1, one.data());
        for (std::size_t i = 0; i < n; ++i)
          BOOST_TEST(one[i] == batch[i * m + m - 1], k::to_string(t->level) << " m=" << m << " d=" << d << " row=" << i);
      }
}

BOOST_AUTO_TEST_CASE(add_scaled_equals_scalar) {
  std::mt19937 gen(5);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t n : k_sizes)
    for (float alpha : {-2.f, 1.f, 0.5f}) {
      const auto a = integers(n, gen, -500, 500), b = integers(n, gen, -500, 500);
      std::vector<float> want(n);
      ref.add_scaled(a.data(), alpha, b.data(), n, want.data());
      for (auto* t : levels_under_test()) {
        std::vector<float> got(n + 1, 42.f);
        t->add_scaled(a.data(), alpha, b.data(), n, got.data());
        BOOST_TEST(got[n] == 42.f);
        got.pop_back();
        BOOST_TEST(got == want, boost::test_tools::per_element());
        auto in_place = a;
        t->add_scaled(in_place.data(), alpha, b.data(), n, in_place.data());
        BOOST_TEST(in_place == want, boost::test_tools::per_element());
      }
    }
}

BOOST_AUTO_TEST_CASE(adc_scan_never_reads_past_the_codes) {
  // codes end exactly at a PROT_NONE guard page: any over-read (a 4-byte fetch or a full-width load
  // past the last row) crashes the test
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_TEST_REQUIRE(mem != MAP_FAILED);
  auto* base = static_cast<std::uint8_t*>(mem);
  BOOST_TEST_REQUIRE(mprotect(base + page, page, PROT_NONE) == 0);
  std::mt19937 gen(4);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (unsigned nbits : {4u, 6u, 8u, 10u, 12u})
    for (std::size_t M : {1, 3, 8, 16, 17, 33, 65})
      for (std::size_t n : {1, 2, 3, 5}) {
        const std::size_t bytes = n * k::code_size(M, nbits), ksub = std::size_t{1} << nbits;
        std::uint8_t* codes = base + page - bytes;
        for (std::size_t i = 0; i < bytes; ++i) codes[i] = static_cast<std::uint8_t>(gen());
        if (nbits == 6 || nbits == 10 || nbits == 12 || nbits == 4) {
          // clear the unused high bits of each row (pack_codes leaves them zero)
          std::vector<std::uint16_t> sub(n * M);
          k::unpack_codes(codes, n, M, nbits, sub.data());
          k::pack_codes(sub.data(), n, M, nbits, codes);
        }
        const auto lut = integers(M * ksub, gen, 0, 100);
        std::vector<float> want(n), got(n);
        ref.adc_scan(codes, n, M, nbits, lut.data(), 0.f, want.data());
        for (auto* t : levels_under_test()) {
          t->adc_scan(codes, n, M, nbits, lut.data(), 0.f, got.data());
          BOOST_TEST(got == want, boost::test_tools::per_element());
        }
      }
  munmap(mem, 2 * page);
}
