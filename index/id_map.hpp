#pragma once
// u64 id → where its live entry is: (list, slot) in the inverted lists and the row of its raw
// vector in the vector store. Makes upsert and delete O(1) instead of a scan of every list.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ivfstream {

/// Location of one live entry.
struct entry_location {
  std::uint32_t list;   ///< inverted list (coarse partition); never k_no_list
  std::uint32_t slot;   ///< slot in that list
  std::uint64_t row;    ///< row in the vector_store (k_no_row when raw vectors are not kept)
};

/// Row value meaning "no raw vector stored".
inline constexpr std::uint64_t k_no_row = ~std::uint64_t{0};
/// List value marking an empty cell of the table (no real list has this index).
inline constexpr std::uint32_t k_no_list = ~std::uint32_t{0};

/// Hash map id → entry_location, one entry per live id: an open-addressing table with linear probing.
/// Layout: cells_ is capacity() cells of 24 bytes {u64 id, u32 list, u32 slot, u64 row}; a cell with
/// list == k_no_list is empty. An id's probe sequence starts at cell ⌊mix(id) · capacity / 2⁶⁴⌋ (mix: a
/// 64-bit finaliser, so sequential ids spread) and walks forward, wrapping. erase shifts later cells of
/// the run back (no tombstones), so lookups stop at the first empty cell. The table grows by 1.5× when
/// more than 80 % full, so it holds between 24/0.8 = 30 and 24/0.53 = 45 bytes per id (reserve(n)
/// sizes it for n ids at 80 %). Not thread-safe (same owner as the lists); concurrent const reads are
/// safe while nobody mutates.
class id_map {
public:
  /// The location of id, or nullopt.
  std::optional<entry_location> find(std::uint64_t id) const;
  /// Inserts or overwrites id's location; returns the previous one if id was present.
  /// @pre loc.list != k_no_list.
  std::optional<entry_location> upsert(std::uint64_t id, const entry_location& loc);
  /// Removes id; returns its location if it was present.
  std::optional<entry_location> erase(std::uint64_t id);
  /// Updates the slot of an id that compaction moved. @pre id present and in `list`.
  void relocate(std::uint64_t id, std::uint32_t list, std::uint32_t new_slot);
  std::size_t size() const noexcept { return size_; }
  /// Cells of the table (≥ size() / 0.8 once anything was inserted).
  std::size_t capacity() const noexcept { return cells_.size(); }
  /// Makes room for n ids without further growth.
  void reserve(std::size_t n);
  /// Removes every id and releases the table.
  void clear();
  /// Calls f(id, location) for every id, in table order (one pass over the cells, no lookups).
  template <class F>
  void for_each(F&& f) const {
    for (const auto& c : cells_)
      if (c.loc.list != k_no_list) f(c.id, c.loc);
  }
  /// Heap bytes of the table (capacity() × 24).
  std::size_t memory_bytes() const noexcept { return cells_.capacity() * sizeof(cell); }

private:
  struct cell {
    std::uint64_t id;
    entry_location loc;  // loc.list == k_no_list: empty
  };
  std::size_t home(std::uint64_t id) const noexcept;
  /// Index of id's cell, or capacity() when absent. @pre capacity() > 0.
  std::size_t locate(std::uint64_t id) const noexcept;
  void rehash(std::size_t new_capacity);

  std::vector<cell> cells_;
  std::size_t size_ = 0;
};

}  // namespace ivfstream
