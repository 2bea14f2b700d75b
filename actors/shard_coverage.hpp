#pragma once
// shard_coverage: which partitions of the vectors topic a node indexes now, so that a cluster search
// can tell "a peer is down and its data is missing" from "a peer is down but the survivors took over
// everything it held" (issue 6). The node's Kafka feed (actors/vector_feed.hpp) publishes its
// assignment here whenever it changes; the node's shard search (actors/shard_search.hpp) attaches a
// snapshot to every reply; the coordinator (actors/cluster_search.hpp) excuses peers it could not
// reach when the shards that did answer hold every topic-partition between them.
//
// A partition counts as held once its new owner has read it up to where the log ended when the group
// assigned it (vector_feed: replayed, then delivered to the ingest), so an answer is called whole only
// when the shards that gave it hold every partition's data; later records lag as on any node.
//
// Thread-safety: publish() and snapshot() may be called from any thread (one mutex).
#include <cstdint>
#include <mutex>
#include <vector>

namespace ivfstream::actors {

/// A node's share of the vectors topic.
struct held_partitions {
  /// Partitions of the vectors topic; 0 = unknown (no Kafka feed: the node's data came through the
  /// embedded API, so nothing can be said about what it holds).
  std::uint32_t topic_partitions = 0;
  std::vector<std::int32_t> held;  ///< partitions this node indexes now, ascending, each < topic_partitions
  bool operator==(const held_partitions& o) const {
    return topic_partitions == o.topic_partitions && held == o.held;
  }
};

/// True when every shard's share is known, all name the same topic_partitions > 0, and together they
/// hold every partition in [0, topic_partitions). An empty list covers nothing.
bool covers_every_partition(const std::vector<held_partitions>& shards);

/// The current share of one node, written by its feed and read by its shard search.
class shard_coverage {
public:
  /// Replaces the share (held is sorted and deduplicated here).
  void publish(held_partitions share);
  /// The share now (unknown until the first publish).
  held_partitions snapshot() const;

private:
  mutable std::mutex mutex_;
  held_partitions share_;
};

}  // namespace ivfstream::actors
