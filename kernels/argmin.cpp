#include "kernels/argmin.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace ivfstream::kernels {

namespace {

/// First minimum of one row (strict <).
std::uint16_t argmin_portable(const float* p, std::size_t cols) noexcept {
  std::size_t best = 0;
  for (std::size_t c = 1; c < cols; ++c)
    if (p[c] < p[best]) best = c;
  return static_cast<std::uint16_t>(best);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) void argmin_avx2(const float* x, std::size_t rows, std::size_t cols,
                                                 std::uint16_t* out) noexcept {
  // Eight running minima (lane j sees columns ≡ j mod 8; strict < keeps a lane's earliest column),
  // then the smallest value with the smallest column: the row's first minimum.
  for (std::size_t r = 0; r < rows; ++r) {
    const float* p = x + r * cols;
    if (cols % 8 != 0) {
      out[r] = argmin_portable(p, cols);
      continue;
    }
    __m256 best = _mm256_loadu_ps(p);
    __m256i best_idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i idx = best_idx;
    const __m256i step = _mm256_set1_epi32(8);
    for (std::size_t c = 8; c < cols; c += 8) {
      idx = _mm256_add_epi32(idx, step);
      const __m256 v = _mm256_loadu_ps(p + c);
      const __m256 lt = _mm256_cmp_ps(v, best, _CMP_LT_OQ);
      best = _mm256_blendv_ps(best, v, lt);
      best_idx = _mm256_blendv_epi8(best_idx, idx, _mm256_castps_si256(lt));
    }
    alignas(32) float bv[8];
    alignas(32) std::int32_t bi[8];
    _mm256_store_ps(bv, best);
    _mm256_store_si256(reinterpret_cast<__m256i*>(bi), best_idx);
    int k = 0;
    for (int j = 1; j < 8; ++j)
      if (bv[j] < bv[k] || (bv[j] == bv[k] && bi[j] < bi[k])) k = j;
    out[r] = static_cast<std::uint16_t>(bi[k]);
  }
}
#endif

void argmin_generic(const float* x, std::size_t rows, std::size_t cols, std::uint16_t* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r) out[r] = argmin_portable(x + r * cols, cols);
}

using argmin_fn = void (*)(const float*, std::size_t, std::size_t, std::uint16_t*) noexcept;

argmin_fn pick() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2")) return &argmin_avx2;
#endif
  return &argmin_generic;
}

}  // namespace

void argmin_rows(const float* x, std::size_t rows, std::size_t cols, std::uint16_t* out) noexcept {
  static const argmin_fn fn = pick();  // immutable after its thread-safe initialisation
  fn(x, rows, cols, out);
}

}  // namespace ivfstream::kernels
