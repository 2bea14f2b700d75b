#define BOOST_TEST_MODULE pq_encode
// PQ encoding (kernel_table::pq_encode, kernels/pq_encode.hpp): every compiled level gives exactly the
// scalar reference's codes — on real-valued data too, since the scores are bit-identical by construction —
// on awkward sizes (dsub, ksub, n, M), with ties going to the lowest centroid index; the codes are the
// nearest sub-centroids. Registered again per forced level (IVFSTREAM_SIMD), and cross-built for NEON
// (tests/kernels/cross).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernel_table.hpp"
#include "kernels/pq_encode.hpp"

namespace k = ivfstream::kernels;

namespace {

const std::size_t k_dsubs[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17};
const std::size_t k_ksubs[] = {1, 3, 7, 15, 16, 17, 31, 33, 255, 257};
constexpr std::uint16_t k_unwritten = 0xBEEF;

std::vector<const k::kernel_table*> levels_under_test() {
  std::vector<const k::kernel_table*> out;
  for (auto level : {k::simd_level::scalar, k::simd_level::avx2, k::simd_level::avx512, k::simd_level::neon})
    if (k::simd_level_supported(level)) out.push_back(&k::kernels_for(level));
  return out;
}

std::vector<float> normals(std::size_t n, std::mt19937& gen) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> out(n);
  for (auto& v : out) v = dist(gen);
  return out;
}

std::vector<float> integers(std::size_t n, std::mt19937& gen, int lo, int hi) {
  std::vector<float> out(n);
  for (auto& v : out) v = static_cast<float>(lo + static_cast<int>(gen() % static_cast<unsigned>(hi - lo + 1)));
  return out;
}

/// Codes of one level; one element past the n × M codes checks that nothing is written there.
std::vector<std::uint16_t> encode_with(const k::kernel_table& t, const std::vector<float>& table,
                                       const std::vector<float>& x, std::size_t n, std::size_t M, std::size_t dsub,
                                       std::size_t ksub) {
  std::vector<std::uint16_t> codes(n * M + 1, k_unwritten);
  t.pq_encode(table.data(), x.data(), n, M, dsub, ksub, codes.data());
  BOOST_TEST(codes.back() == k_unwritten);
  codes.pop_back();
  return codes;
}

enum class data_kind {
  normal,     ///< N(0, 1) values
  near_ties,  ///< centroids = one N(0, 1) point + N(0, 1e-6) each: scores a few ulps apart, so the
              ///< argmin hangs on every rounding (an FMA instead of a product and an add changes it)
  integers,   ///< a few integer values: many exact ties (also duplicate centroids)
};

std::vector<float> make_codebooks(data_kind kind, std::size_t M, std::size_t ksub, std::size_t dsub, std::mt19937& gen) {
  if (kind == data_kind::integers) return integers(M * ksub * dsub, gen, -2, 2);
  auto cb = normals(M * ksub * dsub, gen);
  if (kind == data_kind::near_ties)
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t j = 0; j < ksub; ++j)
        for (std::size_t t = 0; t < dsub; ++t)
          cb[(m * ksub + j) * dsub + t] = cb[m * ksub * dsub + t] + 1e-6f * cb[(m * ksub + j) * dsub + t];
  return cb;
}

/// Every level against the scalar reference for every (dsub, ksub) above, n rows, M sub-spaces.
void check_levels_agree(std::mt19937& gen, data_kind kind) {
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t dsub : k_dsubs)
    for (std::size_t ksub : k_ksubs)
      for (std::size_t M : {1, 3})
        for (std::size_t n : {1, 6}) {
          const auto cb = make_codebooks(kind, M, ksub, dsub, gen);
          const auto x = kind == data_kind::integers ? integers(n * M * dsub, gen, -2, 2) : normals(n * M * dsub, gen);
          const auto table = k::pq_encode_table(cb.data(), M, ksub, dsub);
          const auto want = encode_with(ref, table, x, n, M, dsub, ksub);
          for (auto* t : levels_under_test()) {
            const auto got = encode_with(*t, table, x, n, M, dsub, ksub);
            BOOST_TEST_CONTEXT(k::to_string(t->level) << " dsub=" << dsub << " ksub=" << ksub << " M=" << M
                                                      << " n=" << n) {
              BOOST_TEST(got == want, boost::test_tools::per_element());
            }
          }
        }
}

/// ‖x − c‖² in double.
double distance(const float* x, const float* c, std::size_t d) {
  double s = 0;
  for (std::size_t t = 0; t < d; ++t) s += (double{x[t]} - c[t]) * (double{x[t]} - c[t]);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_level_gives_the_scalar_codes_on_real_valued_data) {
  std::mt19937 gen(11);
  check_levels_agree(gen, data_kind::normal);
}

