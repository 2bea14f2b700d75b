// AVX-512BW 4-bit fast-scan (layouts in kernels/fast_scan.hpp). One 64-byte load covers 4 sub-quantizers
// of a 32-vector block and lines up with 4 table rows, so each step is two vpshufb (low and high
// nibbles = slots 0..15 and 16..31) and four u16 adds (even and odd bytes). Equal to the scalar scan.
#include <immintrin.h>

#include "kernels/fast_scan.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx512 {

namespace {

/// The 32 u16 sums of one block, slot s in u16 element s.
inline __m512i block_sums(const std::uint8_t* block, const std::uint8_t* lut, std::size_t groups) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // u16 view of the byte results: accA += lo + 256·hi, accB += hi (both mod 2^16), so that
  // Σ lo = accA − 256·accB exactly (Σ lo < 2^16) — one 'and' per shuffle fewer than splitting bytes.
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512(), acc2 = _mm512_setzero_si512(),
          acc3 = _mm512_setzero_si512();
  for (std::size_t g = 0; g < groups; ++g) {
    const __m512i c = _mm512_loadu_si512(block + 64 * g);
    const __m512i l = _mm512_loadu_si512(lut + 64 * g);
    const __m512i rlo = _mm512_shuffle_epi8(l, _mm512_and_si512(c, low4));
    const __m512i rhi = _mm512_shuffle_epi8(l, _mm512_and_si512(_mm512_srli_epi16(c, 4), low4));
    acc0 = _mm512_add_epi16(acc0, rlo);
    acc1 = _mm512_add_epi16(acc1, _mm512_srli_epi16(rlo, 8));  // slots 1,3,..,15
    acc2 = _mm512_add_epi16(acc2, rhi);
    acc3 = _mm512_add_epi16(acc3, _mm512_srli_epi16(rhi, 8));  // slots 17,19,..,31
  }
  acc0 = _mm512_sub_epi16(acc0, _mm512_slli_epi16(acc1, 8));  // slots 0,2,..,14
  acc2 = _mm512_sub_epi16(acc2, _mm512_slli_epi16(acc3, 8));  // slots 16,18,..,30
  // fold the 4 lanes (sub-quantizers m ≡ 0..3 mod 4) of each accumulator: Z = [e0, o0, e1, o1]
  const __m512i x = _mm512_add_epi16(_mm512_shuffle_i64x2(acc0, acc1, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i64x2(acc0, acc1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512i y = _mm512_add_epi16(_mm512_shuffle_i64x2(acc2, acc3, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i64x2(acc2, acc3, _MM_SHUFFLE(3, 2, 3, 2)));
  // x = [acc0 L0+L2, acc0 L1+L3, acc1 L0+L2, acc1 L1+L3], likewise y
  const __m512i z = _mm512_add_epi16(_mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
  // z = [e0, o0, e1, o1]; interleave even and odd slots
  const __m512i a = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(2, 2, 0, 0));  // [e0, e0, e1, e1]
  const __m512i b = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 3, 1, 1));  // [o0, o0, o1, o1]
  return _mm512_mask_blend_epi64(0xCC, _mm512_unpacklo_epi16(a, b), _mm512_unpackhi_epi16(a, b));
}

inline __mmask32 first_lanes(std::size_t len) {
  return len >= 32 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << len) - 1u);
}

}  // namespace

void fast_scan(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
               std::uint16_t* out) {
  const std::size_t groups = fast_scan_padded_m(M) / 4, block_bytes = fast_scan_block_bytes(M);
  for (std::size_t first = 0; first < n; first += k_fast_scan_block, blocks += block_bytes) {
    const __m512i sums = block_sums(blocks, lut, groups);
    _mm512_mask_storeu_epi16(out + first, first_lanes(n - first), sums);
  }
}

std::size_t fast_scan_filter(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
                             std::uint16_t bound, std::uint32_t* out_slots, std::uint16_t* out_sums) {
  const std::size_t groups = fast_scan_padded_m(M) / 4, block_bytes = fast_scan_block_bytes(M);
  const __m512i limit = _mm512_set1_epi16(static_cast<short>(bound));
  std::size_t count = 0;
  alignas(64) std::uint16_t sums[k_fast_scan_block];
  for (std::size_t first = 0; first < n; first += k_fast_scan_block, blocks += block_bytes) {
    const __m512i s = block_sums(blocks, lut, groups);
    std::uint32_t pass = _mm512_mask_cmple_epu16_mask(first_lanes(n - first), s, limit);
    if (pass == 0) continue;
    _mm512_store_si512(sums, s);
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
  // one 16-entry row per register; the same float operations as the scalar reference (no FMA)
  const std::size_t lut_bytes = fast_scan_lut_bytes(M);
  float range = 0.f;
  for (std::size_t r = 0; r < n_lists * M; ++r) {
    const __m512 v = _mm512_loadu_ps(luts + r * 16);
    const float width = _mm512_reduce_max_ps(v) - _mm512_reduce_min_ps(v);
    range = width > range ? width : range;
  }
  const int qmax = static_cast<int>(M <= 257 ? 255 : 65535 / M);
  const float scale = range > 0.f ? static_cast<float>(qmax) / range : 1.f;
  const __m512 vscale = _mm512_set1_ps(scale), half = _mm512_set1_ps(0.5f);
  const __m512i vqmax = _mm512_set1_epi32(qmax);
  for (std::size_t l = 0; l < n_lists; ++l) {
    std::uint8_t* out = out_lut + l * lut_bytes;
    for (std::size_t m = M; m < fast_scan_padded_m(M); ++m) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * m), _mm_setzero_si128());
    double bias = biases != nullptr ? biases[l] : 0.0;
    for (std::size_t m = 0; m < M; ++m) {
      const __m512 v = _mm512_loadu_ps(luts + (l * M + m) * 16);
      const float lo = _mm512_reduce_min_ps(v);
      bias += lo;
      const __m512 q = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(v, _mm512_set1_ps(lo)), vscale), half);
      const __m512i qi = _mm512_min_epi32(_mm512_cvttps_epi32(q), vqmax);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * m), _mm512_cvtepi32_epi8(qi));
    }
    out_list_bias[l] = static_cast<float>(bias);
  }
  return scale;
}

}  // namespace ivfstream::kernels::avx512
