#pragma once
// The codebooks topic (kafka.topics.codebooks): how the nodes of a scale-out cluster come to serve the
// same codebooks. One node (the leader, see codebook_sync) trains and publishes each version as a
// CodebookRecord FlatBuffer (schemas/codebooks.fbs; params and codebooks written by
// index/codebook_codec, the same tables as snapshots and checkpoints) with record key "codebooks", so
// a compacted topic keeps the newest. The other nodes do not train: they read the topic and install
// the newest version (engine::install_codebooks), after which their peer searches agree
// (actors/peer_codec.hpp: version and fingerprint).
//
// A node that is trained already (restored, or following an earlier version) takes a newer published
// version through the hot-swap protocol (engine::install_codebooks → actors/swap_protocol.hpp): the
// leader retrains and publishes v+1, every follower swaps to it; until a node has committed, peers
// on the other version answer version_mismatch and are reported missing (partial), so no answer ever
// mixes two versions.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "config/service_config.hpp"
#include "index/codebook_set.hpp"
#include "index/error.hpp"

namespace ivfstream::connectors {
class kafka_consumer;
}

namespace ivfstream {

/// A decoded CodebookRecord.
struct codebook_record {
  std::shared_ptr<const codebook_set> codebooks;
  std::uint64_t fingerprint = 0;  ///< checked against the codebooks on decode
  std::string publisher;
  std::int64_t published_unix_ms = 0;
};

/// The record value for `cb` ("IVCB").
std::vector<std::uint8_t> encode_codebook_record(const codebook_set& cb, const std::string& publisher);
/// Verifies and decodes a record. Errors: corrupt_data (identifier, Verifier, params, array sizes,
/// non-finite values, fingerprint that does not match the codebooks), version_mismatch.
result<codebook_record> decode_codebook_record(const std::uint8_t* bytes, std::size_t size);

/// Publishes `cb` on config.kafka.topics.codebooks and waits for its delivery (up to `timeout`).
status publish_codebooks(const service_config& config, const std::string& bootstrap_servers, const codebook_set& cb,
                         const std::string& publisher, std::chrono::milliseconds timeout);

/// Reads the codebooks topic from its beginning, every partition, and keeps the newest version seen
/// (the last read among equal versions). Undecodable records are skipped (counted). One thread.
class codebook_reader {
public:
  static result<std::unique_ptr<codebook_reader>> open(const service_config& config,
                                                       const std::string& bootstrap_servers);
  ~codebook_reader();
  /// Reads what has arrived (waits up to `timeout` for the first record) and returns the newest.
  result<std::optional<codebook_record>> poll(std::chrono::milliseconds timeout);
  std::uint64_t skipped() const noexcept { return skipped_; }
  /// True once every record that was on the topic when the reader opened has been read (so the newest
  /// it returns is at least the newest published before then).
  bool at_end() const noexcept;

private:
  codebook_reader() = default;
  std::unique_ptr<connectors::kafka_consumer> consumer_;
  std::optional<codebook_record> newest_;
  std::uint64_t skipped_ = 0;
  std::vector<std::int64_t> end_;   // per partition: the high watermark when opened
  std::vector<std::int64_t> next_;  // per partition: the next offset to read
};

/// Keeps one engine in step with the codebooks topic, on its own thread. Every node installs the newest
/// published codebooks when the engine is not trained, and hot-swaps to a newer published version when
/// it is (a version it skipped is never needed). The leader (the node that trains, actors/leadership.hpp)
/// also publishes the engine's codebooks whenever their version grows past the newest on the topic (first
/// training, retrains) — only once it has read the topic to its end and caught up with it, so that a
/// node taking over training never publishes an older version over a newer one.
/// A follower should not train or retrain on its own (serve: train_after out of reach, triggers off).
class codebook_sync {
public:
  static result<std::unique_ptr<codebook_sync>> start(engine& e, const service_config& config,
                                                      const std::string& bootstrap_servers, bool leader,
                                                      std::string publisher,
                                                      std::chrono::milliseconds interval = std::chrono::milliseconds(500));
  /// Stops the thread.
  ~codebook_sync();
  /// Newest version published or installed so far, 0 = none.
  std::uint64_t version() const noexcept { return version_.load(); }
  /// Publishes from now on (leader) or not (follower).
  void set_leader(bool leader) noexcept { leader_ = leader; }
  bool leader() const noexcept { return leader_.load(); }
  /// Newest version read back from the topic (this node's own publications included), 0 = none.
  std::uint64_t topic_version() const noexcept { return topic_version_.load(); }
  /// The topic was read to its end and the engine serves at least its newest version.
  bool caught_up() const noexcept { return caught_up_.load(); }
  /// Last failure of a publish/read/install, "" if none.
  std::string last_error() const;

private:
  codebook_sync() = default;
  void run();
  engine* engine_ = nullptr;
  service_config config_;
  std::string bootstrap_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> caught_up_{false};
  std::atomic<std::uint64_t> topic_version_{0};
  std::string publisher_;
  std::chrono::milliseconds interval_{500};
  std::unique_ptr<codebook_reader> reader_;
  std::atomic<std::uint64_t> version_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace ivfstream
