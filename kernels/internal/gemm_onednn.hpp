#pragma once
// Private to kernels/: the oneDNN path of matmul_nt without the small-b dot-product path, for callers
// that multiply many rows with a fixed block size and need no row stability across batch sizes (the
// Lloyd iterations of kmeans()). Same contract as matmul_nt otherwise.
#include <cstddef>

namespace ivfstream::kernels::detail {

void matmul_nt_onednn(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c,
                      int max_threads);

}  // namespace ivfstream::kernels::detail
