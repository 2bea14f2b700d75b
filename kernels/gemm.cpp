#include "kernels/gemm.hpp"

#include <algorithm>

#if IVFSTREAM_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#endif

#include "kernels/assert.hpp"
#include "kernels/internal/gemm_onednn.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream::kernels {

namespace {

// b up to this many floats (4 MiB) goes through the register-tiled kernel
// (kernel_table::matmul_nt_small), larger b to oneDNN. Measured on AVX-512, 1 thread (tiled vs oneDNN):
//   256 × 784, n = 1: 8.5 vs 39 µs; n = 64: 258 vs 172 µs      256 × 49, n = 1: 0.8 vs 6.3; n = 64: 27 vs 15
//   1024 × 128, n = 1: 7.7 vs 21 µs; n = 64: 204 vs 104 µs     4096 × 8, n = 1: 6.3 vs 11; n = 64: 258 vs 67
// i.e. far better for the few-row products of query planning and encoding, within ~2× for batches;
// Lloyd iterations (many rows) call oneDNN directly. The choice depends on b's shape only, never on n,
// so every row of c is computed the same way whatever the batch (single and batched queries agree
// bit for bit).
constexpr std::size_t k_tiled_max_b = std::size_t{1} << 20;  // m·d

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
  if (m * d <= k_tiled_max_b) {
    matmul_nt_tiled(a, n, b, m, d, c);
    return;
  }
  detail::matmul_nt_onednn(a, n, b, m, d, c, max_threads);
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
