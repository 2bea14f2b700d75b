#pragma once
// One inverted list of an IVF index: the PQ codes and ids of the vectors assigned to one coarse
// centroid, in insertion order, with tombstones for deleted/replaced entries.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/fast_scan.hpp"

namespace ivfstream {

/// Codes + ids of one list. Layout: codes() is size() × code_size bytes row-major (packed PQ codes,
/// kernels/kernel_table.hpp); ids() is size() u64; slot i is row i of both. A tombstoned slot stays in
/// place (scans skip it) until compact() drops it. Memory per entry: code_size + 8 bytes + 1 bit.
/// With fast_scan_m = M > 0 (4-bit PQ codes, code_size = ceil(M/2)), the list also keeps the same codes
/// in the 32-slot block layout of kernels/fast_scan.hpp (fast_scan_blocks(): fast_scan_bytes(size(), M)
/// bytes, slot i of the list = slot i of the block array; padding slots and sub-quantizers are zero):
/// + ceil(M/4)·2 bytes per entry.
/// With keep_rows, the list also keeps rows(): size() u64, the vector_store row of each slot (so refine
/// reads a candidate's raw vector without an id-map lookup): + 8 bytes per entry.
/// Not thread-safe: owned by one partition (actor) or one ivfpq_index at a time; concurrent const
/// reads are safe while nobody mutates.
class inverted_list {
public:
  /// @pre code_size ≥ 1; fast_scan_m = 0 (no block layout) or M with code_size == ceil(M / 2) (4-bit codes).
  explicit inverted_list(std::size_t code_size, std::size_t fast_scan_m = 0, bool keep_rows = false);

  /// Appends one entry and returns its slot. code: code_size bytes; row: its vector_store row (kept only
  /// when the list keeps rows).
  std::uint32_t append(std::uint64_t id, const std::uint8_t* code, std::uint64_t row = ~std::uint64_t{0});
  /// Marks slot deleted (idempotent). @pre slot < size().
  void tombstone(std::uint32_t slot);
  /// Rewrites the list without tombstones, keeping the order of live entries; calls
  /// relocate(id, new_slot) for every live entry whose slot changed.
  template <class F>
  void compact(F&& relocate);

  /// Slots, live or not.
  std::size_t size() const noexcept { return ids_.size(); }
  /// Live (not tombstoned) slots.
  std::size_t live() const noexcept { return live_; }
  /// size() − live().
  std::size_t tombstones() const noexcept { return ids_.size() - live_; }
  std::size_t code_size() const noexcept { return code_size_; }
  /// size() × code_size bytes.
  const std::uint8_t* codes() const noexcept { return codes_.data(); }
  /// size() ids.
  const std::uint64_t* ids() const noexcept { return ids_.data(); }
  /// Whether rows() is kept.
  bool keeps_rows() const noexcept { return keep_rows_; }
  /// size() vector_store rows (parallel to ids()), or nullptr when the list keeps none.
  const std::uint64_t* rows() const noexcept { return keep_rows_ ? rows_.data() : nullptr; }
  /// Sets the vector_store row of a slot (vector store garbage collection moved it); no-op when the
  /// list keeps no rows. @pre slot < size().
  void set_row(std::uint32_t slot, std::uint64_t row) noexcept {
    if (keep_rows_) rows_[slot] = row;
  }
  /// Code of one slot (code_size bytes). @pre slot < size().
  const std::uint8_t* code(std::uint32_t slot) const noexcept { return codes_.data() + slot * code_size_; }
  /// M of the fast-scan block copy, 0 when the list keeps none.
  std::size_t fast_scan_m() const noexcept { return fast_scan_m_; }
  /// The codes in fast-scan block layout (kernels/fast_scan.hpp): fast_scan_bytes(size(), fast_scan_m())
  /// bytes; nullptr-equivalent (empty) when fast_scan_m() == 0.
  const std::uint8_t* fast_scan_blocks() const noexcept { return blocks_.data(); }
  /// Whether slot is not tombstoned. @pre slot < size().
  bool is_live(std::uint32_t slot) const noexcept {
    return (live_bits_[slot >> 6] >> (slot & 63)) & 1u;
  }
  /// True when no slot is tombstoned (scans may then skip the per-slot check).
  bool all_live() const noexcept { return live_ == ids_.size(); }

  /// Bytes held by codes (row-major and fast-scan blocks), ids and the tombstone bitmap (capacity, not size).
  std::size_t code_bytes() const noexcept { return codes_.capacity() + blocks_.capacity(); }
  std::size_t id_bytes() const noexcept { return ids_.capacity() * sizeof(std::uint64_t); }
  /// Bytes held by rows() (capacity).
  std::size_t row_bytes() const noexcept { return rows_.capacity() * sizeof(std::uint64_t); }
  std::size_t tombstone_bytes() const noexcept { return live_bits_.capacity() * sizeof(std::uint64_t); }

  /// Releases spare capacity (after a bulk load).
  void shrink_to_fit();
  /// Reserves room for n slots.
  void reserve(std::size_t n);

private:
  void rebuild_blocks();

  std::size_t code_size_;
  std::size_t fast_scan_m_;
  bool keep_rows_;
  std::vector<std::uint8_t> codes_;        // size() × code_size_
  std::vector<std::uint8_t> blocks_;       // fast_scan_bytes(size(), fast_scan_m_) when fast_scan_m_ > 0
  std::vector<std::uint64_t> ids_;         // size()
  std::vector<std::uint64_t> rows_;        // size() when keep_rows_, else empty
  std::vector<std::uint64_t> live_bits_;   // bit i set ⇔ slot i live; ceil(size()/64) words
  std::size_t live_ = 0;
};

template <class F>
void inverted_list::compact(F&& relocate) {
  if (all_live()) return;
  std::size_t out = 0;
  const std::size_t n = ids_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_live(static_cast<std::uint32_t>(i))) continue;
    if (out != i) {
      ids_[out] = ids_[i];
      if (keep_rows_) rows_[out] = rows_[i];
      std::copy(codes_.begin() + i * code_size_, codes_.begin() + (i + 1) * code_size_,
                codes_.begin() + out * code_size_);
      relocate(ids_[out], static_cast<std::uint32_t>(out));
    }
    ++out;
  }
  IVF_ASSERT(out == live_);
  ids_.resize(out);
  if (keep_rows_) rows_.resize(out);
  codes_.resize(out * code_size_);
  rebuild_blocks();
  live_bits_.assign((out + 63) / 64, ~std::uint64_t{0});
  if (out % 64 != 0) live_bits_.back() = (std::uint64_t{1} << (out % 64)) - 1;
}

}  // namespace ivfstream
