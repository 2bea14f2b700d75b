// NEON register-tiled a·bᵀ for matmul_nt's small-b path (kernel_table::matmul_nt_small).
// A tile is up to 16 outputs (4 × 4 or 1 × 8 rows × columns), one 4-float FMA chain per output over
// 4-float chunks of d (zero-padded tail), each chain reduced on its own by vaddvq_f32 ((l0 + l1) +
// (l2 + l3)). So every output is computed identically whatever the tile: a row of c never depends on n
// or on the other rows (row-stable, like the x86 variants). 16 accumulators + 8 operands fit the 32
// vector registers of aarch64 (the small loops are fully unrolled so that they stay in registers).
#include <arm_neon.h>

#include "kernels/assert.hpp"
#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/matmul_blocks.hpp"

namespace ivfstream::kernels::neon {

namespace {

inline float32x4_t load_tail(const float* p, std::size_t rem) {
  float buf[4] = {0.f, 0.f, 0.f, 0.f};
  for (std::size_t i = 0; i < rem; ++i) buf[i] = p[i];
  return vld1q_f32(buf);
}

/// Outputs (r, s), r < rows ≤ R, s < cols ≤ S; missing rows/columns repeat the last one (not stored).
template <int R, int S>
void tile(const float* a, std::size_t rows, const float* b, std::size_t cols, std::size_t d, float* c,
          std::size_t ldc) {
  static_assert(R * S <= 16, "at most 16 accumulators");
  IVF_ASSERT(rows >= 1 && rows <= R && cols >= 1 && cols <= S);
  const float* ap[R];
  const float* bp[S];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ap[r] = a + (static_cast<std::size_t>(r) < rows ? r : rows - 1) * d;
  #pragma GCC unroll 16
  for (int s = 0; s < S; ++s) bp[s] = b + (static_cast<std::size_t>(s) < cols ? s : cols - 1) * d;
  float32x4_t acc[R * S];
  #pragma GCC unroll 16
  for (int k = 0; k < R * S; ++k) acc[k] = vdupq_n_f32(0.f);
  std::size_t t = 0;
  for (; t + 4 <= d; t += 4) {
    float32x4_t av[R], bv[S];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = vld1q_f32(ap[r] + t);
    #pragma GCC unroll 16
    for (int s = 0; s < S; ++s) bv[s] = vld1q_f32(bp[s] + t);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int s = 0; s < S; ++s) acc[r * S + s] = vfmaq_f32(acc[r * S + s], av[r], bv[s]);
  }
  if (t < d) {
    float32x4_t av[R], bv[S];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = load_tail(ap[r] + t, d - t);
    #pragma GCC unroll 16
    for (int s = 0; s < S; ++s) bv[s] = load_tail(bp[s] + t, d - t);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int s = 0; s < S; ++s) acc[r * S + s] = vfmaq_f32(acc[r * S + s], av[r], bv[s]);
  }
  float out[R * S];  // reduced with constant indices, so that acc stays in registers
  #pragma GCC unroll 16
  for (int k = 0; k < R * S; ++k) out[k] = vaddvq_f32(acc[k]);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t s = 0; s < cols; ++s) c[r * ldc + s] = out[r * S + s];
}

/// `rows` rows of a times the `cols` rows of b, into c (leading dimension ldc).
template <int R, int S>
void rows_block(const float* a, std::size_t rows, const float* b, std::size_t cols, std::size_t d, float* c,
                std::size_t ldc) {
  for (std::size_t j = 0; j < cols; j += S)
    tile<R, S>(a, rows, b + j * d, cols - j < S ? cols - j : S, d, c + j, ldc);
}

}  // namespace

void matmul_nt_small(const float* a, std::size_t n, const float* b, std::size_t m, std::size_t d, float* c) {
  if (n == 0 || m == 0) return;
  detail::for_each_block(n, m, d, 4, 8, [&](std::size_t i0, std::size_t rows, std::size_t j0, std::size_t cols) {
    const float* bj = b + j0 * d;
    float* cj = c + j0;
    std::size_t i = i0;
    for (; i + 4 <= i0 + rows; i += 4) rows_block<4, 4>(a + i * d, 4, bj, cols, d, cj + i * m, m);
    for (; i < i0 + rows; ++i) rows_block<1, 8>(a + i * d, 1, bj, cols, d, cj + i * m, m);
  });
}

namespace {

/// R rows of a times 4·V full columns of bt, into c. Each output: acc = fma(a[r][k], bt[k][j], acc) for
/// k = 0 .. d−1 from 0 (vfmaq_f32: one rounding), whatever the tile (the x86 files' contract).
template <int R, int V>
void nn_tile(const float* a, std::size_t d, const float* bt, std::size_t m, float* c) {
  float32x4_t acc[R * V];
  #pragma GCC unroll 16
  for (int t = 0; t < R * V; ++t) acc[t] = vdupq_n_f32(0.f);
  for (std::size_t k = 0; k < d; ++k) {
    const float* row = bt + k * m;
    float32x4_t bv[V];
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) bv[v] = vld1q_f32(row + 4 * v);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const float32x4_t ar = vdupq_n_f32(a[r * d + k]);
      #pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[r * V + v] = vfmaq_f32(acc[r * V + v], ar, bv[v]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) vst1q_f32(c + r * m + 4 * v, acc[r * V + v]);
}

}  // namespace

void matmul_nn_small(const float* a, std::size_t n, const float* bt, std::size_t d, std::size_t m, float* c) {
  std::size_t j = 0;
  for (; j + 16 <= m; j += 16) {  // column panels of 16
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) nn_tile<4, 4>(a + i * d, d, bt + j, m, c + i * m + j);
    for (; i < n; ++i) nn_tile<1, 4>(a + i * d, d, bt + j, m, c + i * m + j);
  }
  for (; j < m; ++j)  // last columns one by one, each with the same fused chain (fmaf: one rounding)
    for (std::size_t i = 0; i < n; ++i) {
      float acc = 0.f;
      for (std::size_t k = 0; k < d; ++k) acc = __builtin_fmaf(a[i * d + k], bt[k * m + j], acc);
      c[i * m + j] = acc;
    }
}

}  // namespace ivfstream::kernels::neon
