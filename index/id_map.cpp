#include "index/id_map.hpp"

#include "kernels/assert.hpp"

namespace ivfstream {

std::optional<entry_location> id_map::find(std::uint64_t id) const {
  const auto it = map_.find(id);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

std::optional<entry_location> id_map::upsert(std::uint64_t id, const entry_location& loc) {
  auto [it, inserted] = map_.try_emplace(id, loc);
  if (inserted) return std::nullopt;
  const entry_location old = it->second;
  it->second = loc;
  return old;
}

std::optional<entry_location> id_map::erase(std::uint64_t id) {
  const auto it = map_.find(id);
  if (it == map_.end()) return std::nullopt;
  const entry_location old = it->second;
  map_.erase(it);
  return old;
}

void id_map::relocate(std::uint64_t id, std::uint32_t list, std::uint32_t new_slot) {
  const auto it = map_.find(id);
  IVF_ASSERT(it != map_.end() && it->second.list == list);
  it->second.slot = new_slot;
}

std::size_t id_map::memory_bytes() const noexcept {
  // libstdc++ node: next pointer + pair<const u64, entry_location> (+ no cached hash for u64 keys).
  constexpr std::size_t k_node_bytes = sizeof(void*) + sizeof(std::pair<const std::uint64_t, entry_location>);
  return map_.size() * k_node_bytes + map_.bucket_count() * sizeof(void*);
}

}  // namespace ivfstream
