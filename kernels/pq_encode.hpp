#pragma once
// Product-quantiser encoding: the nearest sub-centroid of every sub-vector (kernel_table::pq_encode),
// and the transposed table that kernel reads.
//
// Layouts:
//   codebooks : M × ksub × dsub floats, row-major (FAISS (M, ksub, dsub)): centroid j of sub-space m at
//               codebooks[(m·ksub + j)·dsub]
//   table     : pq_encode_table_size(M, ksub, dsub) floats = M blocks of (dsub + 1) × ksub floats. Block m
//               starts at m·(dsub + 1)·ksub; its row t < dsub holds coordinate t of every centroid
//               (table[(m·(dsub + 1) + t)·ksub + j] = codebooks[(m·ksub + j)·dsub + t]) and its row dsub
//               holds ‖c_j‖² (coordinates squared and added in t order)
//   x         : n × (M·dsub) floats, row-major (sub-vector m of row i at x[i·M·dsub + m·dsub])
//   codes     : n × M uint16, codes[i·M + m] = sub-code of sub-vector m of row i (unpacked; see
//               kernels/pq_codes.hpp pack_codes)
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream::kernels {

/// Floats of the table for M sub-spaces of ksub centroids of dsub floats: M·(dsub + 1)·ksub.
std::size_t pq_encode_table_size(std::size_t M, std::size_t ksub, std::size_t dsub) noexcept;

/// Builds the table (layout above) from codebooks. @pre M, ksub, dsub >= 1. Thread-safe (pure).
std::vector<float> pq_encode_table(const float* codebooks, std::size_t M, std::size_t ksub, std::size_t dsub);

/// codes[i·M + m] = argmin_j e_j over the ksub centroids of sub-space m, where
/// e_j = ‖c_j‖² − 2·⟨x_i,m, c_j⟩ (the squared distance less ‖x_i,m‖²); ties go to the lowest j, a NaN
/// score is never chosen (all NaN or +inf: 0). Through default_kernels().pq_encode: the same codes at
/// every SIMD level (see kernel_table.hpp). @pre M, dsub >= 1, 1 <= ksub <= 65536; table built for the
/// same (M, ksub, dsub). Thread-safe (pure).
void pq_encode(const float* table, const float* x, std::size_t n, std::size_t M, std::size_t dsub,
               std::size_t ksub, std::uint16_t* codes);

}  // namespace ivfstream::kernels
