// AVX-512 ADC scans (compiled with -mavx512f/bw/dq/vl/vbmi). Results equal scalar::adc_scan up to the
// order of the float additions (exact on integer-valued tables, which is what the tests compare).
//
// 8-bit codes, M ≥ 16: one code at a time, its M sub-codes widened to 16 int32 lanes per step, offset by
// m·256 and gathered from the (M, 256) table; 4 codes in flight (independent gathers and accumulators).
// M < 16: the unrolled scalar loop (4 codes, independent accumulators), which wins there because a
// gather would run half empty. Both are load-port bound (one table load per sub-code); measured on a
// Xeon with AVX-512 (M=16: 312 vs 303 Mcodes/s; M=64: 74 vs 59; M=8: 316 vs 527).
// Other widths: the same per-code structure; the sub-codes are unpacked without a gather (masked load
// + vpermb + variable shift, AVX-512VBMI), so only the table lookup is a gather.
#include <immintrin.h>


#include "kernels/internal/adc_common.hpp"
#include "kernels/internal/fast_scan_adc_unpacked.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx512 {

namespace {

inline __mmask16 lanes(std::size_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

void adc_scan_8bit(const std::uint8_t* codes, std::size_t n, std::size_t M, const float* lut, float bias,
                   float* out) {
  const __m512i lane_offset = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(256));
  const __m512i step = _mm512_set1_epi32(16 * 256);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint8_t* c = codes + i * M;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
           a3 = _mm512_setzero_ps();
    __m512i off = lane_offset;
    for (std::size_t m = 0; m < M; m += 16, off = _mm512_add_epi32(off, step)) {
      const __mmask16 k = lanes(M - m);
      const __m512i i0 = _mm512_add_epi32(off, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + m)));
      const __m512i i1 = _mm512_add_epi32(off, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + M + m)));
      const __m512i i2 = _mm512_add_epi32(off, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + 2 * M + m)));
      const __m512i i3 = _mm512_add_epi32(off, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + 3 * M + m)));
      a0 = _mm512_add_ps(a0, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i0, lut, 4));
      a1 = _mm512_add_ps(a1, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i1, lut, 4));
      a2 = _mm512_add_ps(a2, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i2, lut, 4));
      a3 = _mm512_add_ps(a3, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i3, lut, 4));
    }
    out[i] = bias + _mm512_reduce_add_ps(a0);
    out[i + 1] = bias + _mm512_reduce_add_ps(a1);
    out[i + 2] = bias + _mm512_reduce_add_ps(a2);
    out[i + 3] = bias + _mm512_reduce_add_ps(a3);
  }
  for (; i < n; ++i) {
    const std::uint8_t* c = codes + i * M;
    __m512 a = _mm512_setzero_ps();
    __m512i off = lane_offset;
    for (std::size_t m = 0; m < M; m += 16, off = _mm512_add_epi32(off, step)) {
      const __mmask16 k = lanes(M - m);
      const __m512i idx = _mm512_add_epi32(off, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + m)));
      a = _mm512_add_ps(a, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, lut, 4));
    }
    out[i] = bias + _mm512_reduce_add_ps(a);
  }
}

/// Per code and chunk of 16 sub-quantizers (which starts on a byte boundary, 16·nbits being a multiple
/// of 8): a masked 64-byte load of the row from the chunk's first byte (never past the row), one vpermb
/// that gives each dword lane j the 4 bytes from (j·nbits)/8, a shift by (j·nbits)%8 and a mask; then
/// the table gather. Two codes in flight.
void adc_scan_generic(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                      const float* lut, float bias, float* out) {
  const std::size_t code_size = (M * nbits + 7) / 8;
  const __m512i mask = _mm512_set1_epi32(static_cast<int>((1u << nbits) - 1));
  alignas(64) std::uint8_t ctrl_bytes[64];
  alignas(64) std::uint32_t shift_words[16];
  for (unsigned j = 0; j < 16; ++j) {
    const unsigned bit = j * nbits;
    for (unsigned t = 0; t < 4; ++t) ctrl_bytes[4 * j + t] = static_cast<std::uint8_t>((bit >> 3) + t);
    shift_words[j] = bit & 7;
  }
  const __m512i ctrl = _mm512_load_si512(ctrl_bytes);
  const __m512i shift = _mm512_load_si512(shift_words);
  const __m512i base0 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          static_cast<unsigned>(nbits));
  const __m512i base_step = _mm512_set1_epi32(16 << nbits);
  const std::size_t chunk_bytes = 2 * nbits;  // 16 sub-codes
  auto window_mask = [&](std::size_t start) -> __mmask64 {
    const std::size_t left = code_size - start;
    return left >= 64 ? ~__mmask64{0} : ((__mmask64{1} << left) - 1);
  };
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const std::uint8_t* r0 = codes + i * code_size;
    const std::uint8_t* r1 = r0 + code_size;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512i base = base0;
    for (std::size_t m = 0, start = 0; m < M; m += 16, start += chunk_bytes, base = _mm512_add_epi32(base, base_step)) {
      const __mmask16 k = lanes(M - m);
      const __mmask64 wm = window_mask(start);
      const __m512i w0 = _mm512_permutexvar_epi8(ctrl, _mm512_maskz_loadu_epi8(wm, r0 + start));
      const __m512i w1 = _mm512_permutexvar_epi8(ctrl, _mm512_maskz_loadu_epi8(wm, r1 + start));
      const __m512i i0 = _mm512_add_epi32(base, _mm512_and_si512(_mm512_srlv_epi32(w0, shift), mask));
      const __m512i i1 = _mm512_add_epi32(base, _mm512_and_si512(_mm512_srlv_epi32(w1, shift), mask));
      a0 = _mm512_add_ps(a0, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i0, lut, 4));
      a1 = _mm512_add_ps(a1, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i1, lut, 4));
    }
    out[i] = bias + _mm512_reduce_add_ps(a0);
    out[i + 1] = bias + _mm512_reduce_add_ps(a1);
  }
  for (; i < n; ++i) out[i] = adc_row_generic(codes + i * code_size, code_size, M, nbits, lut, bias);
}

}  // namespace

void adc_scan(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits, const float* lut,
              float bias, float* out) {
  if (nbits == 8 && M < 16)
    adc_scan_8bit_unrolled(codes, n, M, lut, bias, out);
  else if (nbits == 8)
    adc_scan_8bit(codes, n, M, lut, bias, out);
  else
    adc_scan_generic(codes, n, M, nbits, lut, bias, out);
}

void fast_scan_adc(const std::uint8_t* blocks, std::size_t M, const std::uint32_t* slots, std::size_t n,
                   const float* lut, float bias, float* out) {
  fast_scan_adc_unpacked(&adc_scan, blocks, M, slots, n, lut, bias, out);
}

}  // namespace ivfstream::kernels::avx512
