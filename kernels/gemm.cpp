#include "kernels/gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <dnnl.hpp>

#include "kernels/assert.hpp"
#include "kernels/internal/gemm_onednn.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream::kernels {

namespace {

// For small b (m·d ≤ this) one SIMD dot product per output (kernel_table::inner_product_ny) beats
// oneDNN for a few rows, whose per-call cost includes packing b (AVX-512, 256 × 49: n = 1 1.0 vs 6.3 µs,
// n = 8 7.9 vs 6.7 µs). The choice depends on b's shape only, never on n, so that every row of c is
// computed the same way whatever the batch (single and batched queries agree bit for bit).
constexpr std::size_t k_dot_volume = 16 * 1024;  // m·d

void matmul_nt_dots(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c) {
  const auto& kt = default_kernels();
  for (std::size_t i = 0; i < n; ++i) kt.inner_product_ny(a + i * d, b, m, d, c + i * m);
}

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

}  // namespace

void matmul_nt(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c,
               int max_threads) {
  if (n == 0 || m == 0) return;
  if (d == 0) {
    std::fill(c, c + n * m, 0.f);
    return;
  }
  IVF_ASSERT(a != nullptr && b != nullptr && c != nullptr);
  if (m * d <= k_dot_volume) {
    matmul_nt_dots(a, n, b, m, d, c);
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
    // the dot products give the same result, slower. Exceptions never leave kernels/.
    matmul_nt_dots(a, n, b, m, d, c);
  }
}

}  // namespace detail

}  // namespace ivfstream::kernels
