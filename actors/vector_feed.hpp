#pragma once
// vector_feed: the Kafka side of the ingest actor. Reads the vectors topic from given offsets,
// verifies and decodes each record (connectors/record_codec: FlatBuffers Verifier, dimension,
// NaN/Inf, caps) and sends every bad record to the dead-letter topic with its reason and source
// offset; the stream goes on. The ingest actor stages what comes back and notes every offset.
//
// Thread-safety: none; owned by the (detached) ingest actor, which makes every call.
#include <chrono>
#include <cstdint>
#include <set>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/checkpoint.hpp"
#include "actors/shard_coverage.hpp"
#include "config/service_config.hpp"
#include "connectors/record_codec.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {
class kafka_consumer;
class kafka_producer;
class dead_letter_sink;
}  // namespace ivfstream::connectors

namespace ivfstream::actors {

/// One record of the vectors topic after verification.
struct feed_record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  /// Empty: a valid record in `record`. Set: the record was rejected (already dead-lettered).
  std::optional<ivfstream::error> rejected;
  connectors::decoded_vector_record record;
};

/// Counters of a feed.
struct feed_counters {
  std::uint64_t records = 0;       ///< records read
  std::uint64_t dead_letters = 0;  ///< records sent to the dead-letter topic
  std::uint64_t dead_letter_failures = 0;  ///< dead letters that could not be produced
  /// Records dropped by the broker (retention) before they were read: a restart's offset below the
  /// log start, or a gap in the offsets while reading. Each loss is also logged to stderr.
  std::uint64_t lost_records = 0;
};

class vector_feed {
public:
  /// Connects to `bootstrap_servers`, assigns every partition of config.kafka.topics.vectors and
  /// starts each at `start` (checkpoint offsets; partitions not named start at the beginning).
  /// `coverage` (may be null) is kept up to date with the partitions assigned (shard_coverage.hpp).
  static result<std::unique_ptr<vector_feed>> open(const service_config& config, const std::string& bootstrap_servers,
                                                   const offset_map& start,
                                                   std::shared_ptr<shard_coverage> coverage = nullptr);
  ~vector_feed();

  /// Up to `max` records, waiting at most `timeout` for the first. Invalid ones come back with
  /// `rejected` set (their offsets must be noted too).
  result<std::vector<feed_record>> poll(std::size_t max, std::chrono::milliseconds timeout);
  /// Dead-letters a record that decoded but was refused later (e.g. a zero vector under cosine).
  void reject(const feed_record& r, const ivfstream::error& why);
  /// Stops fetching every assigned partition (back-pressure; positions are kept: records fetched but
  /// not yet polled are fetched again after resume()).
  status pause();
  /// Fetches again after pause().
  status resume();
  /// Consumer-group mode (config.kafka.group_ingest, issue 6): open() subscribes to the vectors topic in
  /// group config.kafka.group_id + ".ingest" instead of assigning every partition. The ingest actor
  /// installs these hooks (they run on its thread, inside poll()): on_assign gets the newly assigned
  /// partitions and returns where to start each (partitions left out replay from the beginning);
  /// on_revoke gets the partitions being taken away (checkpoint/commit them now). poll() returns only
  /// records of partitions assigned when it returns.
  struct group_hooks {
    std::function<offset_map(const std::vector<std::pair<std::string, std::int32_t>>&)> on_assign;
    std::function<void(const std::vector<std::pair<std::string, std::int32_t>>&)> on_revoke;
  };
  void set_group_hooks(group_hooks hooks) { hooks_ = std::move(hooks); }
  bool group_mode() const noexcept { return group_mode_; }
  /// Partitions assigned now (group mode; every partition otherwise).
  const std::set<std::pair<std::string, std::int32_t>>& assigned() const noexcept { return assigned_; }
  /// Commits next offsets for the group, synchronously (group mode: at revocation).
  status commit(const offset_map& offsets);
  /// Serves delivery reports of the dead-letter producer (call now and then).
  void serve_reports();
  const feed_counters& counters() const noexcept { return counters_; }
  /// Dead letters per reason, "corrupt_data=2 non_finite=1".
  std::string dead_letter_summary() const;
  /// (topic, partition) → (low, high) watermarks, for lag reporting.
  result<std::vector<std::tuple<std::string, std::int32_t, std::int64_t>>> high_watermarks(
      std::chrono::milliseconds timeout);

private:
  vector_feed() = default;
  void dead_letter(const std::string& topic, std::int32_t partition, std::int64_t offset, const std::uint8_t* key,
                   std::size_t key_size, const std::uint8_t* payload, std::size_t size, const ivfstream::error& why);

  std::string topic_;
  std::string dead_letter_topic_;
  std::int32_t partitions_ = 0;
  connectors::record_limits limits_;
  std::unique_ptr<connectors::kafka_consumer> consumer_;
  std::unique_ptr<connectors::kafka_producer> producer_;
  std::unique_ptr<connectors::dead_letter_sink> sink_;
  /// Notes a gap: records [from, to) of `partition` were dropped before they could be read.
  void lost(std::int32_t partition, std::int64_t from, std::int64_t to, const char* when);

  feed_counters counters_;
  bool group_mode_ = false;
  group_hooks hooks_;
  std::set<std::pair<std::string, std::int32_t>> assigned_;
  std::shared_ptr<shard_coverage> coverage_;  ///< assigned_ as the shard search reports it; may be null
  /// Publishes assigned_ (less catching_up_) to coverage_.
  void publish_coverage() const;
  /// Next offset expected per partition (known once a start offset or a record was seen): a record
  /// beyond it means the broker dropped the records in between.
  std::map<std::int32_t, std::int64_t> expected_;
  /// Group mode: partitions assigned but not yet replayed → the high watermark at their assignment.
  /// They are left out of the published share until poll() has delivered every record below it, so a
  /// node that took a partition over reports it as held only once it has its data (else a coordinator
  /// would call an answer whole while the new owner is still replaying).
  std::map<std::int32_t, std::int64_t> catching_up_;
  /// Notes that `partition` was delivered up to (excluding) `next`; true when it finished catching up.
  bool note_delivered(std::int32_t partition, std::int64_t next);
};

}  // namespace ivfstream::actors
