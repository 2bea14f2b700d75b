#include "actors/partition_ownership.hpp"

#include <algorithm>

namespace ivfstream::actors {

std::uint32_t partition_ownership::intern(const topic_partition_key& tp) {
  const auto it = std::find(names_.begin(), names_.end(), tp);
  if (it != names_.end()) return static_cast<std::uint32_t>(it - names_.begin());
  names_.push_back(tp);
  return static_cast<std::uint32_t>(names_.size() - 1);
}

void partition_ownership::note_upsert(const topic_partition_key& tp, const std::uint64_t* ids, std::size_t n) {
  const std::uint32_t tag = intern(tp);
  for (std::size_t i = 0; i < n; ++i) owner_[ids[i]] = tag;
}

void partition_ownership::note_delete(const std::uint64_t* ids, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) owner_.erase(ids[i]);
}

void partition_ownership::revoke(const std::vector<topic_partition_key>& tps) {
  for (const auto& tp : tps) {
    owned_.erase(tp);
    leaving_.insert(tp);
  }
}

std::pair<std::vector<std::uint64_t>, std::vector<topic_partition_key>> partition_ownership::assign(
    const std::vector<topic_partition_key>& tps) {
  for (const auto& tp : tps) {
    owned_.insert(tp);
    leaving_.erase(tp);
  }
  std::vector<topic_partition_key> gone(leaving_.begin(), leaving_.end());
  leaving_.clear();
  std::vector<std::uint64_t> ids;
  if (gone.empty()) return {ids, gone};
  std::vector<bool> drop(names_.size(), false);
  for (const auto& tp : gone) drop[intern(tp)] = true;
  for (auto it = owner_.begin(); it != owner_.end();) {
    if (drop[it->second]) {
      ids.push_back(it->first);
      it = owner_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(ids.begin(), ids.end());
  return {ids, gone};
}

std::size_t partition_ownership::ids_of(const topic_partition_key& tp) const {
  const auto it = std::find(names_.begin(), names_.end(), tp);
  if (it == names_.end()) return 0;
  const auto tag = static_cast<std::uint32_t>(it - names_.begin());
  std::size_t n = 0;
  for (const auto& [id, t] : owner_) n += t == tag;
  return n;
}

std::map<topic_partition_key, std::vector<std::uint64_t>> partition_ownership::ids_by_partition() const {
  std::map<topic_partition_key, std::vector<std::uint64_t>> out;
  for (const auto& tp : owned_) out[tp];
  for (const auto& tp : leaving_) out[tp];
  for (const auto& [id, tag] : owner_) out[names_[tag]].push_back(id);
  for (auto& [tp, ids] : out) std::sort(ids.begin(), ids.end());
  return out;
}

void partition_ownership::restore(const std::map<topic_partition_key, std::vector<std::uint64_t>>& held) {
  names_.clear();
  owner_.clear();
  owned_.clear();
  leaving_.clear();
  for (const auto& [tp, ids] : held) {
    const std::uint32_t tag = intern(tp);
    leaving_.insert(tp);
    for (const std::uint64_t id : ids) owner_[id] = tag;
  }
}

}  // namespace ivfstream::actors
