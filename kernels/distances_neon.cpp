// NEON (aarch64 Advanced SIMD) distances. Same definitions as distances_scalar.cpp; only the summation
// order differs (exact on integer-valued data, which is what the tests compare). Four 4-float FMA
// chains over 16 floats per step, then a zero-padded tail (never reads past a + d or b + d).
#include <arm_neon.h>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::neon {

namespace {

/// The first `rem` (< 4) floats of p, zeros elsewhere, without reading past p + rem.
inline float32x4_t load_partial(const float* p, std::size_t rem) {
  float buf[4] = {0.f, 0.f, 0.f, 0.f};
  for (std::size_t i = 0; i < rem; ++i) buf[i] = p[i];
  return vld1q_f32(buf);
}

}  // namespace

float l2sqr(const float* a, const float* b, std::size_t d) {
  float32x4_t acc0 = vdupq_n_f32(0.f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const float32x4_t t0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
    const float32x4_t t1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    const float32x4_t t2 = vsubq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    const float32x4_t t3 = vsubq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    acc0 = vfmaq_f32(acc0, t0, t0);
    acc1 = vfmaq_f32(acc1, t1, t1);
    acc2 = vfmaq_f32(acc2, t2, t2);
    acc3 = vfmaq_f32(acc3, t3, t3);
  }
  for (; i + 4 <= d; i += 4) {
    const float32x4_t t = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
    acc0 = vfmaq_f32(acc0, t, t);
  }
  if (i < d) {
    const float32x4_t t = vsubq_f32(load_partial(a + i, d - i), load_partial(b + i, d - i));
    acc1 = vfmaq_f32(acc1, t, t);
  }
  return vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
}

float inner_product(const float* a, const float* b, std::size_t d) {
  float32x4_t acc0 = vdupq_n_f32(0.f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= d; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
  if (i < d) acc1 = vfmaq_f32(acc1, load_partial(a + i, d - i), load_partial(b + i, d - i));
  return vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
}

void l2sqr_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = l2sqr(x, y + j * d, d);
}

void inner_product_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = inner_product(x, y + j * d, d);
}

}  // namespace ivfstream::kernels::neon
