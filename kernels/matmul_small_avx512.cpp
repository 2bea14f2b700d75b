// AVX-512 register-tiled a·bᵀ for matmul_nt's small-b path (kernel_table::matmul_nt_small).
// A tile is 16 outputs (4 × 4, 2 × 8 or 1 × 16 rows × columns): one FMA chain per output over 16-float
// chunks of d (masked tail), then the 16 accumulators are reduced together by a transposing tree that
// adds, for every output alike, lanes l and l+8, then l and l+4, l and l+2, l and l+1. So each output is
// computed identically whatever the tile shape and position: a row of c never depends on n or on
// the other rows (row stability, tests/kernels/gemm_test.cpp).
#include <immintrin.h>

#include "kernels/assert.hpp"
#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/matmul_blocks.hpp"

namespace ivfstream::kernels::avx512 {

namespace {

/// out[k] = Σ lanes of v[k] (the symmetric tree above), k = 0..15.
inline __m512 reduce16(const __m512* v) {
  __m512 w[8], z[4], y[2];
  #pragma GCC unroll 16
  for (int p = 0; p < 8; ++p)  // [v2p.lo + v2p.hi | v2p+1.lo + v2p+1.hi]
    w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  #pragma GCC unroll 16
  for (int q = 0; q < 4; ++q)  // 128-bit lane j: output 4q + j, 4 partials
    z[q] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  #pragma GCC unroll 16
  for (int r = 0; r < 2; ++r)  // lane j: outputs 8r + j and 8r + 4 + j, 2 partials each
    y[r] = _mm512_add_ps(_mm512_shuffle_ps(z[2 * r], z[2 * r + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(z[2 * r], z[2 * r + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // lane j: outputs j, 4 + j, 8 + j, 12 + j
  const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // element 4j + t holds output j + 4t: transpose back to output order
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, s);
}

/// Outputs (r, s), r < rows ≤ R, s < cols ≤ S, R·S = 16: c[r·ldc + s] = ⟨a_r, b_s⟩ (stride d). Missing
/// rows/columns repeat the last valid one and are not stored.
template <int R, int S>
void tile(const float* a, std::size_t rows, const float* b, std::size_t cols, std::size_t d, float* c,
          std::size_t ldc) {
  static_assert(R * S == 16, "16 outputs per tile");
  IVF_ASSERT(rows >= 1 && rows <= R && cols >= 1 && cols <= S);
  const float* ap[R];
  const float* bp[S];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ap[r] = a + (static_cast<std::size_t>(r) < rows ? r : rows - 1) * d;
  #pragma GCC unroll 16
  for (int s = 0; s < S; ++s) bp[s] = b + (static_cast<std::size_t>(s) < cols ? s : cols - 1) * d;
  __m512 acc[16];
  #pragma GCC unroll 16
  for (int k = 0; k < 16; ++k) acc[k] = _mm512_setzero_ps();
  std::size_t t = 0;
  for (; t + 16 <= d; t += 16) {
    __m512 av[R], bv[S];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = _mm512_loadu_ps(ap[r] + t);
    #pragma GCC unroll 16
    for (int s = 0; s < S; ++s) bv[s] = _mm512_loadu_ps(bp[s] + t);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int s = 0; s < S; ++s) acc[r * S + s] = _mm512_fmadd_ps(av[r], bv[s], acc[r * S + s]);
  }
  if (t < d) {
    const __mmask16 k = static_cast<__mmask16>((1u << (d - t)) - 1u);
    __m512 av[R], bv[S];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = _mm512_maskz_loadu_ps(k, ap[r] + t);
    #pragma GCC unroll 16
    for (int s = 0; s < S; ++s) bv[s] = _mm512_maskz_loadu_ps(k, bp[s] + t);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int s = 0; s < S; ++s) acc[r * S + s] = _mm512_fmadd_ps(av[r], bv[s], acc[r * S + s]);
  }
  alignas(64) float out[16];
  _mm512_store_ps(out, reduce16(acc));
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
  detail::for_each_block(n, m, d, 4, 16, [&](std::size_t i0, std::size_t rows, std::size_t j0, std::size_t cols) {
    const float* bj = b + j0 * d;
    float* cj = c + j0;
    const std::size_t end = i0 + rows;
    std::size_t i = i0;
    for (; i + 4 <= end; i += 4) rows_block<4, 4>(a + i * d, 4, bj, cols, d, cj + i * m, m);
    if (end - i >= 2) {  // 2 or 3 rows left: 3 = 2 + 1
      rows_block<2, 8>(a + i * d, 2, bj, cols, d, cj + i * m, m);
      i += 2;
    }
    if (i < end) rows_block<1, 16>(a + i * d, 1, bj, cols, d, cj + i * m, m);
  });
}

namespace {

/// R rows of a times columns [0, cols) of bt (cols ≤ 16·V), into c. Each output: acc = fma(a[r][k],
/// bt[k][j], acc) for k = 0 .. d−1 from 0, whatever the tile (the AVX2 file's contract).
template <int R, int V, bool Masked>
void nn_tile(const float* a, std::size_t d, const float* bt, std::size_t m, std::size_t cols, float* c) {
  __mmask16 mask[V];
  #pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    const std::ptrdiff_t rem = static_cast<std::ptrdiff_t>(cols) - 16 * v;
    mask[v] = rem >= 16 ? static_cast<__mmask16>(0xffff)
                        : static_cast<__mmask16>(rem <= 0 ? 0u : (1u << rem) - 1u);
  }
  __m512 acc[R * V];
  #pragma GCC unroll 16
  for (int t = 0; t < R * V; ++t) acc[t] = _mm512_setzero_ps();
  for (std::size_t k = 0; k < d; ++k) {
    const float* row = bt + k * m;
    __m512 bv[V];
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) bv[v] = Masked ? _mm512_maskz_loadu_ps(mask[v], row + 16 * v) : _mm512_loadu_ps(row + 16 * v);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * d + k]);
      #pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[r * V + v] = _mm512_fmadd_ps(ar, bv[v], acc[r * V + v]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      if constexpr (Masked) _mm512_mask_storeu_ps(c + r * m + 16 * v, mask[v], acc[r * V + v]);
      else _mm512_storeu_ps(c + r * m + 16 * v, acc[r * V + v]);
    }
}

template <bool Masked>
void nn_columns(const float* a, std::size_t n, const float* bt, std::size_t d, std::size_t m, std::size_t cols,
                float* c) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) nn_tile<4, 2, Masked>(a + i * d, d, bt, m, cols, c + i * m);
  for (; i < n; ++i) nn_tile<1, 2, Masked>(a + i * d, d, bt, m, cols, c + i * m);
}

}  // namespace

void matmul_nn_small(const float* a, std::size_t n, const float* bt, std::size_t d, std::size_t m, float* c) {
  for (std::size_t j = 0; j < m; j += 32) {  // column panels of 32: d × 32 floats of bt stay in L1
    const std::size_t cols = m - j < 32 ? m - j : 32;
    if (cols == 32) nn_columns<false>(a, n, bt + j, d, m, cols, c + j);
    else nn_columns<true>(a, n, bt + j, d, m, cols, c + j);
  }
}

}  // namespace ivfstream::kernels::avx512
