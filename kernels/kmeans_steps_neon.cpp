// NEON k-means inner steps; bit-identical to kmeans_steps_scalar.cpp (ties to the lowest index), except
// add_scaled (one fused multiply-add, see kernel_table.hpp) and the float order of kmeanspp_update's
// block sums. aarch64 builds compile kernels/ with -ffp-contract=off, so the separate multiply and add
// below (and in the scalar reference) are never fused behind our back.
#include <arm_neon.h>

#include <cmath>
#include <limits>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::neon {

namespace {

/// a < m ? a : m per lane (the scalar expression, also for NaNs and signed zeros).
inline float32x4_t select_less(float32x4_t a, float32x4_t m) { return vbslq_f32(vcltq_f32(a, m), a, m); }

}  // namespace

void nearest_from_ip(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,
                     std::uint32_t* labels, float* best) {
  const float32x4_t two = vdupq_n_f32(2.f);
  const uint32x4_t four = vdupq_n_u32(4);
  const std::uint32_t lane_ids[4] = {0, 1, 2, 3};
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = ip + r * k;
    if (k < 4) {
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    float32x4_t bv = vdupq_n_f32(std::numeric_limits<float>::infinity());
    uint32x4_t bi = vdupq_n_u32(0);
    uint32x4_t idx = vld1q_u32(lane_ids);
    std::size_t j = 0;
    for (; j + 4 <= k; j += 4, idx = vaddq_u32(idx, four)) {
      const float32x4_t v = vsubq_f32(vld1q_f32(c_norms + j), vmulq_f32(two, vld1q_f32(row + j)));
      const uint32x4_t lt = vcltq_f32(v, bv);  // strict: a lane keeps its earliest minimum
      bv = vbslq_f32(lt, v, bv);
      bi = vbslq_u32(lt, idx, bi);
    }
    float vals[4];
    std::uint32_t ids[4];
    vst1q_f32(vals, bv);
    vst1q_u32(ids, bi);
    float b = vals[0];
    std::uint32_t bj = ids[0];
    for (int l = 1; l < 4; ++l)
      if (vals[l] < b || (vals[l] == b && ids[l] < bj)) {
        b = vals[l];
        bj = ids[l];
      }
    for (; j < k; ++j) {  // tail: larger indices, so strict < keeps the lowest index on ties
      const float v = c_norms[j] - 2.f * row[j];
      if (v < b) {
        b = v;
        bj = static_cast<std::uint32_t>(j);
      }
    }
    if (b != b) {  // NaNs: the scalar definition
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    labels[r] = bj;
    best[r] = b;
  }
}

void accumulate_f64(double* acc, const float* x, std::size_t d) {
  std::size_t t = 0;
  for (; t + 4 <= d; t += 4) {
    const float32x4_t v = vld1q_f32(x + t);
    vst1q_f64(acc + t, vaddq_f64(vld1q_f64(acc + t), vcvt_f64_f32(vget_low_f32(v))));
    vst1q_f64(acc + t + 2, vaddq_f64(vld1q_f64(acc + t + 2), vcvt_high_f64_f32(v)));
  }
  for (; t < d; ++t) acc[t] += x[t];
}

void add_scaled(const float* a, float alpha, const float* b, std::size_t n, float* out) {
  const float32x4_t s = vdupq_n_f32(alpha);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vfmaq_f32(vld1q_f32(a + i), vld1q_f32(b + i), s));
  for (; i < n; ++i) out[i] = std::fma(alpha, b[i], a[i]);
}

void kmeanspp_update(const float* xt, std::size_t n, std::size_t d, const float* c, float* min_d,
                     float* block_sums) {
  constexpr std::size_t block = 256, chunk = 32, vecs = chunk / 4;
  for (std::size_t i0 = 0, b = 0; i0 < n; i0 += block, ++b) {
    const std::size_t len = n - i0 < block ? n - i0 : block;
    float32x4_t sumv = vdupq_n_f32(0.f);
    std::size_t j0 = 0;
    // 32 points at a time (8 independent chains, unrolled so that they stay in registers), then 4,
    // then one: per point the scalar definition acc = acc + (x − c_t)², t ascending
    for (; j0 + chunk <= len; j0 += chunk) {
      float32x4_t acc[vecs];
      #pragma GCC unroll 8
      for (std::size_t v = 0; v < vecs; ++v) acc[v] = vdupq_n_f32(0.f);
      for (std::size_t t = 0; t < d; ++t) {
        const float* x = xt + t * n + i0 + j0;
        const float32x4_t ct = vdupq_n_f32(c[t]);
        #pragma GCC unroll 8
        for (std::size_t v = 0; v < vecs; ++v) {
          const float32x4_t diff = vsubq_f32(vld1q_f32(x + 4 * v), ct);
          acc[v] = vaddq_f32(acc[v], vmulq_f32(diff, diff));
        }
      }
      #pragma GCC unroll 8
      for (std::size_t v = 0; v < vecs; ++v) {
        float* m = min_d + i0 + j0 + 4 * v;
        const float32x4_t nm = select_less(acc[v], vld1q_f32(m));
        vst1q_f32(m, nm);
        sumv = vaddq_f32(sumv, nm);
      }
    }
    for (; j0 + 4 <= len; j0 += 4) {
      float32x4_t acc = vdupq_n_f32(0.f);
      for (std::size_t t = 0; t < d; ++t) {
        const float32x4_t diff = vsubq_f32(vld1q_f32(xt + t * n + i0 + j0), vdupq_n_f32(c[t]));
        acc = vaddq_f32(acc, vmulq_f32(diff, diff));
      }
      float* m = min_d + i0 + j0;
      const float32x4_t nm = select_less(acc, vld1q_f32(m));
      vst1q_f32(m, nm);
      sumv = vaddq_f32(sumv, nm);
    }
    float sum = vaddvq_f32(sumv);
    for (; j0 < len; ++j0) {
      float acc = 0.f;
      for (std::size_t t = 0; t < d; ++t) {
        const float diff = xt[t * n + i0 + j0] - c[t];
        acc = acc + diff * diff;
      }
      float& m = min_d[i0 + j0];
      m = acc < m ? acc : m;
      sum += m;
    }
    block_sums[b] = sum;
  }
}

}  // namespace ivfstream::kernels::neon
