// NEON kernel_table::pq_encode: 4 centroids per step, otherwise as the AVX2 file (coordinate t of 4
// centroids per load, scores formed lane-wise in the scalar order without FMA — aarch64 builds compile
// kernels/ with -ffp-contract=off —, lowest-index minimum per lane, then smallest score and smallest
// index among the lanes holding it). Centroids past the last multiple of 4 take the shared scalar scan
// (kernels/internal/pq_encode_scan.hpp). dsub 1, 2, 4 and 8 are unrolled at compile time (pq_encode_subspaces).
#include <arm_neon.h>

#include <limits>

#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/pq_encode_scan.hpp"

namespace ivfstream::kernels::neon {

namespace {

/// Codes of sub-space `block` for the n rows (row stride d floats); D = dsub when known at compile
/// time, 0 = read dsub.
template <std::size_t D>
void encode_subspace(const float* x, std::size_t n, std::size_t d, std::size_t dsub_rt, const float* block,
                     std::size_t ksub, std::uint16_t* codes, std::size_t M) {
  const std::size_t dsub = D != 0 ? D : dsub_rt;
  const std::size_t full = ksub / 4 * 4;
  const float* norms = block + dsub * ksub;
  const float32x4_t inf = vdupq_n_f32(std::numeric_limits<float>::infinity());
  const std::uint32_t lane_ids[4] = {0, 1, 2, 3};
  const uint32x4_t iota = vld1q_u32(lane_ids), four = vdupq_n_u32(4), none = vdupq_n_u32(0xFFFFFFFFu);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xs = x + i * d;
    float best = std::numeric_limits<float>::infinity();
    std::uint32_t label = 0;
    if (full != 0) {
      float32x4_t bv = inf;
      uint32x4_t bi = vdupq_n_u32(0), idx = iota;
      const float32x4_t x0 = vdupq_n_f32(xs[0]);
      for (std::size_t j = 0; j < full; j += 4, idx = vaddq_u32(idx, four)) {
        float32x4_t ip = vmulq_f32(x0, vld1q_f32(block + j));
        for (std::size_t t = 1; t < dsub; ++t)
          ip = vaddq_f32(ip, vmulq_f32(vdupq_n_f32(xs[t]), vld1q_f32(block + t * ksub + j)));
        const float32x4_t s = vsubq_f32(vld1q_f32(norms + j), vaddq_f32(ip, ip));  // 2·ip exactly
        const uint32x4_t lt = vcltq_f32(s, bv);
        bv = vbslq_f32(lt, s, bv);
        bi = vbslq_u32(lt, idx, bi);
      }
      best = vminvq_f32(bv);  // a lane value: lanes hold +inf or a score below it, never NaN
      const uint32x4_t at_min = vceqq_f32(bv, vdupq_n_f32(best));
      label = vminvq_u32(vbslq_u32(at_min, bi, none));
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

}  // namespace ivfstream::kernels::neon
