// Scalar reference of the k-means inner steps and small vector helpers (kernel_table::nearest_from_ip,
// accumulate_f64, add_scaled, kmeanspp_update).
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::scalar {

void nearest_from_ip(const float* ip, std::size_t rows, std::size_t k, const float* c_norms,
                     std::uint32_t* labels, float* best) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = ip + r * k;
    float b = c_norms[0] - 2.f * row[0];
    std::uint32_t bj = 0;
    for (std::size_t j = 1; j < k; ++j) {
      const float v = c_norms[j] - 2.f * row[j];
      if (v < b) {
        b = v;
        bj = static_cast<std::uint32_t>(j);
      }
    }
    labels[r] = bj;
    best[r] = b;
  }
}

void accumulate_f64(double* acc, const float* x, std::size_t d) {
  for (std::size_t t = 0; t < d; ++t) acc[t] += x[t];
}

void add_scaled(const float* a, float alpha, const float* b, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + alpha * b[i];
}

void kmeanspp_update(const float* xt, std::size_t n, std::size_t d, const float* c, float* min_d,
                     float* block_sums) {
  constexpr std::size_t block = 256;
  float acc[block];
  for (std::size_t i0 = 0, b = 0; i0 < n; i0 += block, ++b) {
    const std::size_t len = n - i0 < block ? n - i0 : block;
    for (std::size_t j = 0; j < len; ++j) acc[j] = 0.f;
    for (std::size_t t = 0; t < d; ++t) {
      const float* x = xt + t * n + i0;
      const float ct = c[t];
      for (std::size_t j = 0; j < len; ++j) {
        const float diff = x[j] - ct;
        acc[j] = acc[j] + diff * diff;
      }
    }
    float sum = 0.f;
    for (std::size_t j = 0; j < len; ++j) {
      float& m = min_d[i0 + j];
      m = acc[j] < m ? acc[j] : m;
      sum += m;
    }
    block_sums[b] = sum;
  }
}

}  // namespace ivfstream::kernels::scalar
