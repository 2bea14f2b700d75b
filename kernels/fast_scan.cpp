#include "kernels/fast_scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/assert.hpp"

namespace ivfstream::kernels {

void fast_scan_write(std::uint8_t* blocks, std::size_t M, std::size_t slot, const std::uint8_t* code) noexcept {
  std::uint8_t* block = blocks + (slot / k_fast_scan_block) * fast_scan_block_bytes(M);
  const std::size_t s = slot % k_fast_scan_block, j = s & 15;
  const bool high = s >= 16;
  for (std::size_t m = 0; m < M; ++m) {
    const std::uint8_t c = (code[m >> 1] >> ((m & 1) * 4)) & 0x0F;
    std::uint8_t& byte = block[16 * m + j];
    byte = high ? static_cast<std::uint8_t>((byte & 0x0F) | (c << 4)) : static_cast<std::uint8_t>((byte & 0xF0) | c);
  }
}

void fast_scan_read(const std::uint8_t* blocks, std::size_t M, std::size_t slot, std::uint8_t* code) noexcept {
  const std::uint8_t* block = blocks + (slot / k_fast_scan_block) * fast_scan_block_bytes(M);
  const std::size_t s = slot % k_fast_scan_block, j = s & 15;
  const unsigned shift = s >= 16 ? 4 : 0;
  std::memset(code, 0, (M + 1) / 2);
  for (std::size_t m = 0; m < M; ++m) {
    const std::uint8_t c = (block[16 * m + j] >> shift) & 0x0F;
    code[m >> 1] |= static_cast<std::uint8_t>(c << ((m & 1) * 4));
  }
}

void fast_scan_pack(const std::uint8_t* codes, std::size_t n, std::size_t M, std::uint8_t* blocks) noexcept {
  std::memset(blocks, 0, fast_scan_bytes(n, M));
  const std::size_t cs = (M + 1) / 2;
  for (std::size_t i = 0; i < n; ++i) fast_scan_write(blocks, M, i, codes + i * cs);
}

float quantize_lut(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,
                   std::uint8_t* out_lut, float* out_list_bias) noexcept {
  IVF_ASSERT(M >= 1 && M <= k_fast_scan_max_m);
  const std::size_t lut_bytes = fast_scan_lut_bytes(M);
  float range = 0.f;
  for (std::size_t r = 0; r < n_lists * M; ++r) {
    const float* row = luts + r * 16;
    const auto [lo, hi] = std::minmax_element(row, row + 16);
    range = std::max(range, *hi - *lo);
  }
  const float qmax = static_cast<float>(std::min<std::size_t>(255, 65535 / M));
  const float scale = range > 0.f ? qmax / range : 1.f;
  for (std::size_t l = 0; l < n_lists; ++l) {
    std::uint8_t* out = out_lut + l * lut_bytes;
    std::memset(out, 0, lut_bytes);
    double bias = biases != nullptr ? biases[l] : 0.0;
    for (std::size_t m = 0; m < M; ++m) {
      const float* row = luts + (l * M + m) * 16;
      const float lo = *std::min_element(row, row + 16);
      bias += lo;
      for (std::size_t c = 0; c < 16; ++c) {
        const float q = std::nearbyint((row[c] - lo) * scale);
        out[16 * m + c] = static_cast<std::uint8_t>(std::clamp(q, 0.f, qmax));
      }
    }
    out_list_bias[l] = static_cast<float>(bias);
  }
  return scale;
}

std::optional<std::uint16_t> fast_scan_u16_bound(float threshold, float list_bias, float scale,
                                                 std::size_t M) noexcept {
  if (std::isnan(threshold)) return std::nullopt;
  const double bound = std::floor((double{threshold} - list_bias) * scale + 0.5 * static_cast<double>(M) + 1.0);
  if (bound < 0) return std::nullopt;
  if (bound >= 65535.0) return std::uint16_t{65535};
  return static_cast<std::uint16_t>(bound);
}

}  // namespace ivfstream::kernels
