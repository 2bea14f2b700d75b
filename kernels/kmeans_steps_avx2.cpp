// AVX2 k-means inner steps; bit-identical to kmeans_steps_scalar.cpp, ties to the lowest index.
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::avx2 {

void nearest_from_ip(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,
                     std::uint32_t* labels, float* best) {
  const __m256 two = _mm256_set1_ps(2.f);
  const __m256i eight = _mm256_set1_epi32(8);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = ip + r * k;
    if (k < 8) {
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    __m256 bv = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256i bi = _mm256_setzero_si256();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    std::size_t j = 0;
    for (; j + 8 <= k; j += 8, idx = _mm256_add_epi32(idx, eight)) {
      const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(c_norms + j), _mm256_mul_ps(two, _mm256_loadu_ps(row + j)));
      const __m256 lt = _mm256_cmp_ps(v, bv, _CMP_LT_OQ);
      bv = _mm256_blendv_ps(bv, v, lt);
      bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), lt));
    }
    alignas(32) float vals[8];
    alignas(32) std::uint32_t ids[8];
    _mm256_store_ps(vals, bv);
    _mm256_store_si256(reinterpret_cast<__m256i*>(ids), bi);
    float b = vals[0];
    std::uint32_t bj = ids[0];
    for (int l = 1; l < 8; ++l)
      if (vals[l] < b || (vals[l] == b && ids[l] < bj)) {
        b = vals[l];
        bj = ids[l];
      }
    for (; j < k; ++j) {  // tail: larger indices, so strict < keeps the lowest index on ties
      const float v = c_norms[j] - 2.f * row[j];
      if (v < b) {
        b = v;
        bj = static_cast<std::uint32_t>(j);
      }
    }
    if (b != b) {  // NaNs: the scalar definition
      scalar::nearest_from_ip(row, 1, k, c_norms, labels + r, best + r);
      continue;
    }
    labels[r] = bj;
    best[r] = b;
  }
}

void accumulate_f64(double* acc, const float* x, std::size_t d) {
  std::size_t t = 0;
  for (; t + 4 <= d; t += 4)
    _mm256_storeu_pd(acc + t, _mm256_add_pd(_mm256_loadu_pd(acc + t), _mm256_cvtps_pd(_mm_loadu_ps(x + t))));
  for (; t < d; ++t) acc[t] += x[t];
}

void add_scaled(const float* a, float alpha, const float* b, std::size_t n, float* out) {
  const __m256 s = _mm256_set1_ps(alpha);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(s, _mm256_loadu_ps(b + i), _mm256_loadu_ps(a + i)));
  for (; i < n; ++i) out[i] = std::fma(alpha, b[i], a[i]);
}

}  // namespace ivfstream::kernels::avx2
