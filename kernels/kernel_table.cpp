#include "kernels/kernel_table.hpp"

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels {

namespace {

#define IVFSTREAM_KERNEL_TABLE(isa, level)                                                       \
  kernel_table{level, &isa::l2sqr, &isa::inner_product, &isa::l2sqr_ny, &isa::inner_product_ny, \
               &isa::adc_scan, &isa::nearest_from_ip, &isa::accumulate_f64, &isa::add_scaled, &isa::matmul_nt_small, \
               &isa::matmul_nn_small, &isa::kmeanspp_update, \
               &isa::fast_scan, &isa::fast_scan_filter, &isa::fast_scan_adc, &isa::quantize_lut, &isa::pq_encode}

const kernel_table k_scalar = IVFSTREAM_KERNEL_TABLE(scalar, simd_level::scalar);
#if defined(IVFSTREAM_HAVE_AVX2)
const kernel_table k_avx2 = IVFSTREAM_KERNEL_TABLE(avx2, simd_level::avx2);
#endif
#if defined(IVFSTREAM_HAVE_AVX512)
const kernel_table k_avx512 = IVFSTREAM_KERNEL_TABLE(avx512, simd_level::avx512);
#endif
#if defined(IVFSTREAM_HAVE_NEON)
const kernel_table k_neon = IVFSTREAM_KERNEL_TABLE(neon, simd_level::neon);
#endif

}  // namespace

const kernel_table& kernels_for(simd_level level) noexcept {
  switch (level) {
    case simd_level::neon:
#if defined(IVFSTREAM_HAVE_NEON)
      return k_neon;
#endif
      break;
    case simd_level::avx512:
#if defined(IVFSTREAM_HAVE_AVX512)
      return k_avx512;
#endif
      [[fallthrough]];
    case simd_level::avx2:
#if defined(IVFSTREAM_HAVE_AVX2)
      return k_avx2;
#endif
      [[fallthrough]];
    case simd_level::scalar:
      break;
  }
  return k_scalar;
}

const kernel_table& default_kernels() noexcept {
  static const kernel_table& table = kernels_for(choose_simd_level());
  return table;
}

}  // namespace ivfstream::kernels
