#pragma once
// u64 id → where its live entry is: (list, slot) in the inverted lists and the row of its raw
// vector in the vector store. Makes upsert and delete O(1) instead of a scan of every list.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace ivfstream {

/// Location of one live entry.
struct entry_location {
  std::uint32_t list;   ///< inverted list (coarse partition)
  std::uint32_t slot;   ///< slot in that list
  std::uint64_t row;    ///< row in the vector_store (k_no_row when raw vectors are not kept)
};

/// Row value meaning "no raw vector stored".
inline constexpr std::uint64_t k_no_row = ~std::uint64_t{0};

/// Hash map id → entry_location, one entry per live id. Not thread-safe (same owner as the lists).
class id_map {
public:
  /// The location of id, or nullopt.
  std::optional<entry_location> find(std::uint64_t id) const;
  /// Inserts or overwrites id's location; returns the previous one if id was present.
  std::optional<entry_location> upsert(std::uint64_t id, const entry_location& loc);
  /// Removes id; returns its location if it was present.
  std::optional<entry_location> erase(std::uint64_t id);
  /// Updates the slot of an id that compaction moved. @pre id present and in `list`.
  void relocate(std::uint64_t id, std::uint32_t list, std::uint32_t new_slot);
  std::size_t size() const noexcept { return map_.size(); }
  void reserve(std::size_t n) { map_.reserve(n); }
  void clear() { map_.clear(); }
  /// Approximate heap bytes: nodes (key + value + next pointer + cached hash) and the bucket array.
  std::size_t memory_bytes() const noexcept;

private:
  std::unordered_map<std::uint64_t, entry_location> map_;
};

}  // namespace ivfstream
