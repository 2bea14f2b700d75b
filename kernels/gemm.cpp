#include "kernels/gemm.hpp"

#include <algorithm>

#if IVFSTREAM_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#endif

#include "kernels/assert.hpp"
#include "kernels/internal/gemm_onednn.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/parallel_for.hpp"

namespace ivfstream::kernels {

namespace {

// matmul_nt always takes the register-tiled kernel (kernel_table::matmul_nt_small), whose rows never
// depend on n. It used to send b above 2^20 floats to oneDNN, on the assumption that oneDNN's rows do
// not depend on n either; on an AVX2-only machine (session 13) they do: oneDNN picks another kernel for
// one row than for a batch, and gemm_test's rows_do_not_depend_on_batch_size failed for 1100 × 1000.
// Measured on AVX2, 1 thread (tiled vs oneDNN, bench/kernels_bench --matmul):
//   256 × 784, n = 1: 14 vs 18-22 µs; n = 64: 405-411 vs 300-310 µs (4 × 2 tiles)
//   256 × 49,  n = 1: 0.9-1.2 vs 6.5-8 µs; n = 64: 70-77 vs 23-33 µs
//   1024 × 128, n = 64: 477-484 vs 229-247 µs
// i.e. far better for the few-row products of query planning and encoding, within ~2× for batches.
// Lloyd iterations, which need no row stability, call detail::matmul_nt_onednn directly (kmeans.cpp).
// With max_threads > 1 and b above 2^20 floats (where oneDNN used to run multi-threaded) the rows are
// split into blocks computed on parallel_for threads (rows are independent: the results do not change).
// Smaller products stay on the calling thread, as before: starting threads per call cost more than they
// saved in training's many small assignment calls (train 1.86 → 2.1-2.3 s on Fashion-MNIST when every
// product with max_threads > 1 was split).
constexpr std::size_t k_rows_per_thread_block = 64;
constexpr std::size_t k_threaded_min_b = std::size_t{1} << 20;  // m·d

void matmul_nt_tiled(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c) {
  default_kernels().matmul_nt_small(a, n, b, m, d, c);
}

#if IVFSTREAM_HAVE_ONEDNN
/// Restores the calling thread's OpenMP thread count on scope exit.
class omp_thread_scope {
 public:
  explicit omp_thread_scope(int threads) : previous_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~omp_thread_scope() { omp_set_num_threads(previous_); }
  omp_thread_scope(const omp_thread_scope&) = delete;
  omp_thread_scope& operator=(const omp_thread_scope&) = delete;

 private:
  int previous_;
};

const dnnl::engine& cpu_engine() {
  // Created once, never modified afterwards; dnnl::engine is safe to share between threads.
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}
#endif

}  // namespace

void matmul_nt(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c,
               int max_threads) {
  if (n == 0 || m == 0) return;
  if (d == 0) {
    std::fill(c, c + n * m, 0.f);
    return;
  }
  IVF_ASSERT(a != nullptr && b != nullptr && c != nullptr);
  const int threads = max_threads < 1 ? 1 : max_threads;
  if (threads == 1 || n <= k_rows_per_thread_block || m * d <= k_threaded_min_b) {
    matmul_nt_tiled(a, n, b, m, d, c);
    return;
  }
  const std::size_t blocks = (n + k_rows_per_thread_block - 1) / k_rows_per_thread_block;
  parallel_for(blocks, threads, [&](std::size_t blk) {
    const std::size_t i0 = blk * k_rows_per_thread_block;
    matmul_nt_tiled(a + i0 * d, std::min(k_rows_per_thread_block, n - i0), b, m, d, c + i0 * m);
  });
}

namespace detail {

void matmul_nt_onednn(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c,
                      int max_threads) {
  if (n == 0 || m == 0) return;
  if (d == 0) {
    std::fill(c, c + n * m, 0.f);
    return;
  }
#if !IVFSTREAM_HAVE_ONEDNN
  // built without oneDNN (the aarch64 cross build of the kernel tests): the tiled kernel for every b
  static_cast<void>(max_threads);
  matmul_nt_tiled(a, n, b, m, d, c);
#else
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const auto N = static_cast<dnnl::memory::dim>(n), M = static_cast<dnnl::memory::dim>(m),
             D = static_cast<dnnl::memory::dim>(d);
  omp_thread_scope threads(max_threads < 1 ? 1 : max_threads);
  try {
  const auto& engine = cpu_engine();
  const dnnl::memory::desc src_md(dims{N, D}, dt::f32, tag::ab);
  const dnnl::memory::desc wei_md(dims{D, M}, dt::f32, tag::ba);  // b is m × d row-major = (d × m)ᵀ
  const dnnl::memory::desc dst_md(dims{N, M}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, wei_md, dst_md), engine);
  const dnnl::matmul prim(pd);
  dnnl::memory src_mem(src_md, engine, const_cast<float*>(a));
  dnnl::memory wei_mem(wei_md, engine, const_cast<float*>(b));
  dnnl::memory dst_mem(dst_md, engine, c);
  dnnl::stream stream(engine);
  prim.execute(stream, {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}});
  stream.wait();
  } catch (const dnnl::error&) {
    // oneDNN could not create or run the primitive (e.g. out of memory for its scratchpad):
    // the tiled kernel gives the same result up to rounding. Exceptions never leave kernels/.
    matmul_nt_tiled(a, n, b, m, d, c);
  }
#endif
}

}  // namespace detail

}  // namespace ivfstream::kernels
