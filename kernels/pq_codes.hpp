#pragma once
// Bit packing of product-quantiser sub-codes (layout in kernels/kernel_table.hpp):
// row i of the packed array is code_size(M, nbits) bytes; sub-code m occupies bits
// [m·nbits, (m+1)·nbits) of the row, little-endian bit order (bit 0 of byte 0 first); the unused
// high bits of the last byte are zero.
#include <cstddef>
#include <cstdint>

namespace ivfstream::kernels {

/// ceil(M·nbits / 8): bytes per packed row. Thread-safe (pure).
std::size_t code_size(std::size_t M, unsigned nbits) noexcept;

/// Packs n rows of M sub-codes each.
///   sub_codes : n × M uint16, every value < 2^nbits (IVF_ASSERT)
///   out       : n × code_size(M, nbits) bytes, fully written
/// @pre 1 <= nbits <= 16. Thread-safe (pure).
void pack_codes(const std::uint16_t* sub_codes, std::size_t n, std::size_t M, unsigned nbits,
                std::uint8_t* out);

/// Inverse of pack_codes.
///   codes : n × code_size(M, nbits) bytes      out : n × M uint16
/// @pre 1 <= nbits <= 16. Thread-safe (pure).
void unpack_codes(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                  std::uint16_t* out);

/// Sub-code m of one packed row (code_size(M, nbits) bytes). @pre 1 <= nbits <= 16, m < M.
inline std::uint32_t read_sub_code(const std::uint8_t* row, std::size_t code_bytes, std::size_t m,
                                   unsigned nbits) noexcept {
  const std::size_t bit = m * nbits, byte = bit >> 3;
  std::uint32_t w = row[byte];
  if (byte + 1 < code_bytes) w |= std::uint32_t{row[byte + 1]} << 8;
  if (byte + 2 < code_bytes) w |= std::uint32_t{row[byte + 2]} << 16;
  return (w >> (bit & 7)) & ((1u << nbits) - 1u);
}

}  // namespace ivfstream::kernels
