#define BOOST_TEST_MODULE gemm
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/gemm.hpp"

namespace k = ivfstream::kernels;

namespace {
std::vector<float> integer_matrix(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<float> out(rows * cols);
  for (auto& v : out) v = static_cast<float>(static_cast<int>(gen() % 9) - 4);
  return out;
}

std::vector<float> naive(const std::vector<float>& a, std::size_t n, const std::vector<float>& b, std::size_t m,
                         std::size_t d) {
  std::vector<float> c(n * m);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      double s = 0;
      for (std::size_t t = 0; t < d; ++t) s += double{a[i * d + t]} * b[j * d + t];
      c[i * m + j] = static_cast<float>(s);
    }
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(matmul_nt_equals_naive_loop_on_awkward_sizes) {
  for (std::size_t n : {1, 3, 17, 64, 257})
    for (std::size_t m : {1, 7, 33, 256})
      for (std::size_t d : {1, 15, 49, 128}) {
        const auto a = integer_matrix(n, d, 1), b = integer_matrix(m, d, 2);
        std::vector<float> c(n * m, -1.f);
        k::matmul_nt(a.data(), n, b.data(), m, d, c.data());
        const auto expected = naive(a, n, b, m, d);
        BOOST_TEST_CONTEXT("n=" << n << " m=" << m << " d=" << d) {
          BOOST_TEST(c == expected, boost::test_tools::per_element());
        }
      }
}

BOOST_AUTO_TEST_CASE(matmul_nt_onednn_path_equals_naive_loop) {
  // b above 2^20 floats takes oneDNN
  for (std::size_t n : {1, 5, 37}) {
    const std::size_t m = 1100, d = 1000;
    const auto a = integer_matrix(n, d, 3), b = integer_matrix(m, d, 4);
    std::vector<float> c(n * m, -1.f);
    k::matmul_nt(a.data(), n, b.data(), m, d, c.data());
    BOOST_TEST(c == naive(a, n, b, m, d), boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(matmul_nt_handles_empty_operands) {
  std::vector<float> a(8, 1.f), c(4, 7.f);
  k::matmul_nt(a.data(), 0, a.data(), 2, 4, c.data());
  k::matmul_nt(a.data(), 2, a.data(), 0, 4, c.data());
  BOOST_TEST(c == std::vector<float>(4, 7.f), boost::test_tools::per_element());
  k::matmul_nt(a.data(), 2, a.data(), 2, 0, c.data());
  BOOST_TEST(c == std::vector<float>(4, 0.f), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_nt_large_product_matches_within_rounding) {
  const std::size_t n = 300, m = 200, d = 784;
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> a(n * d), b(m * d), c(n * m);
  for (auto& v : a) v = u(gen);
  for (auto& v : b) v = u(gen);
  k::matmul_nt(a.data(), n, b.data(), m, d, c.data());
  const auto expected = naive(a, n, b, m, d);
  for (std::size_t i = 0; i < n * m; ++i) BOOST_TEST(std::abs(c[i] - expected[i]) < 1e-3f);
}

BOOST_AUTO_TEST_CASE(rows_do_not_depend_on_batch_size) {
  // row i of a·bᵀ computed in a batch of n equals the same row computed alone, bit for bit, for b
  // below and above 2^20 floats (matmul_nt sent the larger ones to oneDNN, whose rows do depend on n
  // on AVX2), with blocks of rows spread over threads too (single and batched queries must agree)
  std::mt19937 gen(9);
  std::normal_distribution<float> g;
  struct shape {
    std::size_t m, d;
  };
  for (const shape s : {shape{256, 49}, shape{16, 64}, shape{256, 784}, shape{1024, 128}, shape{4096, 8},
                        shape{1100, 1000} /* above 2^20 floats */}) {
    const std::size_t max_n = 70;
    std::vector<float> a(max_n * s.d), b(s.m * s.d);
    for (auto& v : a) v = g(gen);
    for (auto& v : b) v = g(gen);
    std::vector<float> batch(max_n * s.m), alone(s.m);
    for (std::size_t n : {2, 3, 8, 17, 70}) {
      k::matmul_nt(a.data(), n, b.data(), s.m, s.d, batch.data(), n == 70 ? 2 : 1);
      for (std::size_t i = 0; i < n; ++i) {
        k::matmul_nt(a.data() + i * s.d, 1, b.data(), s.m, s.d, alone.data());
        BOOST_TEST_CONTEXT("m=" << s.m << " d=" << s.d << " n=" << n << " row=" << i) {
          BOOST_TEST(std::equal(alone.begin(), alone.end(), batch.begin() + i * s.m));
        }
      }
    }
  }
}
