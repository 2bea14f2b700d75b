#pragma once
// Sends rejected records to the dead-letter topic as DeadLetter records (schemas/records.fbs) and
// counts them per reason (errc). The stream goes on: rejecting never throws or blocks for long.
//
// Threads: reject() and the counters are thread-safe (the producer's produce() is); delivery is
// reported through the producer's poll(), which its owner runs.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {

/// Produces DeadLetter records through a producer the caller owns.
class dead_letter_sink {
public:
  /// Payloads longer than this are cut to it in the DeadLetter (the reason says so), so that a
  /// rejected oversized record still fits a broker's default 1 MB message limit.
  static constexpr std::size_t k_default_max_payload_bytes = 900u << 10;

  /// @pre `producer` outlives the sink.
  dead_letter_sink(kafka_producer& producer, std::string topic,
                   std::size_t max_payload_bytes = k_default_max_payload_bytes);

  /// Records `source` as rejected for `why`: a DeadLetter with its topic, partition, offset, key
  /// and payload, keyed by the source key. Counted even when producing fails (then failed() too).
  status reject(const kafka_message& source, const error& why);
  /// The same for a record known by its coordinates and bytes.
  status reject(std::string_view source_topic, std::int32_t source_partition, std::int64_t source_offset,
                const std::uint8_t* key, std::size_t key_size, const std::uint8_t* payload,
                std::size_t payload_size, const error& why);

  /// Records rejected with this code so far.
  std::uint64_t count(errc code) const noexcept;
  /// Records rejected so far, any reason.
  std::uint64_t total() const noexcept { return total_.load(std::memory_order_relaxed); }
  /// Dead letters that could not be queued on the producer.
  std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  /// "corrupt_data=2 non_finite=1 ..." (codes with a non-zero count), for logs and `inspect`.
  std::string summary() const;
  const std::string& topic() const noexcept { return topic_; }

private:
  static constexpr std::size_t k_codes = 256;  // errc is a uint8_t
  kafka_producer& producer_;
  std::string topic_;
  std::size_t max_payload_bytes_;
  std::array<std::atomic<std::uint64_t>, k_codes> counts_{};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace ivfstream::connectors