BOOST_AUTO_TEST_CASE(every_level_gives_the_scalar_codes_when_scores_differ_by_ulps) {
  std::mt19937 gen(15);
  check_levels_agree(gen, data_kind::near_ties);
}

BOOST_AUTO_TEST_CASE(every_level_breaks_ties_like_the_scalar_reference) {
  std::mt19937 gen(12);
  check_levels_agree(gen, data_kind::integers);
}

BOOST_AUTO_TEST_CASE(codes_are_the_nearest_sub_centroids) {
  std::mt19937 gen(13);
  for (std::size_t dsub : {2, 4, 8, 16, 3})
    for (std::size_t ksub : {16, 256}) {
      const std::size_t M = 4, n = 50, d = M * dsub;
      const auto cb = normals(M * ksub * dsub, gen), x = normals(n * d, gen);
      const auto table = k::pq_encode_table(cb.data(), M, ksub, dsub);
      std::vector<std::uint16_t> codes(n * M);
      k::pq_encode(table.data(), x.data(), n, M, dsub, ksub, codes.data());
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t m = 0; m < M; ++m) {
          const float* xs = &x[i * d + m * dsub];
          double best = std::numeric_limits<double>::infinity();
          for (std::size_t j = 0; j < ksub; ++j) best = std::min(best, distance(xs, &cb[(m * ksub + j) * dsub], dsub));
          const double got = distance(xs, &cb[(m * ksub + codes[i * M + m]) * dsub], dsub);
          // float scores: the chosen centroid is the nearest up to rounding (|scores| of order 10)
          BOOST_TEST_CONTEXT("dsub=" << dsub << " ksub=" << ksub << " row " << i << " m=" << m) {
            BOOST_TEST(got <= best + 1e-4);
          }
        }
    }
}

BOOST_AUTO_TEST_CASE(equal_centroids_give_the_lowest_index) {
  const std::size_t dsub = 4, ksub = 256, M = 1;
  std::vector<float> cb(ksub * dsub, 100.f);  // far away, all alike
  for (std::size_t j : {37, 200, 201})         // three copies of the nearest centroid
    for (std::size_t t = 0; t < dsub; ++t) cb[j * dsub + t] = 1.f;
  const std::vector<float> x = {1.f, 1.f, 1.f, 1.f, 100.f, 100.f, 100.f, 100.f};
  const auto table = k::pq_encode_table(cb.data(), M, ksub, dsub);
  for (auto* t : levels_under_test()) {
    const auto codes = encode_with(*t, table, x, 2, M, dsub, ksub);
    BOOST_TEST_CONTEXT(k::to_string(t->level)) {
      BOOST_TEST(codes[0] == 37);
      BOOST_TEST(codes[1] == 0);  // every other centroid is at distance 0: the first of them
    }
  }
}

BOOST_AUTO_TEST_CASE(nan_scores_are_never_chosen) {
  const std::size_t dsub = 2, ksub = 33, M = 1;
  std::mt19937 gen(14);
  auto cb = normals(ksub * dsub, gen);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t j = 0; j < ksub; j += 2) cb[j * dsub] = nan;  // every even centroid
  const std::vector<float> x = {0.25f, -0.5f, nan, 1.f};        // row 1: every score NaN
  const auto table = k::pq_encode_table(cb.data(), M, ksub, dsub);
  const auto want = encode_with(k::kernels_for(k::simd_level::scalar), table, x, 2, M, dsub, ksub);
  BOOST_TEST(want[0] % 2 == 1);
  BOOST_TEST(want[1] == 0);
  for (auto* t : levels_under_test()) {
    BOOST_TEST_CONTEXT(k::to_string(t->level)) {
      BOOST_TEST(encode_with(*t, table, x, 2, M, dsub, ksub) == want, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(table_holds_coordinates_by_row_then_norms) {
  const std::size_t M = 2, ksub = 3, dsub = 2;
  // centroid j of sub-space m = (10m + j, −j)
  std::vector<float> cb;
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t j = 0; j < ksub; ++j) {
      cb.push_back(static_cast<float>(10 * m + j));
      cb.push_back(-static_cast<float>(j));
    }
  const auto table = k::pq_encode_table(cb.data(), M, ksub, dsub);
  BOOST_TEST(table.size() == k::pq_encode_table_size(M, ksub, dsub));
  const std::vector<float> want = {0, 1, 2,  0, -1, -2,  0, 2, 8,  // sub-space 0: x row, y row, norms
                                   10, 11, 12,  0, -1, -2,  100, 122, 148};
  BOOST_TEST(table == want, boost::test_tools::per_element());
}
