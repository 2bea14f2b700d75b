// AVX-512 ADC scans (compiled with -mavx512f/bw/dq/vl/vbmi). Results equal scalar::adc_scan up to the
// order of the float additions (exact on integer-valued tables, which is what the tests compare).
//
// 8-bit codes, M ≥ 16: one code at a time, its M sub-codes widened to 16 int32 lanes per step, offset by
// m·256 and gathered from the (M, 256) table; 4 codes in flight (independent gathers and accumulators).
// M < 16: the unrolled scalar loop (4 codes, independent accumulators), which wins there because a
// gather would run half empty. Both are load-port bound (one table load per sub-code); measured on a
// Xeon with AVX-512 (M=16: 312 vs 303 Mcodes/s; M=64: 74 vs 59; M=8: 316 vs 527).
// Other widths: the same per-code structure, with each lane fetching the 32-bit word that holds its
// sub-code (a gather with byte offsets (m·nbits)/8), shifting by (m·nbits)%8 and masking. Rows too close
// to the end of `codes` for the 4-byte fetch take the scalar path.
#include <immintrin.h>


#include "kernels/internal/adc_common.hpp"
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

/// Sub-code m of a row = (load32(row + byte_off[m]) >> shift[m]) & mask, vectorised over 16 m.
void adc_scan_generic(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                      const float* lut, float bias, float* out) {
  const std::size_t code_size = (M * nbits + 7) / 8;
  const std::size_t ksub = std::size_t{1} << nbits;
  const __m512i mask = _mm512_set1_epi32(static_cast<int>(ksub - 1));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // rows whose 4-byte fetches stay inside codes: the last byte read is row + code_size - 1 + 3
  const std::size_t n_vec = rows_safe_for_word_fetch(n, code_size);
  std::size_t i = 0;
  for (; i + 2 <= n_vec; i += 2) {
    const std::uint8_t* r0 = codes + i * code_size;
    const std::uint8_t* r1 = r0 + code_size;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (std::size_t m = 0; m < M; m += 16) {
      const __mmask16 k = lanes(M - m);
      const __m512i mv = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(m)));
      const __m512i bit = _mm512_mullo_epi32(mv, _mm512_set1_epi32(static_cast<int>(nbits)));
      const __m512i byte = _mm512_srli_epi32(bit, 3);
      const __m512i shift = _mm512_and_si512(bit, _mm512_set1_epi32(7));
      const __m512i base = _mm512_slli_epi32(mv, static_cast<unsigned>(nbits));
      const __m512i w0 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, byte, r0, 1);
      const __m512i w1 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, byte, r1, 1);
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

}  // namespace ivfstream::kernels::avx512
