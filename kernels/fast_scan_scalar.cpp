// Scalar reference of the 4-bit fast-scan (layouts in kernels/fast_scan.hpp).
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

}  // namespace ivfstream::kernels::scalar
