#pragma once
// Declarations of the per-ISA kernel implementations. Private to kernels/: callers go through
// kernel_table. Each namespace is implemented in files named *_<isa>.cpp compiled with that ISA's flags
// (neon: aarch64 only, where Advanced SIMD needs no extra flag).
#include <cstddef>
#include <cstdint>

#define IVFSTREAM_DECLARE_ISA_KERNELS(isa)                                                            \
  namespace isa {                                                                                     \
  float l2sqr(const float* a, const float* b, std::size_t d);                                         \
  float inner_product(const float* a, const float* b, std::size_t d);                                 \
  void l2sqr_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out);           \
  void inner_product_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out);   \
  void adc_scan(const std::uint8_t* codes, std::size_t n, std::size_t M, unsigned nbits,              \
                const float* lut, float bias, float* out);                                            \
  void nearest_from_ip(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,         \
                       std::uint32_t* labels, float* best);                                            \
  void accumulate_f64(double* acc, const float* x, std::size_t d);                                    \
  void add_scaled(const float* a, float alpha, const float* b, std::size_t n, float* out);            \
  void matmul_nt_small(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d,    \
                       float* c);                                                                      \
  void matmul_nn_small(const float* a, std::size_t n, const float* bt, std::size_t d, std::size_t m,   \
                       float* c);                                                                      \
  void kmeanspp_update(const float* xt, std::size_t n, std::size_t d, const float* c, float* min_d,    \
                       float* block_sums);                                                             \
  void fast_scan(const std::uint8_t* blocks, std::size_t n, std::size_t M, const std::uint8_t* lut,      \
                 std::uint16_t* out);                                                                  \
  std::size_t fast_scan_filter(const std::uint8_t* blocks, std::size_t n, std::size_t M,                \
                               const std::uint8_t* lut, std::uint16_t bound, std::uint32_t* out_slots,  \
                               std::uint16_t* out_sums);                                               \
  void fast_scan_adc(const std::uint8_t* blocks, std::size_t M, const std::uint32_t* slots, std::size_t n, \
                     const float* lut, float bias, float* out);                                        \
  float quantize_lut(const float* luts, const float* biases, std::size_t n_lists, std::size_t M,         \
                     std::uint8_t* out_lut, float* out_list_bias);                                     \
  void pq_encode(const float* table, const float* x, std::size_t n, std::size_t M, std::size_t dsub,        \
                 std::size_t ksub, std::uint16_t* codes);                                              \
  }

namespace ivfstream::kernels {
IVFSTREAM_DECLARE_ISA_KERNELS(scalar)
IVFSTREAM_DECLARE_ISA_KERNELS(avx2)
IVFSTREAM_DECLARE_ISA_KERNELS(avx512)
IVFSTREAM_DECLARE_ISA_KERNELS(neon)
}  // namespace ivfstream::kernels
