#include "index/id_map.hpp"

#include <algorithm>

#include "kernels/assert.hpp"

namespace ivfstream {

namespace {

/// Most ids per cell before the table grows (4/5).
constexpr std::size_t k_load_num = 4, k_load_den = 5;
constexpr std::size_t k_min_capacity = 16;

/// 64-bit finaliser (MurmurHash3's fmix64 constants): every input bit affects every output bit.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

std::size_t cells_for(std::size_t n) noexcept {
  return std::max(k_min_capacity, (n * k_load_den + k_load_num - 1) / k_load_num + 1);
}

}  // namespace

std::size_t id_map::home(std::uint64_t id) const noexcept {
  return static_cast<std::size_t>((static_cast<unsigned __int128>(mix(id)) * cells_.size()) >> 64);
}

std::size_t id_map::locate(std::uint64_t id) const noexcept {
  const std::size_t cap = cells_.size();
  for (std::size_t i = home(id);; i = i + 1 == cap ? 0 : i + 1) {
    const cell& c = cells_[i];
    if (c.loc.list == k_no_list) return cap;
    if (c.id == id) return i;
  }
}

std::optional<entry_location> id_map::find(std::uint64_t id) const {
  if (size_ == 0) return std::nullopt;
  const std::size_t i = locate(id);
  if (i == cells_.size()) return std::nullopt;
  return cells_[i].loc;
}

void id_map::rehash(std::size_t new_capacity) {
  std::vector<cell> old = std::move(cells_);
  cells_.assign(new_capacity, cell{0, {k_no_list, 0, 0}});
  for (const cell& c : old) {
    if (c.loc.list == k_no_list) continue;
    std::size_t i = home(c.id);
    while (cells_[i].loc.list != k_no_list) i = i + 1 == new_capacity ? 0 : i + 1;
    cells_[i] = c;
  }
}

void id_map::reserve(std::size_t n) {
  if (cells_for(n) > cells_.size()) rehash(cells_for(n));
}

void id_map::clear() {
  std::vector<cell>().swap(cells_);
  size_ = 0;
}

std::optional<entry_location> id_map::upsert(std::uint64_t id, const entry_location& loc) {
  IVF_ASSERT(loc.list != k_no_list);
  if ((size_ + 1) * k_load_den > cells_.size() * k_load_num)
    rehash(std::max(cells_for(size_ + 1), cells_.size() + cells_.size() / 2));
  const std::size_t cap = cells_.size();
  std::size_t i = home(id);
  for (;; i = i + 1 == cap ? 0 : i + 1) {
    cell& c = cells_[i];
    if (c.loc.list == k_no_list) break;
    if (c.id == id) {
      const entry_location old = c.loc;
      c.loc = loc;
      return old;
    }
  }
  cells_[i] = cell{id, loc};
  ++size_;
  return std::nullopt;
}

std::optional<entry_location> id_map::erase(std::uint64_t id) {
  if (size_ == 0) return std::nullopt;
  const std::size_t cap = cells_.size();
  std::size_t hole = locate(id);
  if (hole == cap) return std::nullopt;
  const entry_location old = cells_[hole].loc;
  // Backward shift: move each later cell of the run into the hole when the hole lies on its probe path
  // (between its home and its cell, cyclically), so every remaining id stays reachable without tombstones.
  for (std::size_t j = hole + 1 == cap ? 0 : hole + 1;; j = j + 1 == cap ? 0 : j + 1) {
    const cell& c = cells_[j];
    if (c.loc.list == k_no_list) break;
    const std::size_t h = home(c.id);
    const std::size_t from_home = (j + cap - h) % cap, from_hole = (j + cap - hole) % cap;
    if (from_home >= from_hole) {
      cells_[hole] = c;
      hole = j;
    }
  }
  cells_[hole].loc.list = k_no_list;
  --size_;
  return old;
}

void id_map::relocate(std::uint64_t id, std::uint32_t list, std::uint32_t new_slot) {
  const std::size_t i = size_ == 0 ? cells_.size() : locate(id);
  IVF_ASSERT(i != cells_.size() && cells_[i].loc.list == list);
  cells_[i].loc.slot = new_slot;
}

}  // namespace ivfstream
