// NEON 4-bit fast-scan (layouts in kernels/fast_scan.hpp). Per sub-quantizer one 16-byte load of codes
// (low nibbles = slots 0..15, high nibbles = slots 16..31) and one 16-byte table row; two table
// lookups (tbl, vqtbl1q_u8) give the 32 u8 entries, widened and added into four u16x8 accumulators
// (slots 0-7, 8-15, 16-23, 24-31; wrapping like the scalar u16 sum). Equal to the scalar scan.
// The threshold test compares all 32 sums at once and turns the result into a 32-bit slot mask.
#include <arm_neon.h>

#include "kernels/fast_scan.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::neon {

namespace {

/// The 32 u16 sums of one block: s[q] holds slots 8q..8q+7.
inline void block_sums(const std::uint8_t* block, const std::uint8_t* lut, std::size_t mp, uint16x8_t s[4]) {
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  uint16x8_t a0 = vdupq_n_u16(0), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t m = 0; m < mp; ++m) {
    const uint8x16_t c = vld1q_u8(block + 16 * m);
    const uint8x16_t row = vld1q_u8(lut + 16 * m);
    const uint8x16_t lo = vqtbl1q_u8(row, vandq_u8(c, low4));  // slots 0..15
    const uint8x16_t hi = vqtbl1q_u8(row, vshrq_n_u8(c, 4));   // slots 16..31
    a0 = vaddw_u8(a0, vget_low_u8(lo));
    a1 = vaddw_high_u8(a1, lo);
    a2 = vaddw_u8(a2, vget_low_u8(hi));
    a3 = vaddw_high_u8(a3, hi);
  }
  s[0] = a0;
  s[1] = a1;
  s[2] = a2;
  s[3] = a3;
}

/// Bit l set when u16 lane l of v is ≤ bound (8 bits).
inline std::uint32_t le_mask(uint16x8_t v, uint16x8_t bound) {
  static const std::uint16_t bits[8] = {1, 2, 4, 8, 16, 32, 64, 128};
  return vaddvq_u16(vandq_u16(vcleq_u16(v, bound), vld1q_u16(bits)));
}

}  // namespace

void fast_scan(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
               std::uint16_t* out) {
  const std::size_t mp = fast_scan_padded_m(M), block_bytes = fast_scan_block_bytes(M);
  std::uint16_t tail[k_fast_scan_block];
  for (std::size_t first = 0; first < n; first += k_fast_scan_block, blocks += block_bytes) {
    uint16x8_t s[4];
    block_sums(blocks, lut, mp, s);
    const bool full = n - first >= k_fast_scan_block;
    std::uint16_t* dst = full ? out + first : tail;
    #pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) vst1q_u16(dst + 8 * q, s[q]);
    if (!full)
      for (std::size_t i = 0; i < n - first; ++i) out[first + i] = tail[i];
  }
}

std::size_t fast_scan_filter(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
                             std::uint16_t bound, std::uint32_t* out_slots, std::uint16_t* out_sums) {
  const std::size_t mp = fast_scan_padded_m(M), block_bytes = fast_scan_block_bytes(M);
  const uint16x8_t limit = vdupq_n_u16(bound);
  std::uint16_t sums[k_fast_scan_block];
  std::size_t count = 0;
  for (std::size_t first = 0; first < n; first += k_fast_scan_block, blocks += block_bytes) {
    uint16x8_t s[4];
    block_sums(blocks, lut, mp, s);
    std::uint32_t pass = le_mask(s[0], limit) | (le_mask(s[1], limit) << 8) | (le_mask(s[2], limit) << 16) |
                         (le_mask(s[3], limit) << 24);
    const std::size_t len = n - first;
    if (len < k_fast_scan_block) pass &= (1u << len) - 1u;
    if (pass == 0) continue;
    #pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) vst1q_u16(sums + 8 * q, s[q]);
    while (pass != 0) {
      const unsigned slot = static_cast<unsigned>(__builtin_ctz(pass));
      out_slots[count] = static_cast<std::uint32_t>(first + slot);
      out_sums[count] = sums[slot];
      ++count;
      pass &= pass - 1;
    }
  }
  return count;
}

float quantize_lut(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,
                   std::uint8_t* out_lut, float* out_list_bias) {
  // one 16-entry row = four registers; the same float operations as the scalar reference (no FMA:
  // aarch64 builds compile kernels/ with -ffp-contract=off)
  auto row_min = [](const float32x4_t* v) {
    return vminvq_f32(vminq_f32(vminq_f32(v[0], v[1]), vminq_f32(v[2], v[3])));
  };
  auto row_max = [](const float32x4_t* v) {
    return vmaxvq_f32(vmaxq_f32(vmaxq_f32(v[0], v[1]), vmaxq_f32(v[2], v[3])));
  };
  auto load_row = [](const float* row, float32x4_t* v) {
    #pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) v[q] = vld1q_f32(row + 4 * q);
  };
  const std::size_t lut_bytes = fast_scan_lut_bytes(M), mp = fast_scan_padded_m(M);
  float range = 0.f;
  for (std::size_t r = 0; r < n_lists * M; ++r) {
    float32x4_t v[4];
    load_row(luts + r * 16, v);
    const float width = row_max(v) - row_min(v);
    range = width > range ? width : range;
  }
  const int qmax = static_cast<int>(M <= 257 ? 255 : 65535 / M);
  const float scale = range > 0.f ? static_cast<float>(qmax) / range : 1.f;
  const float32x4_t vscale = vdupq_n_f32(scale), half = vdupq_n_f32(0.5f);
  const int32x4_t vqmax = vdupq_n_s32(qmax);
  for (std::size_t l = 0; l < n_lists; ++l) {
    std::uint8_t* out = out_lut + l * lut_bytes;
    for (std::size_t m = M; m < mp; ++m) vst1q_u8(out + 16 * m, vdupq_n_u8(0));
    double bias = biases != nullptr ? biases[l] : 0.0;
    for (std::size_t m = 0; m < M; ++m) {
      float32x4_t v[4];
      load_row(luts + (l * M + m) * 16, v);
      const float lo = row_min(v);
      bias += lo;
      const float32x4_t vlo = vdupq_n_f32(lo);
      uint16x4_t q16[4];
      #pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        // truncation toward zero of a non-negative value (as the scalar int cast), clamped to qmax
        const int32x4_t qi =
            vminq_s32(vcvtq_s32_f32(vaddq_f32(vmulq_f32(vsubq_f32(v[q], vlo), vscale), half)), vqmax);
        q16[q] = vqmovun_s32(qi);
      }
      const uint8x16_t bytes = vcombine_u8(vqmovn_u16(vcombine_u16(q16[0], q16[1])),
                                           vqmovn_u16(vcombine_u16(q16[2], q16[3])));
      vst1q_u8(out + 16 * m, bytes);
    }
    out_list_bias[l] = static_cast<float>(bias);
  }
  return scale;
}

}  // namespace ivfstream::kernels::neon
