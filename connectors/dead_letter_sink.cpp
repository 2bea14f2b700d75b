#include "connectors/dead_letter_sink.hpp"

#include <algorithm>
#include <chrono>

#include "connectors/record_codec.hpp"

namespace ivfstream::connectors {

dead_letter_sink::dead_letter_sink(kafka_producer& producer, std::string topic, std::size_t max_payload_bytes)
    : producer_(producer), topic_(std::move(topic)), max_payload_bytes_(max_payload_bytes) {}

status dead_letter_sink::reject(const kafka_message& source, const error& why) {
  return reject(source.topic(), source.partition(), source.offset(), source.key(), source.key_size(),
                source.payload(), source.payload_size(), why);
}

status dead_letter_sink::reject(std::string_view source_topic, std::int32_t source_partition,
                                std::int64_t source_offset, const std::uint8_t* key, std::size_t key_size,
                                const std::uint8_t* payload, std::size_t payload_size, const error& why) {
  counts_[static_cast<std::size_t>(why.code())].fetch_add(1, std::memory_order_relaxed);
  total_.fetch_add(1, std::memory_order_relaxed);
  dead_letter d;
  d.source_topic = std::string(source_topic);
  d.source_partition = source_partition;
  d.source_offset = source_offset;
  d.error_code = static_cast<std::uint8_t>(why.code());
  d.reason = why.message();
  if (payload != nullptr) {
    const std::size_t kept = std::min(payload_size, max_payload_bytes_);
    d.payload.assign(payload, payload + kept);
    if (kept < payload_size) {
      d.reason += " (payload truncated to " + std::to_string(kept) + " of " + std::to_string(payload_size) + " bytes)";
    }
  }
  if (key != nullptr) d.source_key.assign(key, key + key_size);
  d.rejected_at_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const std::vector<std::uint8_t> bytes = encode_dead_letter(d);
  status s = producer_.produce(topic_, key, key != nullptr ? key_size : 0, bytes.data(), bytes.size());
  if (!s) failed_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

std::uint64_t dead_letter_sink::count(errc code) const noexcept {
  return counts_[static_cast<std::size_t>(code)].load(std::memory_order_relaxed);
}

std::string dead_letter_sink::summary() const {
  std::string out;
  for (std::size_t c = 0; c < k_codes; ++c) {
    const std::uint64_t n = counts_[c].load(std::memory_order_relaxed);
    if (n == 0) continue;
    if (!out.empty()) out += ' ';
    out += std::string(to_string(static_cast<errc>(c))) + "=" + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

}  // namespace ivfstream::connectors
