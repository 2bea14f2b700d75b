#pragma once
// Readers for the vector file formats used by ANN benchmarks and bulk loads:
//   .fvecs  per row: int32 dim (little-endian), then dim float32
//   .ivecs  per row: int32 dim, then dim int32 (ground-truth ids)
//   .bvecs  per row: int32 dim, then dim uint8
//   .npy    NumPy format 1.0/2.0/3.0: magic, header dict {'descr', 'fortran_order', 'shape'}, C-order data
// Every reader checks the whole layout before trusting it (magic, a plausible dimension, every row's
// dimension, the file size a whole number of rows) and returns an error naming the file, the offending
// value and what was expected; a truncated or foreign file never crashes and never yields partial data.
// Only little-endian hosts are supported (the formats are little-endian; a static_assert guards this).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "index/error.hpp"

namespace ivfstream::connectors {

/// Largest dimension a reader accepts; a first int32 above it means a foreign or corrupt file.
inline constexpr std::size_t k_max_file_dimension = std::size_t{1} << 20;

/// A dense row-major matrix read from a file. Layout: rows × dim values, row i at values[i·dim].
/// A plain value type; not synchronised (share it read-only between threads).
template <class T>
struct dense_matrix {
  std::size_t rows = 0;      ///< number of rows read
  std::size_t dim = 0;       ///< values per row
  std::vector<T> values;     ///< rows × dim, row-major

  /// Pointer to row i. @pre i < rows.
  const T* row(std::size_t i) const { return values.data() + i * dim; }
  /// Pointer to row i. @pre i < rows.
  T* row(std::size_t i) { return values.data() + i * dim; }
};

/// Reads an .fvecs file. max_rows = 0 reads all rows, else at most max_rows (the file is still checked
/// to hold a whole number of rows). Errors: not_found / io_error (open/read), corrupt_data (dimension 0 or
/// above k_max_file_dimension, inconsistent row dimensions, truncated last row, empty file).
result<dense_matrix<float>> read_fvecs(const std::string& path, std::size_t max_rows = 0);

/// Reads an .ivecs file (e.g. ground-truth ids, nearest first). Same contract as read_fvecs.
result<dense_matrix<std::int32_t>> read_ivecs(const std::string& path, std::size_t max_rows = 0);

/// Reads a .bvecs file (uint8 components). Same contract as read_fvecs.
result<dense_matrix<std::uint8_t>> read_bvecs(const std::string& path, std::size_t max_rows = 0);

/// Reads a 1-D or 2-D C-order .npy array and converts it to float32. Accepted dtypes: <f4, <f8, |u1,
/// |i1, <u2, <i2, <u4, <i4 ('<' or '=' byte order; '|' for one byte). A 1-D array of length n reads as
/// n rows of dim 1. Errors: not_found / io_error; corrupt_data (bad magic, malformed header, data shorter
/// than the shape says); invalid_argument (fortran_order True, a dtype outside the list, big-endian,
/// more than 2 dimensions).
result<dense_matrix<float>> read_npy(const std::string& path, std::size_t max_rows = 0);

/// Reads vectors as float32 from a file whose extension picks the format: .fvecs, .bvecs (converted) or
/// .npy. Any other extension is invalid_argument naming the path and the allowed extensions.
result<dense_matrix<float>> read_vectors(const std::string& path, std::size_t max_rows = 0);

}  // namespace ivfstream::connectors
