// AVX2 ADC scans (compiled with -mavx2 -mfma -mbmi2). Results equal scalar::adc_scan up to the order of
// the float additions (exact on integer-valued tables, which is what the tests compare).
//
// 8-bit codes: the unrolled scalar loop (4 codes in flight, independent accumulators). AVX2 gathers of
// 8 floats were measured no faster here (both are bound by one table load per sub-code).
// Other widths: per code, 8 sub-quantizers per step; each lane fetches the 32-bit word holding its
// sub-code (gather with byte offsets (m·nbits)/8), shifts by (m·nbits)%8 and masks, then the table
// entries are gathered. Two codes in flight. Rows too close to the end of `codes` for the 4-byte fetch
// take the scalar path.
#include <immintrin.h>

#include "kernels/fast_scan.hpp"
#include "kernels/internal/adc_common.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx2 {

namespace {

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

void adc_scan_generic(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                      const float* lut, float bias, float* out) {
  const std::size_t code_size = (M * nbits + 7) / 8;
  const __m256i mask = _mm256_set1_epi32(static_cast<int>((1u << nbits) - 1));
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const std::size_t n_vec = rows_safe_for_word_fetch(n, code_size);
  const int* words = nullptr;
  std::size_t i = 0;
  for (; i + 2 <= n_vec; i += 2) {
    const std::uint8_t* r0 = codes + i * code_size;
    const std::uint8_t* r1 = r0 + code_size;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (std::size_t m = 0; m < M; m += 8) {
      const __m256i mv = _mm256_add_epi32(iota, _mm256_set1_epi32(static_cast<int>(m)));
      // lanes m + j < M are live
      const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(M)), mv);
      const __m256i bit = _mm256_mullo_epi32(mv, _mm256_set1_epi32(static_cast<int>(nbits)));
      const __m256i byte = _mm256_srli_epi32(bit, 3);
      const __m256i shift = _mm256_and_si256(bit, _mm256_set1_epi32(7));
      const __m256i base = _mm256_slli_epi32(mv, static_cast<int>(nbits));
      words = reinterpret_cast<const int*>(r0);
      const __m256i w0 = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), words, byte, live, 1);
      words = reinterpret_cast<const int*>(r1);
      const __m256i w1 = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), words, byte, live, 1);
      const __m256i i0 = _mm256_add_epi32(base, _mm256_and_si256(_mm256_srlv_epi32(w0, shift), mask));
      const __m256i i1 = _mm256_add_epi32(base, _mm256_and_si256(_mm256_srlv_epi32(w1, shift), mask));
      const __m256 livef = _mm256_castsi256_ps(live);
      a0 = _mm256_add_ps(a0, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), lut, i0, livef, 4));
      a1 = _mm256_add_ps(a1, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), lut, i1, livef, 4));
    }
    out[i] = bias + hsum(a0);
    out[i + 1] = bias + hsum(a1);
  }
  for (; i < n; ++i) out[i] = adc_row_generic(codes + i * code_size, code_size, M, nbits, lut, bias);
}

/// Accumulates the 8-lane partial sums of one fast-scan slot the way adc_scan_generic does for its code
/// (lane l takes sub-quantizers l, l + 8, ...; lanes past M add nothing). The lanes fetch the aligned
/// 32-bit word of each 16-byte row that holds the slot's byte (never past the row, so never past the
/// blocks) and shift by the byte's position in it plus 4 for slots 16..31.
inline __m256 fast_scan_slot_lanes(const std::uint8_t* blocks, std::size_t block_bytes, std::size_t M,
                                   std::uint32_t slot, const float* lut) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), low4 = _mm256_set1_epi32(0x0F);
  const auto* block = reinterpret_cast<const int*>(blocks + slot / k_fast_scan_block * block_bytes);
  const unsigned j = slot & 15;
  const __m256i word = _mm256_set1_epi32(static_cast<int>(j & ~3u));
  const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(8 * (j & 3) + ((slot & 16) != 0 ? 4 : 0)));
  __m256 a = _mm256_setzero_ps();
  for (std::size_t m = 0; m < M; m += 8) {
    const __m256i mv = _mm256_add_epi32(iota, _mm256_set1_epi32(static_cast<int>(m)));
    const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(M)), mv);
    const __m256i row = _mm256_slli_epi32(mv, 4);  // 16·m: the row's offset, and the table row's first entry
    const __m256i w = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), block, _mm256_add_epi32(row, word), live, 1);
    const __m256i idx = _mm256_add_epi32(row, _mm256_and_si256(_mm256_srl_epi32(w, shift), low4));
    a = _mm256_add_ps(a, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), lut, idx, _mm256_castsi256_ps(live), 4));
  }
  return a;
}

}  // namespace

void fast_scan_adc(const std::uint8_t* blocks, std::size_t M, const std::uint32_t* slots, std::size_t n,
                   const float* lut, float bias, float* out) {
  const std::size_t block_bytes = fast_scan_block_bytes(M);
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) {  // two slots in flight (independent gather chains)
    const __m256 a0 = fast_scan_slot_lanes(blocks, block_bytes, M, slots[i], lut);
    const __m256 a1 = fast_scan_slot_lanes(blocks, block_bytes, M, slots[i + 1], lut);
    out[i] = bias + hsum(a0);
    out[i + 1] = bias + hsum(a1);
  }
  if (i < n) out[i] = bias + hsum(fast_scan_slot_lanes(blocks, block_bytes, M, slots[i], lut));
}

void adc_scan(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits, const float* lut,
              float bias, float* out) {
  if (nbits == 8)
    adc_scan_8bit_unrolled(codes, n, M, lut, bias, out);
  else
    adc_scan_generic(codes, n, M, nbits, lut, bias, out);
}

}  // namespace ivfstream::kernels::avx2
