#pragma once
// Plain-C++ ADC helpers shared by the ISA files. Internal linkage on purpose (anonymous namespace):
// each *_<isa>.cpp gets its own copy compiled with its own flags, so the linker can never substitute an
// AVX-512 copy into an AVX2 code path (an ODR trap with `inline`).
#include <cstddef>
#include <cstdint>

namespace ivfstream::kernels {
namespace {  // NOLINT(google-build-namespaces): see above

/// bias + Σ_m lut[m·ksub + sub-code m] for one bit-packed row (layout in kernel_table.hpp).
[[maybe_unused]] float adc_row_generic(const std::uint8_t* c, std::size_t code_size, std::size_t M,
                                       unsigned nbits, const float* lut, float bias) {
  const std::size_t ksub = std::size_t{1} << nbits;
  const unsigned mask = (1u << nbits) - 1;
  float s = bias;
  std::size_t bit = 0;
  for (std::size_t m = 0; m < M; ++m, bit += nbits) {
    const std::size_t byte = bit >> 3;
    std::uint32_t w = c[byte];
    if (byte + 1 < code_size) w |= std::uint32_t{c[byte + 1]} << 8;
    if (byte + 2 < code_size) w |= std::uint32_t{c[byte + 2]} << 16;
    s += lut[m * ksub + ((w >> (bit & 7)) & mask)];
  }
  return s;
}

/// 8-bit ADC, four codes in flight with independent accumulators (load-port bound; beats gathers for
/// small M). codes: n × M bytes; lut: M × 256.
[[maybe_unused]] void adc_scan_8bit_unrolled(const std::uint8_t* codes, std::size_t n, std::size_t M,
                                             const float* lut, float bias, float* out) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint8_t* c = codes + i * M;
    float s0 = bias, s1 = bias, s2 = bias, s3 = bias;
    for (std::size_t m = 0; m < M; ++m) {
      const float* t = lut + m * 256;
      s0 += t[c[m]];
      s1 += t[c[M + m]];
      s2 += t[c[2 * M + m]];
      s3 += t[c[3 * M + m]];
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < n; ++i) {
    const std::uint8_t* c = codes + i * M;
    float s = bias;
    for (std::size_t m = 0; m < M; ++m) s += lut[m * 256 + c[m]];
    out[i] = s;
  }
}

/// Rows [0, result) of an n-row code array can be read with 4-byte fetches at any byte of the row
/// without leaving the array (the fetch of the row's last byte reads 3 bytes beyond it).
[[maybe_unused]] std::size_t rows_safe_for_word_fetch(std::size_t n, std::size_t code_size) {
  if (code_size == 0 || n * code_size < 3) return 0;
  const std::size_t r = (n * code_size - 3) / code_size;
  return r < n ? r : n;
}

}  // namespace
}  // namespace ivfstream::kernels
