#include "kernels/fast_scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/assert.hpp"
#include "kernels/kernel_table.hpp"

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
  return default_kernels().quantize_lut(luts, biases, n_lists, M, out_lut, out_list_bias);
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
