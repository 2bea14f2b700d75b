#pragma once
// 4-bit PQ fast-scan: codes re-laid in blocks of 32 vectors so that one byte shuffle (vpshufb) looks up
// 16 (AVX2: 32, AVX-512BW: 64) table entries at once; tables quantised to u8, sums accumulated in u16.
// The scans themselves are in kernel_table (fast_scan, fast_scan_filter); this header has the layout,
// slot access and LUT quantisation, which are ISA-independent.
//
// Block layout (fast_scan_block_bytes(M) bytes per block of 32 vectors, slots 0..31):
//   Mp = M rounded up to a multiple of 4 (sub-quantizers M..Mp-1 are padding: code 0, table row 0).
//   For sub-quantizer m in [0, Mp): 16 bytes at offset 16·m; byte j (0..15) holds
//     low nibble  = sub-code m of slot j,   high nibble = sub-code m of slot j + 16.
//   (So 64 consecutive bytes cover 4 sub-quantizers of all 32 slots — one AVX-512 register, whose
//   128-bit lanes line up with 4 consecutive 16-byte table rows.)
//   A list of n vectors occupies ceil(n / 32) blocks; slot i of the list is slot i % 32 of block i / 32.
//   Unused slots of the last block are padding whose sums are never reported.
// Quantised LUT layout (fast_scan_lut_bytes(M) bytes per probed list): Mp rows of 16 u8;
//   row m = quantised table of sub-quantizer m (padding rows are 0).
// Approximate distance of a vector in list l: dist ≈ list_bias[l] + sum / scale (quantize_lut), with
//   |dist − exact ADC distance| ≤ M / (2 · scale).
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ivfstream::kernels {

/// Vectors per fast-scan block.
inline constexpr std::size_t k_fast_scan_block = 32;
/// Largest M the u16 sums support without overflow at full 8-bit table resolution is 257; larger M
/// (up to 65535) is supported with coarser tables (max entry floor(65535 / M)).
inline constexpr std::size_t k_fast_scan_max_m = 65535;

/// M rounded up to a multiple of 4.
inline constexpr std::size_t fast_scan_padded_m(std::size_t M) noexcept { return (M + 3) / 4 * 4; }
/// Bytes of one block of 32 vectors: 16 · fast_scan_padded_m(M).
inline constexpr std::size_t fast_scan_block_bytes(std::size_t M) noexcept { return 16 * fast_scan_padded_m(M); }
/// Bytes of blocks holding n vectors: ceil(n / 32) · fast_scan_block_bytes(M).
inline constexpr std::size_t fast_scan_bytes(std::size_t n, std::size_t M) noexcept {
  return (n + k_fast_scan_block - 1) / k_fast_scan_block * fast_scan_block_bytes(M);
}
/// Bytes of one quantised table: 16 · fast_scan_padded_m(M).
inline constexpr std::size_t fast_scan_lut_bytes(std::size_t M) noexcept { return 16 * fast_scan_padded_m(M); }

/// Writes one vector's 4-bit PQ code into slot `slot` of a block array (which must hold at least
/// slot / 32 + 1 blocks; freshly grown blocks must be zero-filled so padding sub-quantizers read 0).
///   code : code_size(M, 4) = ceil(M / 2) bytes in the pq_codes layout (sub-code m in bits [4m, 4m+4)).
/// Thread-safety: writes only the nibbles of that slot; concurrent writers of different slots of the
/// same block race on shared bytes, so one writer per list.
void fast_scan_write(std::uint8_t* blocks, std::size_t M, std::size_t slot, const std::uint8_t* code) noexcept;

/// Reads slot `slot` back into the pq_codes layout (code: ceil(M / 2) bytes, fully written).
void fast_scan_read(const std::uint8_t* blocks, std::size_t M, std::size_t slot, std::uint8_t* code) noexcept;

/// Re-lays n packed 4-bit codes (n × ceil(M/2) bytes) into fast_scan_bytes(n, M) bytes of blocks
/// (zero-filled first, then fast_scan_write per vector).
void fast_scan_pack(const std::uint8_t* codes, std::size_t n, std::size_t M, std::uint8_t* blocks) noexcept;

/// Quantises the float ADC tables of n_lists probed lists to u8 with one shared scale, so that the u16
/// sums of different lists compare after adding their per-list offset.
///   luts          : n_lists × M × 16 floats (list l, sub-quantizer m, sub-code c at (l·M + m)·16 + c)
///   biases        : n_lists floats (the per-list constant of the ADC distance), or nullptr for zeros
///   out_lut       : n_lists × fast_scan_lut_bytes(M) bytes
///   out_list_bias : n_lists floats: bias[l] + Σ_m min_c luts[l][m][c]
/// Returns scale > 0: entry = ⌊(lut − row minimum) · scale + ½⌋, scale = qmax / (largest row range over
/// all lists), qmax = min(255, floor(65535 / M)); scale = 1 when every row is constant.
/// @pre 1 <= M <= k_fast_scan_max_m, finite tables. Thread-safety: reentrant.
float quantize_lut(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,
                   std::uint8_t* out_lut, float* out_list_bias) noexcept;

/// The approximate distance of a u16 sum: list_bias + sum / scale.
inline float fast_scan_distance(std::uint16_t sum, float list_bias, float scale) noexcept {
  return list_bias + static_cast<float>(sum) / scale;
}

/// A u16 bound such that every vector of the list whose exact ADC distance is ≤ threshold has
/// sum ≤ bound: floor((threshold − list_bias)·scale + M/2 + 1) (the M/(2·scale) quantisation error plus
/// one unit for float rounding), clamped to 65535; nullopt when no vector of the list can be within
/// threshold (or threshold is NaN). +inf gives 65535.
std::optional<std::uint16_t> fast_scan_u16_bound(float threshold, float list_bias, float scale,
                                                 std::size_t M) noexcept;

}  // namespace ivfstream::kernels
