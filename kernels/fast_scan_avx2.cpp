// AVX2 4-bit fast-scan (layouts in kernels/fast_scan.hpp). One 32-byte load covers 2 sub-quantizers of
// a 32-vector block and lines up with 2 table rows (vpshufb works per 128-bit lane). Equal to the
// scalar scan.
#include <immintrin.h>

#include "kernels/fast_scan.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx2 {

namespace {

/// The 32 u16 sums of one block: lo = slots 0..15, hi = slots 16..31.
inline void block_sums(const std::uint8_t* block, const std::uint8_t* lut, std::size_t pairs, __m256i& lo,
                       __m256i& hi) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i low_byte = _mm256_set1_epi16(0x00FF);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256(), acc2 = _mm256_setzero_si256(),
          acc3 = _mm256_setzero_si256();
  for (std::size_t g = 0; g < pairs; ++g) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32 * g));
    const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + 32 * g));
    const __m256i rlo = _mm256_shuffle_epi8(l, _mm256_and_si256(c, low4));
    const __m256i rhi = _mm256_shuffle_epi8(l, _mm256_and_si256(_mm256_srli_epi16(c, 4), low4));
    acc0 = _mm256_add_epi16(acc0, _mm256_and_si256(rlo, low_byte));
    acc1 = _mm256_add_epi16(acc1, _mm256_srli_epi16(rlo, 8));
    acc2 = _mm256_add_epi16(acc2, _mm256_and_si256(rhi, low_byte));
    acc3 = _mm256_add_epi16(acc3, _mm256_srli_epi16(rhi, 8));
  }
  // fold the 2 lanes: x = [e0, o0], y = [e1, o1]
  const __m256i x = _mm256_add_epi16(_mm256_permute2x128_si256(acc0, acc1, 0x20),
                                     _mm256_permute2x128_si256(acc0, acc1, 0x31));
  const __m256i y = _mm256_add_epi16(_mm256_permute2x128_si256(acc2, acc3, 0x20),
                                     _mm256_permute2x128_si256(acc2, acc3, 0x31));
  // lanes [e, e] and [o, o]; slots 0..7 = unpacklo(e, o) (lane 0), slots 8..15 = unpackhi(e, o) (lane 1)
  const __m256i xe = _mm256_permute2x128_si256(x, x, 0x00), xo = _mm256_permute2x128_si256(x, x, 0x11);
  const __m256i ye = _mm256_permute2x128_si256(y, y, 0x00), yo = _mm256_permute2x128_si256(y, y, 0x11);
  lo = _mm256_blend_epi32(_mm256_unpacklo_epi16(xe, xo), _mm256_unpackhi_epi16(xe, xo), 0xF0);
  hi = _mm256_blend_epi32(_mm256_unpacklo_epi16(ye, yo), _mm256_unpackhi_epi16(ye, yo), 0xF0);
}

/// Bit s set when u16 element s of v is ≤ bound (16 bits).
inline std::uint32_t le_mask(__m256i v, __m256i bound) {
  const __m256i le = _mm256_cmpeq_epi16(_mm256_max_epu16(v, bound), bound);
  return _pext_u32(static_cast<std::uint32_t>(_mm256_movemask_epi8(le)), 0x55555555u);
}

}  // namespace

void fast_scan(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
               std::uint16_t* out) {
  const std::size_t pairs = fast_scan_padded_m(M) / 2, block_bytes = fast_scan_block_bytes(M);
  alignas(32) std::uint16_t tail[k_fast_scan_block];
  for (std::size_t first = 0; first < n; first += k_fast_scan_block, blocks += block_bytes) {
    __m256i lo, hi;
    block_sums(blocks, lut, pairs, lo, hi);
    if (n - first >= k_fast_scan_block) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + first), lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + first + 16), hi);
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(tail), lo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(tail + 16), hi);
      for (std::size_t s = 0; s < n - first; ++s) out[first + s] = tail[s];
    }
  }
}

std::size_t fast_scan_filter(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
                             std::uint16_t bound, std::uint32_t* out_slots, std::uint16_t* out_sums) {
  const std::size_t pairs = fast_scan_padded_m(M) / 2, block_bytes = fast_scan_block_bytes(M);
  const __m256i limit = _mm256_set1_epi16(static_cast<short>(bound));
  alignas(32) std::uint16_t sums[k_fast_scan_block];
  std::size_t count = 0;
  for (std::size_t first = 0; first < n; first += k_fast_scan_block, blocks += block_bytes) {
    __m256i lo, hi;
    block_sums(blocks, lut, pairs, lo, hi);
    std::uint32_t pass = le_mask(lo, limit) | (le_mask(hi, limit) << 16);
    const std::size_t len = n - first;
    if (len < k_fast_scan_block) pass &= (1u << len) - 1u;
    if (pass == 0) continue;
    _mm256_store_si256(reinterpret_cast<__m256i*>(sums), lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(sums + 16), hi);
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

}  // namespace ivfstream::kernels::avx2
