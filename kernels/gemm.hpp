#pragma once
// Dense single-precision products a·bᵀ with rows that do not depend on the batch (query planning, assignment).
#include <cstddef>

namespace ivfstream::kernels {

/// c = a · bᵀ.
///   a : n × d floats, row-major          b : m × d floats, row-major
///   c : n × m floats, row-major (written completely; need not be initialised)
/// n or m may be 0 (nothing is written); d == 0 writes zeros.
///
/// Runs on the calling thread only by default; with max_threads > 1 and b above 2^20 floats, blocks of
/// 64 rows are computed on up to max_threads threads (kernels/parallel_for.hpp: offline work only,
/// never inside an actor).
/// Path: a register-tiled SIMD kernel for every shape (kernel_table::matmul_nt_small), cache-blocked
/// (kernels/internal/matmul_blocks.hpp). Row i of c is the same whatever n, the other rows and the
/// thread count (row-stable: single and batched queries, and vectors added one by one or in bulk, get
/// the same products bit for bit; tested in tests/kernels/gemm_test.cpp). It is 2-7× faster than
/// oneDNN for a few rows (single queries, small insert batches) and within ~2× of it for large batches
/// (numbers: kernels/gemm.cpp). oneDNN's matmul is not row-stable on every machine (AVX2: another
/// kernel for one row), so it is used only where that does not matter: detail::matmul_nt_onednn, for
/// the Lloyd iterations of k-means (kernels/internal/gemm_onednn.hpp).
///
/// Thread-safety: reentrant; concurrent calls from different threads are safe.
void matmul_nt(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c,
               int max_threads = 1);

}  // namespace ivfstream::kernels
