#pragma once
// A column of u64 values (the ids or vector-store rows of one inverted list) stored per block of 32
// consecutive entries as one u64 base + 32 u32 offsets: values that a block holds close together
// (increasing ids of a bulk load, rows appended in order) cost 4.25 bytes each instead of 8.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream {

/// Layout (n = size(), B = ceil(n / 32) blocks; entry i is slot s = i % 32 of block b = i / 32):
///   low_  : n u32, the low word of entry i (below)
///   base_ : B u64; narrow block: the block's base; wide block: its index w into high_
///   high_ : 32 u32 per wide block: high_[32·w + s] = upper 32 bits of slot s
///   wide_ : ceil(B / 64) u64, bit b set ⇔ block b is wide
///   narrow block: value(i) = base_[b] + low_[i]  (every value of the block in [base, base + 2³²));
///   wide block:   value(i) = high_[32·w + s] · 2³² + low_[i].
/// A block starts narrow with its first value as base. A value that does not fit re-bases the block when
/// the block (with the new value) still spans < 2³², otherwise the block turns wide and stays wide until
/// the column is rebuilt (compaction builds a new column). Memory: 4 B per entry + 8 B per block
/// (4.25 B/entry) for narrow blocks, + 4 B per entry for wide ones (random 64-bit ids: ~8.25 B/entry).
/// Not thread-safe (one owner); concurrent const reads are safe while nobody mutates.
class delta_column {
public:
  static constexpr std::size_t k_block = 32;

  std::size_t size() const noexcept { return low_.size(); }
  bool empty() const noexcept { return low_.empty(); }

  /// Value of entry i. @pre i < size().
  std::uint64_t operator[](std::size_t i) const noexcept {
    const std::size_t b = i / k_block;
    if (!is_wide(b)) return base_[b] + low_[i];
    return (std::uint64_t{high_[base_[b] * k_block + i % k_block]} << 32) | low_[i];
  }
  /// Software prefetch of the words that operator[](i) reads for a narrow block (low_[i], base_[i / 32],
  /// its wide_ word). @pre i < size().
  void prefetch(std::size_t i) const noexcept {
    __builtin_prefetch(&low_[i], 0, 3);
    __builtin_prefetch(&base_[i / k_block], 0, 3);
    __builtin_prefetch(&wide_[i / k_block / 64], 0, 3);
  }
  /// prefetch(0) for a non-empty column, plus the second cache line of base_ (blocks 8..15).
  void prefetch_head() const noexcept {
    if (low_.empty()) return;
    prefetch(0);
    if (base_.size() > 8) __builtin_prefetch(&base_[8], 0, 3);
  }
  /// Copies entries [first, first + n) to out. @pre first + n ≤ size().
  void read(std::size_t first, std::size_t n, std::uint64_t* out) const noexcept;

  void push_back(std::uint64_t v);
  /// Overwrites entry i. @pre i < size().
  void set(std::size_t i, std::uint64_t v);

  void clear() noexcept;
  void reserve(std::size_t n);
  void shrink_to_fit();

  /// Bytes the entries occupy (sizes of the four arrays).
  std::size_t used_bytes() const noexcept;
  /// Bytes the four arrays allocate.
  std::size_t capacity_bytes() const noexcept;
  /// Blocks stored with full 64-bit values.
  std::size_t wide_blocks() const noexcept { return high_.size() / k_block; }

private:
  bool is_wide(std::size_t b) const noexcept { return (wide_[b / 64] >> (b % 64)) & 1u; }
  /// Makes v representable in narrow block b (re-base or widen), ignoring entry `skip` (the one being
  /// overwritten; size() when none).
  void make_room(std::size_t b, std::uint64_t v, std::size_t skip);
  void widen(std::size_t b);
  void store(std::size_t i, std::uint64_t v) noexcept;

  std::vector<std::uint32_t> low_;
  std::vector<std::uint64_t> base_;
  std::vector<std::uint32_t> high_;
  std::vector<std::uint64_t> wide_;
};

}  // namespace ivfstream
