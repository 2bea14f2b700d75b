#pragma once
// One dispatch point: a table of function pointers per ISA, built once and never modified.
// index/ holds a `const kernel_table&` chosen at construction (kernels_for(choose_simd_level())).
//
// Layouts used below (all row-major, no padding unless stated):
//   vectors  : n × d floats
//   lut      : M × ksub floats, ksub = 2^nbits; lut[m·ksub + c] = partial distance of sub-code c in sub-space m
//   codes    : n × code_size bytes, code_size = ceil(M·nbits/8); sub-code m occupies bits
//              [m·nbits, (m+1)·nbits) of the row, little-endian bit order (bit 0 of byte 0 first)
//   fast-scan: see kernels/fast_scan.hpp
#include <cstddef>
#include <cstdint>

#include "kernels/simd_level.hpp"

namespace ivfstream::kernels {

/// Function pointers of one ISA level. Every member is a pure function of its arguments (no state):
/// thread-safe for concurrent calls on distinct outputs. Each SIMD member equals the scalar reference
/// exactly on integer-valued data (tests/kernels/simd_kernels_test.cpp, fast_scan_test.cpp).
struct kernel_table {
  simd_level level;  ///< the level these pointers implement

  /// ‖a − b‖² over d floats.
  float (*l2sqr)(const float* a, const float* b, std::size_t d);
  /// ⟨a, b⟩ over d floats.
  float (*inner_product)(const float* a, const float* b, std::size_t d);
  /// out[i] = ‖x − y_i‖² for the ny rows of y (ny × d).
  void (*l2sqr_ny)(const float* x, const float* y, std::size_t ny, std::size_t d, float* out);
  /// out[i] = ⟨x, y_i⟩ for the ny rows of y (ny × d).
  void (*inner_product_ny)(const float* x, const float* y, std::size_t ny, std::size_t d, float* out);

  /// ADC scan of n packed codes: out[i] = bias + Σ_m lut[m·ksub + code_i[m]].
  /// nbits ∈ {4, 6, 8, 10, 12}. Codes of 8 bits take a dedicated unrolled path.
  void (*adc_scan)(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,
                   const float* lut, float bias, float* out);

  /// k-means assignment step on a block of inner products ip (rows × k, row-major) with ‖c_j‖² in
  /// c_norms (k): labels[r] = argmin_j (c_norms[j] − 2·ip[r·k + j]) (ties: lowest j), best[r] = that
  /// minimum (add ‖x_r‖² for the squared distance). @pre k >= 1.
  void (*nearest_from_ip)(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,
                          std::uint32_t* labels, float* best);
  /// acc[t] += x[t] for t < d (float widened to double; k-means centroid sums).
  void (*accumulate_f64)(double* acc, const float* x, std::size_t d);
  /// out[i] = a[i] + alpha·b[i] for i < n (per-list ADC tables: precomputed list term + scaled query
  /// term). out may alias a or b. SIMD levels use a fused multiply-add (one rounding), the scalar
  /// reference a multiply then an add; equal whenever alpha·b[i] is exact (e.g. alpha = ±1, ±2).
  void (*add_scaled)(const float* a, float alpha, const float* b, std::size_t n, float* out);
  /// c = a·bᵀ (a: n × d, b: m × d, c: n × m, all row-major) by register-tiled dot products; each
  /// output is computed the same way whatever n, m and its position (row-stable). matmul_nt's path for
  /// small b (kernels/gemm.hpp).
  void (*matmul_nt_small)(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d,
                          float* c);
  /// c = a·bt (a: n × d, bt: d × m, c: n × m, all row-major): each output is one chain
  /// c[i][j] = fma(a[i][d−1], bt[d−1][j], … fma(a[i][0], bt[0][j], 0)) (SIMD levels; the scalar reference
  /// multiplies then adds, equal on integer data), so it is row-stable and the same at every position.
  /// For short d (the PQ sub-spaces of query tables: d = dsub, m = ksub), where matmul_nt_small's
  /// per-output reduction dominates: codebook_set keeps its codebooks transposed for it.
  void (*matmul_nn_small)(const float* a, std::size_t n, const float* bt, std::size_t d, std::size_t m,
                          float* c);
  /// k-means++ seeding step over n points stored transposed (xt: d × n, xt[t·n + i] = coordinate t of
  /// point i): min_d[i] = min(min_d[i], Σ_t (xt[t·n + i] − c[t])²) (terms added in t order, no FMA — the
  /// per-ISA files are compiled with -ffp-contract=off —: bit-identical at every level on any data), and block_sums[b] = Σ min_d[i] over i in [256·b, 256·b + 256) ∩ [0, n)
  /// (float, order differs between levels).   block_sums: ceil(n / 256) floats.
  void (*kmeanspp_update)(const float* xt, std::size_t n, std::size_t d, const float* c, float* min_d,
                          float* block_sums);

