#pragma once
// Cache blocking shared by the register-tiled matmul_nt_small kernels (matmul_small_<isa>.cpp).
//
// c = a·bᵀ is cut into blocks of rows of a × columns of c (= rows of b), at most k_row_block_bytes of a
// and k_col_block_bytes of b each, visited row block by row block, column block by column block inside:
// a column block of b stays in L2 while every row of the row block passes, and the row block stays in
// L2 across the column blocks. Unblocked, every group of rows of a streams all of b (256 × 784 floats =
// 784 KiB at Fashion-MNIST's coarse quantizer) from L3. Measured at the sizes of query planning
// (kernels_bench --matmul, AVX2, session 13) the blocking was within the machine's noise: it is kept
// because it bounds the working set for the larger b that matmul_nt now also takes (up to any size).
//
// Blocking changes only the order in which outputs are produced: each output is still one FMA chain over
// d followed by its own reduction (see the kernel files), so the results are bit for bit those of the
// unblocked loop, and a row of c still never depends on n (row-stable).
#include <algorithm>
#include <cstddef>

namespace ivfstream::kernels::detail {

/// Bytes of a (rows × d floats) and of b (columns × d floats) per block: both fit in a 256 KiB L2 with
/// room for c and the stack; L2 on the x86 machines this targets is 512 KiB to 2 MiB.
constexpr std::size_t k_row_block_bytes = std::size_t{96} << 10;
constexpr std::size_t k_col_block_bytes = std::size_t{96} << 10;

/// Calls block(i0, rows, j0, cols) over the blocks of an n × m product with inner dimension d, rows of a
/// in blocks of a multiple of `row_unit`, columns in blocks of a multiple of `col_unit` (the kernels'
/// tile sizes, so that tiles never straddle a block boundary except at the end of c).
template <class Block>
void for_each_block(std::size_t n, std::size_t m, std::size_t d, std::size_t row_unit, std::size_t col_unit,
                    Block&& block) {
  const std::size_t row_bytes = std::max<std::size_t>(d, 1) * sizeof(float);
  const std::size_t rows = std::max(row_unit, k_row_block_bytes / row_bytes / row_unit * row_unit);
  const std::size_t cols = std::max(col_unit, k_col_block_bytes / row_bytes / col_unit * col_unit);
  for (std::size_t i0 = 0; i0 < n; i0 += rows)
    for (std::size_t j0 = 0; j0 < m; j0 += cols) block(i0, std::min(rows, n - i0), j0, std::min(cols, m - j0));
}

}  // namespace ivfstream::kernels::detail
