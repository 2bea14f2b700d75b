// AVX2 kernel_table::pq_encode: 8 centroids per step. The table stores each coordinate of all centroids of
// a sub-space contiguously (kernels/pq_encode.hpp), so one load gives coordinate t of 8 centroids and
// the scores of those 8 are formed lane-wise in the scalar order (product, then add, t ascending; no
// FMA: this file is compiled with -ffp-contract=off). Each lane keeps its lowest-index minimum (strict
// less-than); the 8 lanes are then reduced to the smallest score and, among lanes holding it, the
// smallest index — the scalar scan's answer. Centroids past the last multiple of 8 take the shared
// scalar scan (kernels/internal/pq_encode_scan.hpp). dsub 1, 2, 4 and 8 are unrolled at compile time (pq_encode_subspaces).
#include <immintrin.h>

#include <limits>

#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/pq_encode_scan.hpp"

namespace ivfstream::kernels::avx2 {

namespace {

/// Smallest float of the 8 lanes, in every lane (no NaN reaches it: lanes only take scores < +inf).
inline __m256 lanes_min(__m256 v) {
  v = _mm256_min_ps(v, _mm256_permute2f128_ps(v, v, 0x01));
  v = _mm256_min_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm256_min_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

/// Smallest unsigned 32-bit lane.
inline std::uint32_t lanes_min_u32(__m256i v) {
  v = _mm256_min_epu32(v, _mm256_permute2x128_si256(v, v, 0x01));
  v = _mm256_min_epu32(v, _mm256_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm256_min_epu32(v, _mm256_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm256_castsi256_si128(v)));
}

/// Codes of sub-space `block` for the n rows (row stride d floats); D = dsub when known at compile
/// time, 0 = read dsub.
template <std::size_t D>
void encode_subspace(const float* x, std::size_t n, std::size_t d, std::size_t dsub_rt, const float* block,
                     std::size_t ksub, std::uint16_t* codes, std::size_t M) {
  const std::size_t dsub = D != 0 ? D : dsub_rt;
  const std::size_t full = ksub / 8 * 8;
  const float* norms = block + dsub * ksub;
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm256_set1_epi32(8);
  const __m256i none = _mm256_set1_epi32(-1);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xs = x + i * d;
    float best = std::numeric_limits<float>::infinity();
    std::uint32_t label = 0;
    if (full != 0) {
      __m256 bv = inf;
      __m256i bi = _mm256_setzero_si256(), idx = iota;
      const __m256 x0 = _mm256_set1_ps(xs[0]);
      for (std::size_t j = 0; j < full; j += 8, idx = _mm256_add_epi32(idx, eight)) {
        __m256 ip = _mm256_mul_ps(x0, _mm256_loadu_ps(block + j));
        for (std::size_t t = 1; t < dsub; ++t)
          ip = _mm256_add_ps(ip, _mm256_mul_ps(_mm256_set1_ps(xs[t]), _mm256_loadu_ps(block + t * ksub + j)));
        const __m256 s = _mm256_sub_ps(_mm256_loadu_ps(norms + j), _mm256_add_ps(ip, ip));  // 2·ip exactly
        const __m256 lt = _mm256_cmp_ps(s, bv, _CMP_LT_OQ);
        bv = _mm256_blendv_ps(bv, s, lt);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), lt));
      }
      const __m256 m = lanes_min(bv);
      const __m256 at_min = _mm256_cmp_ps(bv, m, _CMP_EQ_OQ);
      best = _mm256_cvtss_f32(m);
      label = lanes_min_u32(
          _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(none), _mm256_castsi256_ps(bi), at_min)));
    }
    pq_encode_scan(xs, block, ksub, dsub, full, best, label);
    codes[i * M] = static_cast<std::uint16_t>(label);
  }
}

}  // namespace

void pq_encode(const float* table, const float* x, std::size_t n, std::size_t M, std::size_t dsub,
               std::size_t ksub, std::uint16_t* codes) {
  pq_encode_subspaces(table, x, M, dsub, ksub, codes,
                      [&](auto D, const float* xm, const float* block, std::uint16_t* out) {
                        encode_subspace<decltype(D)::value>(xm, n, M * dsub, dsub, block, ksub, out, M);
                      });
}

}  // namespace ivfstream::kernels::avx2
