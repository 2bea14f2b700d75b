// Scalar reference distances: the definition every ISA variant is tested against.
#include "kernels/internal/isa_kernels.hpp"

namespace ivfstream::kernels::scalar {

float l2sqr(const float* a, const float* b, std::size_t d) {
  float s = 0.f;
  for (std::size_t i = 0; i < d; ++i) {
    const float t = a[i] - b[i];
    s += t * t;
  }
  return s;
}

float inner_product(const float* a, const float* b, std::size_t d) {
  float s = 0.f;
  for (std::size_t i = 0; i < d; ++i) s += a[i] * b[i];
  return s;
}

void l2sqr_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = l2sqr(x, y + j * d, d);
}

void inner_product_ny(const float* x, const float* y, std::size_t ny, std::size_t d, float* out) {
  for (std::size_t j = 0; j < ny; ++j) out[j] = inner_product(x, y + j * d, d);
}

void matmul_nt_small(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c) {
  for (std::size_t i = 0; i < n; ++i) inner_product_ny(a + i * d, b, m, d, c + i * m);
}

void matmul_nn_small(const float* a, std::size_t n, const float* bt, std::size_t d, std::size_t m, float* c) {
  for (std::size_t i = 0; i < n; ++i) {
    float* ci = c + i * m;
    for (std::size_t j = 0; j < m; ++j) ci[j] = 0.f;
    for (std::size_t k = 0; k < d; ++k) {
      const float aik = a[i * d + k];
      const float* row = bt + k * m;
      for (std::size_t j = 0; j < m; ++j) ci[j] += aik * row[j];
    }
  }
}

}  // namespace ivfstream::kernels::scalar
