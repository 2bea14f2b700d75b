#include "actors/shard_coverage.hpp"

#include <algorithm>

namespace ivfstream::actors {

bool covers_every_partition(const std::vector<held_partitions>& shards) {
  if (shards.empty()) return false;
  const std::uint32_t total = shards.front().topic_partitions;
  if (total == 0) return false;
  std::vector<bool> seen(total, false);
  for (const auto& s : shards) {
    if (s.topic_partitions != total) return false;
    for (const std::int32_t p : s.held)
      if (p >= 0 && static_cast<std::uint32_t>(p) < total) seen[static_cast<std::uint32_t>(p)] = true;
  }
  return std::all_of(seen.begin(), seen.end(), [](bool b) { return b; });
}

void shard_coverage::publish(held_partitions share) {
  std::sort(share.held.begin(), share.held.end());
  share.held.erase(std::unique(share.held.begin(), share.held.end()), share.held.end());
  std::lock_guard<std::mutex> lock(mutex_);
  share_ = std::move(share);
}

held_partitions shard_coverage::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return share_;
}

}  // namespace ivfstream::actors
