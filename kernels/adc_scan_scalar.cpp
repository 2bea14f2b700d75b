// Scalar reference ADC scan over bit-packed codes (layout in kernels/kernel_table.hpp).
#include "kernels/fast_scan.hpp"
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::scalar {

void adc_scan(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits, const float* lut,
              float bias, float* out) {
  const std::size_t code_size = (M * nbits + 7) / 8;
  const std::size_t ksub = std::size_t{1} << nbits;
  if (nbits == 8) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* c = codes + i * code_size;
      float s = bias;
      for (std::size_t m = 0; m < M; ++m) s += lut[m * ksub + c[m]];
      out[i] = s;
    }
    return;
  }
  const unsigned mask = (1u << nbits) - 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* c = codes + i * code_size;
    float s = bias;
    std::size_t bit = 0;
    for (std::size_t m = 0; m < M; ++m, bit += nbits) {
      // a sub-code spans at most 3 bytes (12 bits starting at bit offset ≤ 7)
      const std::size_t byte = bit >> 3;
      std::uint32_t w = c[byte];
      if (byte + 1 < code_size) w |= std::uint32_t{c[byte + 1]} << 8;
      if (byte + 2 < code_size) w |= std::uint32_t{c[byte + 2]} << 16;
      s += lut[m * ksub + ((w >> (bit & 7)) & mask)];
    }
    out[i] = s;
  }
}

void fast_scan_adc(const std::uint8_t* blocks, std::size_t M, const std::uint32_t* slots, std::size_t n,
                   const float* lut, float bias, float* out) {
  const std::size_t block_bytes = fast_scan_block_bytes(M);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* block = blocks + slots[i] / k_fast_scan_block * block_bytes;
    const std::size_t j = slots[i] & 15;
    const unsigned shift = (slots[i] & 16) != 0 ? 4 : 0;
    float s = bias;  // the order of adc_scan above: bias, then sub-quantizers 0..M-1
    for (std::size_t m = 0; m < M; ++m) s += lut[16 * m + ((block[16 * m + j] >> shift) & 0x0F)];
    out[i] = s;
  }
}

}  // namespace ivfstream::kernels::scalar
