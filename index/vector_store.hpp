#pragma once
// Raw vectors of an index, append-only, in fixed-size memory-mapped segment files. Used for refine
// (exact re-ranking) and for re-encoding under new codebooks. Rows are the *prepared* vectors
// (L2-normalised for cosine), so refine compares like with like.
//
// On-disk layout (one directory per store; all integers little-endian):
//   <dir>/vectors-NNNNNN.seg   NNNNNN = segment index, 6 decimal digits, from 000000, no gaps
//   segment file = header (64 bytes) + rows_per_segment × dimension float32 rows, row-major
//     offset 0  : 8 bytes  magic "IVFSVSEG"
//     offset 8  : u32      format version (k_vector_segment_version = 1)
//     offset 12 : u32      dimension d
//     offset 16 : u64      rows_per_segment (capacity of this file)
//     offset 24 : u64      segment index NNNNNN
//     offset 32 : 32 bytes reserved, zero
//   Global row r lives in segment r / rows_per_segment at row r % rows_per_segment. Every file has the
//   full size from creation (ftruncate: sparse until written); the store grows by adding a segment.
//
// A private store (empty directory: a partition actor's, an index without storage_dir) has no files:
// each segment is anonymous memory with the same layout (64-byte header, then the rows), its start
// aligned to 2 MiB and advised MADV_HUGEPAGE, so that refine's random row reads each cost one
// huge-page TLB entry instead of a 4 KiB page walk (file mappings of ext4 never get transparent huge
// pages). It is resident like the index's codes: it is not paged out to a file under memory pressure.
//   The files do not record how many rows are valid: the owner (index snapshot, checkpoint
//   manifest) does. Appends never rewrite a row: a replaced vector leaves its old row as garbage
//   until the owner collects it with keep_rows (moves the live rows down, drops the freed tail).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "index/error.hpp"

namespace ivfstream {

/// Current segment format version (header offset 8).
inline constexpr std::uint32_t k_vector_segment_version = 1;
/// Size of the segment header in bytes.
inline constexpr std::size_t k_vector_segment_header_bytes = 64;
/// Default segment file size (header excluded): 64 MiB.
inline constexpr std::size_t k_default_segment_bytes = std::size_t{64} << 20;

/// Append-only store of d-float rows in mmap'd segment files (layout above).
/// Thread-safety: one writer (append) at a time; row() may be called concurrently by many readers
/// while nobody appends (the same discipline as inverted_list). Not copyable; movable via unique_ptr.
class vector_store {
public:
  /// Creates an empty store in `directory` (created if missing; it must not already hold segment
  /// files). An empty directory string makes a private store in anonymous memory (no files; layout
  /// above). segment_bytes: bytes of rows per segment (≥ one row).
  static result<std::unique_ptr<vector_store>> create(const std::string& directory, std::size_t dimension,
                                                      std::size_t segment_bytes = k_default_segment_bytes);
  ~vector_store();
  vector_store(const vector_store&) = delete;
  vector_store& operator=(const vector_store&) = delete;

  /// Appends n rows (x: n × d floats) and returns the row number of the first one.
  result<std::uint64_t> append(const float* x, std::size_t n);
  /// Row r (d floats, valid until the store is destroyed). @pre r < size().
  const float* row(std::uint64_t r) const noexcept {
    return segments_[r / rows_per_segment_].rows + (r % rows_per_segment_) * dimension_;
  }
  /// Garbage collection: keeps only rows[0..n) — strictly ascending, each < size() — moving row
  /// rows[i] to row i (in that order, so a row is never overwritten before it is moved), then sets
  /// size() = n, unlinks the segment files no longer needed and gives the unused tail of the last
  /// kept segment back to the file system (madvise MADV_REMOVE, best effort). Rows from n on are
  /// reused by later appends. Cost: one d-float copy per moved row. Pointers from row() are invalid
  /// afterwards. Errors: invalid_argument (rows not ascending or out of range; nothing moved).
  status keep_rows(const std::uint64_t* rows, std::size_t n);
  /// Rows appended so far (minus those dropped by keep_rows).
  std::uint64_t size() const noexcept { return size_; }
  std::size_t dimension() const noexcept { return dimension_; }
  std::size_t rows_per_segment() const noexcept { return rows_per_segment_; }
  std::size_t num_segments() const noexcept { return segments_.size(); }
  /// Bytes of rows written (size() × d × 4): what a full read of the store touches.
  std::size_t used_bytes() const noexcept { return size_ * dimension_ * sizeof(float); }
  /// Bytes mapped (all segments, headers included).
  std::size_t mapped_bytes() const noexcept;
  /// The storage directory; empty for a private (anonymous-memory) store.
  const std::string& directory() const noexcept { return directory_; }
  /// True for a private store (no files).
  bool in_memory() const noexcept { return directory_.empty(); }
  /// Path of segment i. @pre !in_memory().
  std::string segment_path(std::size_t i) const;

private:
  struct segment {
    void* base = nullptr;      // mapping start (header); 2 MiB-aligned when in memory
    std::size_t bytes = 0;     // mapping size (header + rows)
    float* rows = nullptr;     // base + header
  };
  vector_store(std::string directory, std::size_t dimension, std::size_t rows_per_segment);
  status add_segment();
  result<segment> map_file_segment(std::size_t index, std::size_t bytes) const;
  static result<segment> map_memory_segment(std::size_t bytes);

  std::string directory_;
  std::size_t dimension_;
  std::size_t rows_per_segment_;
  std::vector<segment> segments_;
  std::uint64_t size_ = 0;
};

}  // namespace ivfstream
