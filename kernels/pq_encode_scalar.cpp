// Scalar reference of kernel_table::pq_encode (definition in kernels/internal/pq_encode_scan.hpp).
#include <limits>

#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/pq_encode_scan.hpp"

namespace ivfstream::kernels::scalar {

void pq_encode(const float* table, const float* x, std::size_t n, std::size_t M, std::size_t dsub,
               std::size_t ksub, std::uint16_t* codes) {
  const std::size_t d = M * dsub;
  for (std::size_t m = 0; m < M; ++m) {
    const float* block = table + m * (dsub + 1) * ksub;
    for (std::size_t i = 0; i < n; ++i) {
      float best = std::numeric_limits<float>::infinity();
      std::uint32_t label = 0;
      pq_encode_scan(x + i * d + m * dsub, block, ksub, dsub, 0, best, label);
      codes[i * M + m] = static_cast<std::uint16_t>(label);
    }
  }
}

}  // namespace ivfstream::kernels::scalar
