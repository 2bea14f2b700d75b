// AVX-512 distances (compiled with -mavx512f/bw/dq/vl). Same definitions as distances_scalar.cpp, but not
// bit for bit: the summation order differs and each product is fused with its add (FMA, one rounding;
// the scalar reference rounds the product, then the sum). Equal on integer-valued data (every partial
// sum exact), which the exact tests use; on real data within 2·(d + 1)·2⁻²⁴·Σ|term| of scalar
// (tests/kernels/simd_kernels_test.cpp distances_agree_with_scalar_within_rounding_on_real_data).
#include <immintrin.h>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx512 {

namespace {
inline __mmask16 tail_mask(std::size_t rem) { return static_cast<__mmask16>((1u << rem) - 1u); }
}  // namespace

float l2sqr(const float* a, const float* b, std::size_t d) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    acc0 = _mm512_fmadd_ps(t0, t0, acc0);
    acc1 = _mm512_fmadd_ps(t1, t1, acc1);
  }
  for (; i + 16 <= d; i += 16) {
    const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    acc0 = _mm512_fmadd_ps(t, t, acc0);
  }
  if (i < d) {
    const __mmask16 m = tail_mask(d - i);
    const __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    acc1 = _mm512_fmadd_ps(t, t, acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

float inner_product(const float* a, const float* b, std::size_t d) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i + 16 <= d; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  if (i < d) {
    const __mmask16 m = tail_mask(d - i);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void l2sqr_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = l2sqr(x, y + j * d, d);
}

void inner_product_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = inner_product(x, y + j * d, d);
}

}  // namespace ivfstream::kernels::avx512
