#pragma once
// Which Kafka topic-partition each indexed id came from, so that a node in a consumer group can drop
// exactly the vectors of the partitions the group takes away from it (issue 6, sharding over Kafka
// partitions). An id belongs to the partition whose record last upserted it; a delete forgets it.
//
// Eager rebalancing (librdkafka's range/roundrobin assignors) revokes every partition, then assigns
// the new set. Dropping at revoke time would throw away and replay partitions the node gets back, so
// revocation is two-phase: revoke() marks partitions as leaving; the next assign() keeps those that
// came back and returns the ids of those that did not (release). A plain state struct: no actor, no
// Kafka; owned by the ingest actor. Not thread-safe.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ivfstream::actors {

/// (topic, partition).
using topic_partition_key = std::pair<std::string, std::int32_t>;

class partition_ownership {
public:
  /// Records that `tp`'s record upserted these ids (moving them from any earlier partition).
  void note_upsert(const topic_partition_key& tp, const std::uint64_t* ids, std::size_t n);
  /// Forgets deleted ids.
  void note_delete(const std::uint64_t* ids, std::size_t n);
  /// The group took these partitions away (they may come back in the next assign()).
  void revoke(const std::vector<topic_partition_key>& tps);
  /// The group's new assignment. Returns the ids of partitions revoked before and not assigned again
  /// (they are forgotten: the caller removes them from the index), plus those partitions.
  std::pair<std::vector<std::uint64_t>, std::vector<topic_partition_key>> assign(
      const std::vector<topic_partition_key>& tps);
  /// Partitions assigned now (not revoked).
  const std::set<topic_partition_key>& owned() const noexcept { return owned_; }
  /// Whether records of tp should be indexed now.
  bool owns(const topic_partition_key& tp) const { return owned_.count(tp) != 0; }
  /// Ids currently attributed to tp.
  std::size_t ids_of(const topic_partition_key& tp) const;

  /// For a checkpoint: every owned or leaving partition with the ids attributed to it (ascending;
  /// possibly none).
  std::map<topic_partition_key, std::vector<std::uint64_t>> ids_by_partition() const;
  /// A restart from a checkpoint (replaces everything): `held` is what ids_by_partition() returned.
  /// The partitions count as revoked: the first assign() keeps those assigned again and releases the
  /// ids of the others, exactly as after a rebalance.
  void restore(const std::map<topic_partition_key, std::vector<std::uint64_t>>& held);

private:
  std::uint32_t intern(const topic_partition_key& tp);

  std::vector<topic_partition_key> names_;          // interned partitions, index = tag
  std::unordered_map<std::uint64_t, std::uint32_t> owner_;  // id → tag
  std::set<topic_partition_key> owned_;
  std::set<topic_partition_key> leaving_;            // revoked, not yet re-assigned or released
};

}  // namespace ivfstream::actors
