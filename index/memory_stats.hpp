#pragma once
// Memory accounting of an ivfpq_index, split by what a deployment sizes separately.
#include <cstddef>

namespace ivfstream {

/// Bytes held by one index, measured from what the lists hold (inverted_list::used_*_bytes), not computed
/// from a formula. The index's own resident cost per vector is codes + ids + per-entry ADC terms +
/// tombstone bits (resident_bytes_per_vector: at M = 16 4-bit with increasing ids per list 8 + ~4.3 +
/// 0 + 0.125 B; 8-bit l2/cosine lists add 4 B of term per entry, codebook_set::entry_terms); the
/// lists' vector_store rows (only with raw vectors), the id map, the codebooks and the (memory-mapped,
/// page-cache backed) vector store are reported apart.
struct memory_stats {
  std::size_t vectors = 0;                  ///< live entries (ids searchable)
  std::size_t slots = 0;                    ///< list slots, live + tombstoned
  std::size_t code_bytes = 0;               ///< PQ codes: row-major, or only fast-scan blocks for 4-bit lists
  std::size_t id_bytes = 0;                 ///< ids beside the codes (index/delta_column.hpp: ~4.25 B/slot, 8.25 when a block spans ≥ 2³²)
  std::size_t term_bytes = 0;               ///< per-entry ADC terms (4 B/slot where codebook_set::entry_terms)
  std::size_t tombstone_bytes = 0;          ///< live/tombstone bitmaps (1 bit per slot, in u64 words)
  std::size_t row_bytes = 0;                ///< vector_store rows beside the ids (only with raw vectors, for refine; a delta_column too)
  std::size_t list_capacity_bytes = 0;      ///< what the lists' arrays allocate (≥ the four above)
  std::size_t id_map_bytes = 0;             ///< id → location map (id_map::memory_bytes)
  std::size_t codebook_bytes = 0;           ///< centroids, PQ codebooks, precomputed tables
  std::size_t vector_store_used_bytes = 0;  ///< raw vector rows written (incl. rows of replaced vectors)
  std::size_t vector_store_mapped_bytes = 0;///< segments mapped, files or anonymous memory (virtual: resident as touched, 2 MiB at a time under THP)

  /// (code_bytes + id_bytes + term_bytes + tombstone_bytes) / vectors: the index "with ids"; 0 for an
  /// empty index.
  double resident_bytes_per_vector() const noexcept {
    return per_vector(code_bytes + id_bytes + term_bytes + tombstone_bytes);
  }
  /// resident_bytes_per_vector plus the lists' vector_store rows.
  double list_bytes_per_vector() const noexcept {
    return per_vector(code_bytes + id_bytes + term_bytes + tombstone_bytes + row_bytes);
  }
  /// list_bytes_per_vector plus the id map (everything per vector except codebooks and raw vectors).
  double total_bytes_per_vector() const noexcept {
    return per_vector(code_bytes + id_bytes + term_bytes + tombstone_bytes + row_bytes + id_map_bytes);
  }

private:
  double per_vector(std::size_t bytes) const noexcept { return vectors == 0 ? 0.0 : double(bytes) / double(vectors); }
};

}  // namespace ivfstream
