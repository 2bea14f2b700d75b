// AVX-512 k-means inner steps; bit-identical to kmeans_steps_scalar.cpp on any data (c − 2·ip is computed
// with one rounding in both: 2·ip is exact), ties resolved to the lowest centroid index as there. This
// file is compiled with -ffp-contract=off (kernels/CMakeLists.txt): otherwise GCC fuses the
// kmeanspp_update distances' acc + diff·diff into an FMA and min_d differs from scalar on real-valued data.
#include <immintrin.h>

#include <limits>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx512 {

void nearest_from_ip(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,
                     std::uint32_t* labels, float* best) {
  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  const __m512 two = _mm512_set1_ps(2.f);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = ip + r * k;
    __m512 bv = inf;
    __m512i bi = _mm512_setzero_si512();
    __m512i idx = iota;
    std::size_t j = 0;
    for (; j + 16 <= k; j += 16, idx = _mm512_add_epi32(idx, sixteen)) {
      const __m512 v = _mm512_sub_ps(_mm512_loadu_ps(c_norms + j), _mm512_mul_ps(two, _mm512_loadu_ps(row + j)));
      const __mmask16 lt = _mm512_cmp_ps_mask(v, bv, _CMP_LT_OQ);
      bv = _mm512_mask_blend_ps(lt, bv, v);
      bi = _mm512_mask_blend_epi32(lt, bi, idx);
    }
    if (j < k) {
      const __mmask16 live = static_cast<__mmask16>((1u << (k - j)) - 1u);
      const __m512 v = _mm512_mask_sub_ps(inf, live, _mm512_maskz_loadu_ps(live, c_norms + j),
                                          _mm512_mul_ps(two, _mm512_maskz_loadu_ps(live, row + j)));
      const __mmask16 lt = _mm512_mask_cmp_ps_mask(live, v, bv, _CMP_LT_OQ);
      bv = _mm512_mask_blend_ps(lt, bv, v);
      bi = _mm512_mask_blend_epi32(lt, bi, idx);
    }
    const float m = _mm512_reduce_min_ps(bv);
    const __mmask16 at_min = _mm512_cmp_ps_mask(bv, _mm512_set1_ps(m), _CMP_EQ_OQ);
    if (at_min == 0) {  // NaNs only: fall back to the scalar definition
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    labels[r] = static_cast<std::uint32_t>(_mm512_mask_reduce_min_epu32(at_min, bi));
    best[r] = m;
  }
}

void accumulate_f64(double* acc, const float* x, std::size_t d) {
  std::size_t t = 0;
  for (; t + 8 <= d; t += 8)
    _mm512_storeu_pd(acc + t, _mm512_add_pd(_mm512_loadu_pd(acc + t), _mm512_cvtps_pd(_mm256_loadu_ps(x + t))));
  for (; t < d; ++t) acc[t] += x[t];
}

void add_scaled(const float* a, float alpha, const float* b, std::size_t n, float* out) {
  const __m512 s = _mm512_set1_ps(alpha);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(s, _mm512_loadu_ps(b + i), _mm512_loadu_ps(a + i)));
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(out + i, k, _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k, b + i), _mm512_maskz_loadu_ps(k, a + i)));
  }
}

void kmeanspp_update(const float* xt, std::size_t n, std::size_t d, const float* c, float* min_d,
                     float* block_sums) {
  constexpr std::size_t block = 256, vecs = block / 16;
  for (std::size_t i0 = 0, b = 0; i0 < n; i0 += block, ++b) {
    const std::size_t len = n - i0 < block ? n - i0 : block;
    __m512 acc[vecs];
    for (std::size_t v = 0; v < vecs; ++v) acc[v] = _mm512_setzero_ps();
    const std::size_t nv = (len + 15) / 16;
    for (std::size_t t = 0; t < d; ++t) {
      const float* x = xt + t * n + i0;
      const __m512 ct = _mm512_set1_ps(c[t]);
      for (std::size_t v = 0; v < nv; ++v) {
        const std::size_t left = len - 16 * v;
        const __mmask16 k = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
        const __m512 diff = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + 16 * v), ct);
        acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(diff, diff));
      }
    }
    __m512 sum = _mm512_setzero_ps();
    for (std::size_t v = 0; v < nv; ++v) {
      const std::size_t left = len - 16 * v;
      const __mmask16 k = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
      float* m = min_d + i0 + 16 * v;
      const __m512 nm = _mm512_min_ps(acc[v], _mm512_maskz_loadu_ps(k, m));
      _mm512_mask_storeu_ps(m, k, nm);
      sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, nm));
    }
    block_sums[b] = _mm512_reduce_add_ps(sum);
  }
}

}  // namespace ivfstream::kernels::avx512
