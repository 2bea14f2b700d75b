#pragma once
// A Kafka consumer (librdkafka) whose offsets are decided by the engine: no auto-commit, no
// automatic offset store. Start positions come from the engine (checkpoint offsets) through
// assign() for a fixed assignment, or through on_assign for a consumer-group assignment; the engine
// commits explicit offsets; pause()/resume() give back-pressure; poll_batch() returns promptly.
//
// Threads: not thread-safe. One thread (the ingest or query-topic actor) owns a consumer and makes
// every call; the on_assign/on_revoke/on_error callbacks run on that thread, inside poll_batch().
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_client_config.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {

/// Logical offsets (librdkafka's values).
inline constexpr std::int64_t k_offset_beginning = -2;  ///< the oldest record still in the log
inline constexpr std::int64_t k_offset_end = -1;        ///< only records produced from now on
inline constexpr std::int64_t k_offset_stored = -1000;  ///< the group's committed offset (else auto.offset.reset)

struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  bool operator==(const topic_partition& o) const { return partition == o.partition && topic == o.topic; }
  bool operator<(const topic_partition& o) const {
    return topic < o.topic || (topic == o.topic && partition < o.partition);
  }
};

/// A position: `offset` is the next offset to read (so after processing offset o, commit o + 1).
struct topic_partition_offset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = k_offset_stored;
};

/// One consumed record. Owns the librdkafka message; key/payload point into it and stay valid
/// while this object lives. Move-only.
class kafka_message {
public:
  kafka_message() = default;
  explicit kafka_message(void* rd_message) noexcept : msg_(rd_message) {}
  kafka_message(kafka_message&& o) noexcept : msg_(o.msg_) { o.msg_ = nullptr; }
  kafka_message& operator=(kafka_message&& o) noexcept;
  kafka_message(const kafka_message&) = delete;
  kafka_message& operator=(const kafka_message&) = delete;
  ~kafka_message();

  std::string_view topic() const;
  std::int32_t partition() const;
  std::int64_t offset() const;
  const std::uint8_t* key() const;      ///< may be null
  std::size_t key_size() const;
  const std::uint8_t* payload() const;  ///< may be null (empty record); not necessarily aligned
  std::size_t payload_size() const;
  /// Record timestamp in ms since the Unix epoch (producer create time); -1 if unavailable.
  std::int64_t timestamp_ms() const;

private:
  void* msg_ = nullptr;  // rd_kafka_message_t*
};

/// How the consumer behaves.
struct kafka_consumer_options {
  std::string group_id = "ivfstream";        ///< consumer group (also used for commits with assign())
  /// Group session timeout. On the embedded (mock) broker a first join takes ~3 s (the mock
  /// coordinator's initial rebalance delay) and a rejoin up to ~session_timeout_ms; values below
  /// ~3000 never let the mock group stabilise (measured: 1000 ms hung > 20 s). Tests use 3000.
  std::uint32_t session_timeout_ms = 10000;
  std::uint32_t heartbeat_interval_ms = 0;   ///< 0 = session_timeout_ms / 5 (≥ 100)
  std::uint32_t max_poll_interval_ms = 300000;
  /// fetch.wait.max.ms: how long the broker holds a fetch when no data is ready. The mock broker
  /// always waits this long (a new record does not wake the fetch), so it is the latency floor of a
  /// hop. Measured produce→poll on the mock, 1 partition, producer linger_ms 0 (2-core box):
  /// 10 → p50 10.3 ms / p99 14 ms; 2 → 2.2 / 6.9; 1 → 0.08 / 6.8; 0 → 0.03 / 3.5 ms (but busy
  /// fetching: burns CPU). Ingest: 10 is plenty; the query topic and reply readers: 1.
  std::uint32_t fetch_wait_max_ms = 10;
  /// max.partition.fetch.bytes. Upsert records are large (1000 × 128-d ≈ 520 KB); librdkafka's
  /// 1 MiB default halves bulk throughput on the mock (measured consume+decode of 200k 128-d
  /// vectors in 1000-vector records over 32 partitions: 175k vec/s at 1 MiB, 308k vec/s at 8 MiB).
  std::uint32_t max_partition_fetch_bytes = 8u << 20;
  /// Where to start when a partition has no committed offset (k_offset_stored): "earliest"|"latest".
  std::string auto_offset_reset = "earliest";
  /// socket.nagle.disable: fetch requests leave at once (request/reply clients).
  bool nagle_disable = false;
  /// Group assignment: given the partitions assigned to this member, return where to start each
  /// one (e.g. the checkpoint's offsets; k_offset_stored = the committed offset). Partitions left out
  /// start at k_offset_stored. Empty function: all start at k_offset_stored.
  std::function<std::vector<topic_partition_offset>(const std::vector<topic_partition>&)> on_assign;
  /// Group revocation: these partitions are about to be taken away (checkpoint/commit them now).
  std::function<void(const std::vector<topic_partition>&)> on_revoke;
  /// Non-fatal consumer errors (broker down, unknown topic, ...); the consumer keeps going.
  std::function<void(const error&)> on_error;
};

/// Owns one librdkafka consumer.
class kafka_consumer {
public:
  /// Creates the client. Errors: a bad property (librdkafka's text) or a bad option.
  static result<std::unique_ptr<kafka_consumer>> create(const kafka_client_config& config,
                                                        kafka_consumer_options options = {});
  /// Leaves the group (revocation callbacks run) and destroys the client.
  ~kafka_consumer();
  kafka_consumer(const kafka_consumer&) = delete;
  kafka_consumer& operator=(const kafka_consumer&) = delete;

  /// Joins the group for `topics`; partitions arrive through on_assign during poll_batch().
  status subscribe(const std::vector<std::string>& topics);
  /// Fixed assignment without group management (replaces any previous one), starting at the given
  /// offsets. Commits still use group_id.
  status assign(const std::vector<topic_partition_offset>& positions);
  /// Moves assigned partitions to the given offsets (replay from there). @pre each is assigned.
  status seek(const std::vector<topic_partition_offset>& positions, std::chrono::milliseconds timeout);
  /// Up to max_messages records: waits up to `timeout` for the first, then takes what is already
  /// fetched without waiting. Serves group callbacks. Errors: only fatal consumer errors; others
  /// go to on_error and the batch continues.
  result<std::vector<kafka_message>> poll_batch(std::size_t max_messages, std::chrono::milliseconds timeout);
  /// Commits explicit offsets (next offset to read) for the group, synchronously.
  status commit(const std::vector<topic_partition_offset>& positions);
  /// The group's committed offsets (k_offset_stored where none).
  result<std::vector<topic_partition_offset>> committed(const std::vector<topic_partition>& partitions,
                                                        std::chrono::milliseconds timeout);
  /// Stops / restarts fetching these partitions (back-pressure); positions are kept.
  status pause(const std::vector<topic_partition>& partitions);
  status resume(const std::vector<topic_partition>& partitions);
  /// pause()/resume() of the whole current assignment.
  status pause_all();
  status resume_all();
  /// The current assignment.
  result<std::vector<topic_partition>> assignment();
  /// Low and high watermarks (first offset still stored, next offset to be written) from the broker.
  result<std::pair<std::int64_t, std::int64_t>> watermarks(const std::string& topic, std::int32_t partition,
                                                           std::chrono::milliseconds timeout);
  /// Leaves the group now (also done by the destructor).
  status close();

private:
  struct impl;
  explicit kafka_consumer(std::unique_ptr<impl> state);
  friend struct consumer_callbacks;
  std::unique_ptr<impl> impl_;
};

}  // namespace ivfstream::connectors
