// Scalar reference of the k-means inner steps and small vector helpers (kernel_table::nearest_from_ip,
// accumulate_f64, add_scaled).
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

}  // namespace ivfstream::kernels::scalar
