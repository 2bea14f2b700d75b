// Scalar reference of the 4-bit fast-scan (layouts in kernels/fast_scan.hpp).
#include <algorithm>
#include <cstring>

#include "kernels/fast_scan.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::scalar {

void fast_scan(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
               std::uint16_t* out) {
  const std::size_t mp = fast_scan_padded_m(M), block_bytes = fast_scan_block_bytes(M);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* block = blocks + (i / k_fast_scan_block) * block_bytes;
    const std::size_t s = i % k_fast_scan_block, j = s & 15;
    const unsigned shift = s >= 16 ? 4 : 0;
    std::uint16_t sum = 0;
    for (std::size_t m = 0; m < mp; ++m)
      sum = static_cast<std::uint16_t>(sum + lut[16 * m + ((block[16 * m + j] >> shift) & 0x0F)]);
    out[i] = sum;
  }
}

std::size_t fast_scan_filter(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
                             std::uint16_t bound, std::uint32_t* out_slots, std::uint16_t* out_sums) {
  std::uint16_t sums[k_fast_scan_block];
  std::size_t count = 0;
  for (std::size_t b = 0; b * k_fast_scan_block < n; ++b) {
    const std::size_t first = b * k_fast_scan_block;
    const std::size_t len = n - first < k_fast_scan_block ? n - first : k_fast_scan_block;
    // scan the block as a list of its own (slots 0..len-1)
    fast_scan(blocks + b * fast_scan_block_bytes(M), len, M, lut, sums);
    for (std::size_t s = 0; s < len; ++s)
      if (sums[s] <= bound) {
        out_slots[count] = static_cast<std::uint32_t>(first + s);
        out_sums[count] = sums[s];
        ++count;
      }
  }
  return count;
}

float quantize_lut(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,
                   std::uint8_t* out_lut, float* out_list_bias) {
  const std::size_t lut_bytes = fast_scan_lut_bytes(M);
  // plain loops over 16-entry rows (no library calls) so that the compiler vectorises them
  float range = 0.f;
  for (std::size_t r = 0; r < n_lists * M; ++r) {
    const float* row = luts + r * 16;
    float lo = row[0], hi = row[0];
    for (std::size_t c = 1; c < 16; ++c) {
      lo = row[c] < lo ? row[c] : lo;
      hi = row[c] > hi ? row[c] : hi;
    }
    range = std::max(range, hi - lo);
  }
  const int qmax = static_cast<int>(std::min<std::size_t>(255, 65535 / M));
  const float scale = range > 0.f ? static_cast<float>(qmax) / range : 1.f;
  for (std::size_t l = 0; l < n_lists; ++l) {
    std::uint8_t* out = out_lut + l * lut_bytes;
    std::memset(out + 16 * M, 0, lut_bytes - 16 * M);  // padding rows
    double bias = biases != nullptr ? biases[l] : 0.0;
    for (std::size_t m = 0; m < M; ++m) {
      const float* row = luts + (l * M + m) * 16;
      float lo = row[0];
      for (std::size_t c = 1; c < 16; ++c) lo = row[c] < lo ? row[c] : lo;
      bias += lo;
      for (std::size_t c = 0; c < 16; ++c) {
        // round half up of a non-negative value; ≤ qmax up to float rounding, clamped
        const int q = static_cast<int>((row[c] - lo) * scale + 0.5f);
        out[16 * m + c] = static_cast<std::uint8_t>(q < qmax ? q : qmax);
      }
    }
    out_list_bias[l] = static_cast<float>(bias);
  }
  return scale;
}

}  // namespace ivfstream::kernels::scalar
