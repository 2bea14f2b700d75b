// AVX2 + FMA distances (compiled with -mavx2 -mfma). Same definitions as distances_scalar.cpp, but not
// bit for bit: the summation order differs and each product is fused with its add (one rounding; the
// scalar reference rounds the product, then the sum). Equal on integer-valued data (every partial sum
// exact), which the exact tests use; on real data within 2·(d + 1)·2⁻²⁴·Σ|term| of scalar
// (tests/kernels/simd_kernels_test.cpp distances_agree_with_scalar_within_rounding_on_real_data).
#include <immintrin.h>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx2 {

namespace {

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

/// Loads the first `rem` (< 8) floats of p, zeros elsewhere, without reading past p + rem.
inline __m256 load_partial(const float* p, std::size_t rem) {
  alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < rem; ++i) buf[i] = p[i];
  return _mm256_load_ps(buf);
}

}  // namespace

float l2sqr(const float* a, const float* b, std::size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    acc0 = _mm256_fmadd_ps(t0, t0, acc0);
    acc1 = _mm256_fmadd_ps(t1, t1, acc1);
  }
  for (; i + 8 <= d; i += 8) {
    const __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(t, t, acc0);
  }
  if (i < d) {
    const __m256 t = _mm256_sub_ps(load_partial(a + i, d - i), load_partial(b + i, d - i));
    acc1 = _mm256_fmadd_ps(t, t, acc1);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

float inner_product(const float* a, const float* b, std::size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  if (i < d) acc1 = _mm256_fmadd_ps(load_partial(a + i, d - i), load_partial(b + i, d - i), acc1);
  return hsum(_mm256_add_ps(acc0, acc1));
}

void l2sqr_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = l2sqr(x, y + j * d, d);
}

void inner_product_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = inner_product(x, y + j * d, d);
}

}  // namespace ivfstream::kernels::avx2
