#pragma once
// Memory accounting of an ivfpq_index, split by what a deployment sizes separately.
#include <cstddef>

namespace ivfstream {

/// Bytes held by one index. The index's own resident cost per vector is code_bytes + id_bytes
/// (code_size + 8 bytes per slot); the id map, the codebooks and the (memory-mapped, page-cache
/// backed) vector store are reported apart.
struct memory_stats {
  std::size_t vectors = 0;                  ///< live entries (ids searchable)
  std::size_t slots = 0;                    ///< list slots, live + tombstoned
  std::size_t code_bytes = 0;               ///< slots × code_size: packed PQ codes
  std::size_t id_bytes = 0;                 ///< slots × 8: ids stored beside the codes
  std::size_t tombstone_bytes = 0;          ///< live/tombstone bitmaps (1 bit per slot, in u64 words)
  std::size_t row_bytes = 0;                ///< slots × 8: vector_store rows beside the ids (only with raw vectors, for refine)
  std::size_t list_capacity_bytes = 0;      ///< what the lists' vectors actually allocate (≥ the three above)
  std::size_t id_map_bytes = 0;             ///< id → location hash map (approximate: nodes + buckets)
  std::size_t codebook_bytes = 0;           ///< centroids, PQ codebooks, precomputed tables
  std::size_t vector_store_used_bytes = 0;  ///< raw vector rows written (incl. rows of replaced vectors)
  std::size_t vector_store_mapped_bytes = 0;///< segment files mapped (virtual; resident only as touched)

  /// (code_bytes + id_bytes) / vectors; 0 for an empty index. Equals code_size + 8 without tombstones.
  double resident_bytes_per_vector() const noexcept {
    return vectors == 0 ? 0.0 : double(code_bytes + id_bytes) / double(vectors);
  }
};

}  // namespace ivfstream
