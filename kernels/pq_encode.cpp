#include "kernels/pq_encode.hpp"

#include "kernels/assert.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream::kernels {

std::size_t pq_encode_table_size(std::size_t M, std::size_t ksub, std::size_t dsub) noexcept {
  return M * (dsub + 1) * ksub;
}

std::vector<float> pq_encode_table(const float* codebooks, std::size_t M, std::size_t ksub, std::size_t dsub) {
  IVF_ASSERT(M >= 1 && ksub >= 1 && dsub >= 1);
  std::vector<float> table(pq_encode_table_size(M, ksub, dsub));
  for (std::size_t m = 0; m < M; ++m) {
    float* block = table.data() + m * (dsub + 1) * ksub;
    float* norms = block + dsub * ksub;
    for (std::size_t j = 0; j < ksub; ++j) {
      const float* c = codebooks + (m * ksub + j) * dsub;
      float norm = 0.f;
      for (std::size_t t = 0; t < dsub; ++t) {
        block[t * ksub + j] = c[t];
        norm += c[t] * c[t];
      }
      norms[j] = norm;
    }
  }
  return table;
}

void pq_encode(const float* table, const float* x, std::size_t n, std::size_t M, std::size_t dsub,
               std::size_t ksub, std::uint16_t* codes) {
  IVF_ASSERT(M >= 1 && dsub >= 1 && ksub >= 1 && ksub <= 65536);
  if (n == 0) return;
  default_kernels().pq_encode(table, x, n, M, dsub, ksub, codes);
}

}  // namespace ivfstream::kernels
