// NEON ADC scans. Results equal scalar::adc_scan up to the order of the float additions (exact on
// integer-valued tables, which is what the tests compare).
//
// NEON has no gather, so the table lookups are scalar loads in every path; what is vectorised is the
// bit unpacking.
// 8-bit codes: the unrolled scalar loop (4 codes in flight, independent accumulators; adc_common.hpp).
// 4/6/10/12-bit codes: 8 consecutive sub-codes occupy exactly nbits bytes starting on a byte boundary,
// so one 16-byte load + one byte shuffle (tbl) puts bytes (b_k, b_k + 1), b_k = ⌊k·nbits / 8⌋, into u16
// lane k; a per-lane right shift by (k·nbits) mod 8 and a mask give the sub-code (two bytes always
// suffice: (k·nbits) mod 8 + nbits ≤ 16 for these widths). The sub-codes plus m·ksub become u32 table
// indices (a stack buffer of up to 64 per row chunk), summed by 4 independent scalar chains.
// A 16-byte load that would pass the end of `codes` reads from a zero-padded copy instead; lanes past
// M are computed but never summed. Other widths take the plain scalar row.
#include <arm_neon.h>

#include <cstring>

#include "kernels/internal/adc_common.hpp"
#include "kernels/internal/fast_scan_adc_unpacked.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::neon {

namespace {

/// Unpacks 8 consecutive sub-codes of `nbits` bits whose first bit is bit 0 of the first byte.
class unpack8 {
 public:
  explicit unpack8(unsigned nbits) {
    std::uint8_t shuffle[16];
    std::int16_t shifts[8];
    for (unsigned k = 0; k < 8; ++k) {
      const unsigned bit = k * nbits;
      shuffle[2 * k] = static_cast<std::uint8_t>(bit >> 3);
      shuffle[2 * k + 1] = static_cast<std::uint8_t>((bit >> 3) + 1);
      shifts[k] = static_cast<std::int16_t>(-static_cast<int>(bit & 7));  // negative: shift right
    }
    shuffle_ = vld1q_u8(shuffle);
    shifts_ = vld1q_s16(shifts);
    mask_ = vdupq_n_u16(static_cast<std::uint16_t>((1u << nbits) - 1));
  }
  /// Sub-codes 0..7 of the 16 bytes at p (only the first nbits bytes matter).
  uint16x8_t operator()(const std::uint8_t* p) const {
    const uint16x8_t w = vreinterpretq_u16_u8(vqtbl1q_u8(vld1q_u8(p), shuffle_));
    return vandq_u16(vshlq_u16(w, shifts_), mask_);
  }

 private:
  uint8x16_t shuffle_;
  int16x8_t shifts_;
  uint16x8_t mask_;
};

void adc_scan_generic(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                      const float* lut, float bias, float* out) {
  const std::size_t code_size = (M * nbits + 7) / 8, total = n * code_size;
  const std::uint32_t ksub = 1u << nbits;
  constexpr std::size_t chunk = 64;  // sub-quantizers unpacked per step (8 groups of 8)
  const unpack8 unpack(nbits);
  const std::uint32_t lane_base[4] = {0, ksub, 2 * ksub, 3 * ksub};
  const uint32x4_t base0 = vld1q_u32(lane_base), four_subs = vdupq_n_u32(4 * ksub);
  std::uint32_t idx[chunk];
  std::uint8_t padded[16];
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t row = i * code_size;
    float s0 = bias, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    for (std::size_t m0 = 0; m0 < M; m0 += chunk) {
      const std::size_t len = M - m0 < chunk ? M - m0 : chunk;
      for (std::size_t g = 0; g * 8 < len; ++g) {
        const std::size_t m = m0 + 8 * g, at = row + m / 8 * nbits;  // group start: byte m·nbits / 8
        const std::uint8_t* p = codes + at;
        if (at + 16 > total) {  // near the end of the array: a zero-padded copy of what is left
          std::memset(padded, 0, sizeof padded);
          std::memcpy(padded, p, total - at < 16 ? total - at : 16);
          p = padded;
        }
        const uint16x8_t sub = unpack(p);
        const uint32x4_t lo = vaddq_u32(base0, vdupq_n_u32(static_cast<std::uint32_t>(m) * ksub));
        vst1q_u32(idx + 8 * g, vaddq_u32(vmovl_u16(vget_low_u16(sub)), lo));
        vst1q_u32(idx + 8 * g + 4, vaddq_u32(vmovl_high_u16(sub), vaddq_u32(lo, four_subs)));
      }
      std::size_t j = 0;
      for (; j + 4 <= len; j += 4) {
        s0 += lut[idx[j]];
        s1 += lut[idx[j + 1]];
        s2 += lut[idx[j + 2]];
        s3 += lut[idx[j + 3]];
      }
      for (; j < len; ++j) s0 += lut[idx[j]];
    }
    out[i] = (s0 + s1) + (s2 + s3);
  }
}

}  // namespace

void adc_scan(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits, const float* lut,
              float bias, float* out) {
  if (nbits == 8) {
    adc_scan_8bit_unrolled(codes, n, M, lut, bias, out);
  } else if (nbits == 4 || nbits == 6 || nbits == 10 || nbits == 12) {
    adc_scan_generic(codes, n, M, nbits, lut, bias, out);
  } else {
    const std::size_t code_size = (M * nbits + 7) / 8;
    for (std::size_t i = 0; i < n; ++i) out[i] = adc_row_generic(codes + i * code_size, code_size, M, nbits, lut, bias);
  }
}

void fast_scan_adc(const std::uint8_t* blocks, std::size_t M, const std::uint32_t* slots, std::size_t n,
                   const float* lut, float bias, float* out) {
  fast_scan_adc_unpacked(&adc_scan, blocks, M, slots, n, lut, bias, out);
}

}  // namespace ivfstream::kernels::neon