  /// 4-bit fast-scan (layouts in kernels/fast_scan.hpp): out[i] = Σ_{m<Mp} lut[16·m + code_i[m]] (u16,
  /// wrapping; quantize_lut keeps it below 65536) for the n slots of `blocks` (ceil(n/32) blocks).
  ///   lut : fast_scan_lut_bytes(M) bytes      out : n u16
  void (*fast_scan)(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,
                    std::uint16_t* out);
  /// Fused fast-scan + threshold: appends, in slot order, each slot i < n whose sum is ≤ bound:
  /// out_slots[r] = i, out_sums[r] = its sum; returns the count r (≤ n; size both outputs for n).
  std::size_t (*fast_scan_filter)(const std::uint8_t* blocks, std::size_t n, std::size_t M,
                                  const std::uint8_t* lut, std::uint16_t bound, std::uint32_t* out_slots,
                                  std::uint16_t* out_sums);
  /// Float ADC distances of n chosen slots of a 4-bit fast-scan list (layouts in kernels/fast_scan.hpp):
  /// out[i] = bias + Σ_{m<M} lut[16·m + sub-code m of slot slots[i]], read straight from the blocks (no
  /// unpacking to the pq_codes layout) and summed in the order this level's adc_scan sums a 4-bit code in
  /// its vector body, so each slot gets, bit for bit, the distance scan_list's adc_scan call gives its code.
  ///   blocks : the list's blocks    slots : n slot numbers of the list    lut : M × 16 floats    out : n
  void (*fast_scan_adc)(const std::uint8_t* blocks, std::size_t M, const std::uint32_t* slots, std::size_t n,
                        const float* lut, float bias, float* out);
  /// kernels/fast_scan.hpp quantize_lut (same contract); bit-identical results at every level.
  float (*quantize_lut)(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,
                        std::uint8_t* out_lut, float* out_list_bias);

  /// PQ encoding (layouts of table, x and codes in kernels/pq_encode.hpp): codes[i·M + m] = the j < ksub
  /// with the smallest e_j = ‖c_j‖² − 2·⟨x_i,m, c_j⟩ in sub-space m (ties: lowest j; NaN never chosen; all
  /// NaN or +inf: 0). ⟨·,·⟩ adds its dsub products in coordinate order, each product rounded (no FMA): the
  /// scores, hence the codes, are bit-identical at every level on any data.
  void (*pq_encode)(const float* table, const float* x, std::size_t n, std::size_t M, std::size_t dsub,
                    std::size_t ksub, std::uint16_t* codes);
};

/// The immutable table for a level (a level not compiled in falls back to the next lower one; neon
/// not compiled in, e.g. on x86, falls back to scalar).
const kernel_table& kernels_for(simd_level level) noexcept;

/// kernels_for(choose_simd_level()), computed once on first use (a function-local static const).
const kernel_table& default_kernels() noexcept;

}  // namespace ivfstream::kernels
