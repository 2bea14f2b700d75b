#pragma once
// Dense single-precision products through oneDNN's matmul primitive, one thread per caller.
#include <cstddef>

namespace ivfstream::kernels {

/// c = a · bᵀ.
///   a : n × d floats, row-major          b : m × d floats, row-major
///   c : n × m floats, row-major (written completely; need not be initialised)
/// n or m may be 0 (nothing is written); d == 0 writes zeros.
///
/// Runs on the calling thread only by default: the OpenMP thread count of the calling thread is set
/// to max_threads (default 1) for the duration of the call and restored afterwards (CAF's scheduler
/// owns the cores; pass more only from a thread that owns spare cores, e.g. offline training).
/// Path: b of up to 2^20 floats (m·d ≤ 1048576, e.g. 256 centroids × 784 or PQ codebooks) goes through a
/// register-tiled SIMD kernel (kernel_table::matmul_nt_small; ignores max_threads), which is 2–5× faster
/// than oneDNN for a few rows (single queries, small insert batches) and within ~2× of it for large
/// batches; larger b goes to oneDNN. The path depends on (m, d) only, so row i of c is the same
/// whatever n and the other rows are (single and batched queries agree bit for bit; tested in
/// tests/kernels/gemm_test.cpp). Numbers: kernels/gemm.cpp. Built without oneDNN
/// (IVFSTREAM_WITH_ONEDNN=OFF: the aarch64 cross build of the kernel tests) every b takes the tiled kernel.
///
/// Cost of the oneDNN path: the first call for a new (n, m, d) shape creates a oneDNN primitive (JIT code
/// generation, measured 0.1–4 ms); oneDNN's own primitive cache (default 1024 entries) makes later
/// calls with the same shape cost a few µs of lookup, plus packing b on every call (~25 µs for
/// 256 × 784), on top of the arithmetic. Callers that loop should use a fixed block size
/// (assign_nearest in kernels/kmeans.hpp does) and batch queries where they can.
///
/// Thread-safety: reentrant; concurrent calls from different threads are safe.
void matmul_nt(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c,
               int max_threads = 1);

}  // namespace ivfstream::kernels
