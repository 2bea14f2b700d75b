// AVX-512 kernel_table::pq_encode: 16 centroids per step, otherwise as the AVX2 file (coordinate t of 16
// centroids per load, scores formed lane-wise in the scalar order without FMA — compiled with
// -ffp-contract=off —, lowest-index minimum per lane, then smallest score and smallest index among the
// lanes holding it). Centroids past the last multiple of 16 take the shared scalar scan
// (kernels/internal/pq_encode_scan.hpp). dsub 1, 2, 4 and 8 are unrolled at compile time (pq_encode_subspaces).
#include <immintrin.h>

#include <limits>

#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/pq_encode_scan.hpp"

namespace ivfstream::kernels::avx512 {

namespace {

/// Codes of sub-space `block` for the n rows (row stride d floats); D = dsub when known at compile
/// time, 0 = read dsub.
template <std::size_t D>
void encode_subspace(const float* x, std::size_t n, std::size_t d, std::size_t dsub_rt, const float* block,
                     std::size_t ksub, std::uint16_t* codes, std::size_t M) {
  const std::size_t dsub = D != 0 ? D : dsub_rt;
  const std::size_t full = ksub / 16 * 16;
  const float* norms = block + dsub * ksub;
  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xs = x + i * d;
    float best = std::numeric_limits<float>::infinity();
    std::uint32_t label = 0;
    if (full != 0) {
      __m512 bv = inf;
      __m512i bi = _mm512_setzero_si512(), idx = iota;
      const __m512 x0 = _mm512_set1_ps(xs[0]);
      for (std::size_t j = 0; j < full; j += 16, idx = _mm512_add_epi32(idx, sixteen)) {
        __m512 ip = _mm512_mul_ps(x0, _mm512_loadu_ps(block + j));
        for (std::size_t t = 1; t < dsub; ++t)
          ip = _mm512_add_ps(ip, _mm512_mul_ps(_mm512_set1_ps(xs[t]), _mm512_loadu_ps(block + t * ksub + j)));
        const __m512 s = _mm512_sub_ps(_mm512_loadu_ps(norms + j), _mm512_add_ps(ip, ip));  // 2·ip exactly
        const __mmask16 lt = _mm512_cmp_ps_mask(s, bv, _CMP_LT_OQ);
        bv = _mm512_mask_blend_ps(lt, bv, s);
        bi = _mm512_mask_blend_epi32(lt, bi, idx);
      }
      best = _mm512_reduce_min_ps(bv);  // a lane value: lanes hold +inf or a score below it, never NaN
      const __mmask16 at_min = _mm512_cmp_ps_mask(bv, _mm512_set1_ps(best), _CMP_EQ_OQ);
      label = static_cast<std::uint32_t>(_mm512_mask_reduce_min_epu32(at_min, bi));
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

}  // namespace ivfstream::kernels::avx512
