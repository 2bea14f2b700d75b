#include "kernels/pq_codes.hpp"

#include <cstring>

#include "kernels/assert.hpp"

namespace ivfstream::kernels {

std::size_t code_size(std::size_t M, unsigned nbits) noexcept { return (M * nbits + 7) / 8; }

void pack_codes(const std::uint16_t* sub_codes, std::size_t n, std::size_t M, unsigned nbits,
                std::uint8_t* out) {
  IVF_ASSERT(nbits >= 1 && nbits <= 16);
  const std::size_t cs = code_size(M, nbits);
  if (nbits == 8) {
    for (std::size_t i = 0; i < n * M; ++i) {
      IVF_ASSERT(sub_codes[i] < 256);
      out[i] = static_cast<std::uint8_t>(sub_codes[i]);
    }
    return;
  }
  const std::uint32_t limit = 1u << nbits;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t* src = sub_codes + i * M;
    std::uint8_t* row = out + i * cs;
    std::memset(row, 0, cs);
    std::size_t bit = 0;
    for (std::size_t m = 0; m < M; ++m, bit += nbits) {
      const std::uint32_t v = src[m];
      IVF_ASSERT(v < limit);
      // a sub-code of ≤ 16 bits starting at bit offset ≤ 7 spans at most 3 bytes
      const std::uint32_t shifted = v << (bit & 7);
      const std::size_t byte = bit >> 3;
      row[byte] |= static_cast<std::uint8_t>(shifted);
      if (byte + 1 < cs) row[byte + 1] |= static_cast<std::uint8_t>(shifted >> 8);
      if (byte + 2 < cs) row[byte + 2] |= static_cast<std::uint8_t>(shifted >> 16);
    }
  }
}

void unpack_codes(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                  std::uint16_t* out) {
  IVF_ASSERT(nbits >= 1 && nbits <= 16);
  const std::size_t cs = code_size(M, nbits);
  if (nbits == 8) {
    for (std::size_t i = 0; i < n * M; ++i) out[i] = codes[i];
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* row = codes + i * cs;
    std::uint16_t* dst = out + i * M;
    for (std::size_t m = 0; m < M; ++m) dst[m] = static_cast<std::uint16_t>(read_sub_code(row, cs, m, nbits));
  }
}

}  // namespace ivfstream::kernels
