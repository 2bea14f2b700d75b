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
  // u16 view: accA += lo + 256·hi, accB += hi (mod 2^16); Σ lo = accA − 256·accB (see the AVX-512 file)
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256(), acc2 = _mm256_setzero_si256(),
          acc3 = _mm256_setzero_si256();
  for (std::size_t g = 0; g < pairs; ++g) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32 * g));
    const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + 32 * g));
    const __m256i rlo = _mm256_shuffle_epi8(l, _mm256_and_si256(c, low4));
    const __m256i rhi = _mm256_shuffle_epi8(l, _mm256_and_si256(_mm256_srli_epi16(c, 4), low4));
    acc0 = _mm256_add_epi16(acc0, rlo);
    acc1 = _mm256_add_epi16(acc1, _mm256_srli_epi16(rlo, 8));
    acc2 = _mm256_add_epi16(acc2, rhi);
    acc3 = _mm256_add_epi16(acc3, _mm256_srli_epi16(rhi, 8));
  }
  acc0 = _mm256_sub_epi16(acc0, _mm256_slli_epi16(acc1, 8));
  acc2 = _mm256_sub_epi16(acc2, _mm256_slli_epi16(acc3, 8));
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

float quantize_lut(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,
                   std::uint8_t* out_lut, float* out_list_bias) {
  // one 16-entry row per two registers; the same float operations as the scalar reference (no FMA)
  auto row_min = [](__m256 a, __m256 b) {
    __m256 m = _mm256_min_ps(a, b);
    __m128 x = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    x = _mm_min_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_min_ss(x, _mm_movehdup_ps(x)));
  };
  auto row_max = [](__m256 a, __m256 b) {
    __m256 m = _mm256_max_ps(a, b);
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
  };
  const std::size_t lut_bytes = fast_scan_lut_bytes(M);
  float range = 0.f;
  for (std::size_t r = 0; r < n_lists * M; ++r) {
    const __m256 a = _mm256_loadu_ps(luts + r * 16), b = _mm256_loadu_ps(luts + r * 16 + 8);
    const float width = row_max(a, b) - row_min(a, b);
    range = width > range ? width : range;
  }
  const int qmax = static_cast<int>(M <= 257 ? 255 : 65535 / M);
  const float scale = range > 0.f ? static_cast<float>(qmax) / range : 1.f;
  const __m256 vscale = _mm256_set1_ps(scale), half = _mm256_set1_ps(0.5f);
  const __m256i vqmax = _mm256_set1_epi32(qmax);
  for (std::size_t l = 0; l < n_lists; ++l) {
    std::uint8_t* out = out_lut + l * lut_bytes;
    for (std::size_t m = M; m < fast_scan_padded_m(M); ++m) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * m), _mm_setzero_si128());
    double bias = biases != nullptr ? biases[l] : 0.0;
    for (std::size_t m = 0; m < M; ++m) {
      const float* row = luts + (l * M + m) * 16;
      const __m256 a = _mm256_loadu_ps(row), b = _mm256_loadu_ps(row + 8);
      const float lo = row_min(a, b);
      bias += lo;
      const __m256 vlo = _mm256_set1_ps(lo);
      const __m256i qa = _mm256_min_epi32(
          _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(a, vlo), vscale), half)), vqmax);
      const __m256i qb = _mm256_min_epi32(
          _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(b, vlo), vscale), half)), vqmax);
      // 16 int32 (each ≤ 255) -> 16 bytes in order
      const __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(qa, qb), _MM_SHUFFLE(3, 1, 2, 0));
      const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * m), bytes);
    }
    out_list_bias[l] = static_cast<float>(bias);
  }
  return scale;
}

}  // namespace ivfstream::kernels::avx2
