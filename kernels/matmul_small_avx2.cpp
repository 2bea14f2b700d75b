// AVX2 register-tiled a·bᵀ for matmul_nt's small-b path (kernel_table::matmul_nt_small).
// A tile is 8 outputs (4 × 2, 2 × 4 or 1 × 8 rows × columns; 4 × 2 first: four rows of a stay in L1
// while b streams from L2 half as often as with 2 × 4 — 256 × 784 at n = 64: 538 → 405 µs): one FMA
// chain per output over 8-float chunks of d (zero-padded tail, read with a masked load), then the 8
// accumulators are reduced together by a transposing tree that adds, for every output alike, lanes l
// and l+4, then l and l+2, then l and l+1. So each output is computed identically whatever the tile: a
// row of c never depends on n or on the other rows.
#include <immintrin.h>

#include "kernels/assert.hpp"
#include "kernels/internal/isa_kernels.hpp"
#include "kernels/internal/matmul_blocks.hpp"

namespace ivfstream::kernels::avx2 {

namespace {

/// out[k] = Σ lanes of v[k], k = 0..7.
inline __m256 reduce8(const __m256* v) {
  __m256 w[4], z[2];
  #pragma GCC unroll 16
  for (int p = 0; p < 4; ++p)  // 128-bit lane j: output 2p + j, 4 partials
    w[p] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x20),
                         _mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x31));
  #pragma GCC unroll 16
  for (int q = 0; q < 2; ++q)  // lane j: outputs 4q + j and 4q + 2 + j, 2 partials each
    z[q] = _mm256_add_ps(_mm256_shuffle_ps(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // lane j: outputs j, 2 + j, 4 + j, 6 + j
  const __m256 s = _mm256_add_ps(_mm256_shuffle_ps(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm256_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // element 4j + t holds output j + 2t
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  return _mm256_permutevar8x32_ps(s, order);
}

/// Lanes [0, rem) set, 0 < rem < 8.
inline __m256i tail_mask(std::size_t rem) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Outputs (r, s), r < rows ≤ R, s < cols ≤ S, R·S = 8 (see the AVX-512 file).
template <int R, int S>
void tile(const float* a, std::size_t rows, const float* b, std::size_t cols, std::size_t d, float* c,
          std::size_t ldc) {
  static_assert(R * S == 8, "8 outputs per tile");
  IVF_ASSERT(rows >= 1 && rows <= R && cols >= 1 && cols <= S);
  const float* ap[R];
  const float* bp[S];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ap[r] = a + (static_cast<std::size_t>(r) < rows ? r : rows - 1) * d;
  #pragma GCC unroll 16
  for (int s = 0; s < S; ++s) bp[s] = b + (static_cast<std::size_t>(s) < cols ? s : cols - 1) * d;
  __m256 acc[8];
  #pragma GCC unroll 16
  for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
  std::size_t t = 0;
  for (; t + 8 <= d; t += 8) {
    __m256 av[R], bv[S];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = _mm256_loadu_ps(ap[r] + t);
    #pragma GCC unroll 16
    for (int s = 0; s < S; ++s) bv[s] = _mm256_loadu_ps(bp[s] + t);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int s = 0; s < S; ++s) acc[r * S + s] = _mm256_fmadd_ps(av[r], bv[s], acc[r * S + s]);
  }
  if (t < d) {
    // Masked lanes read as 0.0f and fault on nothing, like the zero-padded buffer this replaced (the
    // scalar copy into it stalled on store forwarding: d = 49, the PQ tables of Fashion-MNIST, ran at
    // 9.5 GFLOP/s).
    const __m256i k = tail_mask(d - t);
    __m256 av[R], bv[S];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = _mm256_maskload_ps(ap[r] + t, k);
    #pragma GCC unroll 16
    for (int s = 0; s < S; ++s) bv[s] = _mm256_maskload_ps(bp[s] + t, k);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int s = 0; s < S; ++s) acc[r * S + s] = _mm256_fmadd_ps(av[r], bv[s], acc[r * S + s]);
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, reduce8(acc));
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
    const std::size_t end = i0 + rows;
    std::size_t i = i0;
    for (; i + 4 <= end; i += 4) rows_block<4, 2>(a + i * d, 4, bj, cols, d, c + i * m + j0, m);
    for (; i + 2 <= end; i += 2) rows_block<2, 4>(a + i * d, 2, bj, cols, d, c + i * m + j0, m);
    if (i < end) rows_block<1, 8>(a + i * d, 1, bj, cols, d, c + i * m + j0, m);
  });
}

namespace {

/// Lanes [0, rem) set; rem ≤ 0 sets none, rem ≥ 8 all.
inline __m256i lanes_below(std::ptrdiff_t rem) {
  const int r = static_cast<int>(rem < 0 ? 0 : (rem > 8 ? 8 : rem));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// R rows of a times columns [0, cols) of bt (cols ≤ 8·V; Masked when cols < 8·V), into c. Each
/// output: acc = fma(a[r][k], bt[k][j], acc) for k = 0 .. d−1 from 0, whatever the tile.
template <int R, int V, bool Masked>
void nn_tile(const float* a, std::size_t d, const float* bt, std::size_t m, std::size_t cols, float* c) {
  __m256i mask[V];
  if constexpr (Masked) {
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) mask[v] = lanes_below(static_cast<std::ptrdiff_t>(cols) - 8 * v);
  }
  __m256 acc[R * V];
  #pragma GCC unroll 16
  for (int t = 0; t < R * V; ++t) acc[t] = _mm256_setzero_ps();
  for (std::size_t k = 0; k < d; ++k) {
    const float* row = bt + k * m;
    __m256 bv[V];
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) bv[v] = Masked ? _mm256_maskload_ps(row + 8 * v, mask[v]) : _mm256_loadu_ps(row + 8 * v);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r * d + k);
      #pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[r * V + v] = _mm256_fmadd_ps(ar, bv[v], acc[r * V + v]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      if constexpr (Masked) _mm256_maskstore_ps(c + r * m + 8 * v, mask[v], acc[r * V + v]);
      else _mm256_storeu_ps(c + r * m + 8 * v, acc[r * V + v]);
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
  // Column panels of 16 (d × 16 floats of bt stay in L1 while every row of a passes).
  for (std::size_t j = 0; j < m; j += 16) {
    const std::size_t cols = m - j < 16 ? m - j : 16;
    if (cols == 16) nn_columns<false>(a, n, bt + j, d, m, cols, c + j);
    else nn_columns<true>(a, n, bt + j, d, m, cols, c + j);
  }
}

}  // namespace ivfstream::kernels::avx2
