#pragma once
// leadership: which node of a scale-out cluster trains the codebooks, with failover (issue 6).
// One node trains and publishes each codebook version (actors/codebook_topic.hpp); the others
// install it. The training node is the one whose own peer address sorts first among the nodes that
// are up (peer_service::trains_now): when it goes down for longer than `grace`, the next one takes
// over, and when it comes back it takes over again.
//
// Taking over: only once this node's codebook_sync has read the codebooks topic to its end and the
// engine serves the topic's newest version (so the next version it trains, live + 1, is newer than
// everything published); then the engine trains with the configured train_after and retrain policy
// (engine::set_training; a node that never got codebooks trains its buffered vectors at once when
// they reach train_after) and codebook_sync publishes what it trains.
// Handing back: the engine's triggers go off at once; publishing stops only after a training or
// swap that was running has finished and its version is published, so a version trained by a node
// that is stepping down still reaches every node.
// Two nodes that cannot see each other (a network partition) may both train: they then publish
// versions of the same number with other contents; codebook_sync reports it, and searches across
// them are partial (version_mismatch) until the next published version, which every node installs.
//
// Thread-safety: runs on a thread of its own; the accessors may be called from any thread. Destroy
// before the codebook_sync, peer_service and engine it was given.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "actors/codebook_topic.hpp"
#include "actors/engine.hpp"
#include "actors/peer_service.hpp"
#include "actors/trainer_state.hpp"

namespace ivfstream {

struct leadership_options {
  std::uint64_t train_after = 0;              ///< what the engine trains after while it leads (0 = the default)
  actors::retrain_policy retrain;             ///< its retrain policy while it leads
  /// While it follows: keep the reservoir sample (retrain enabled, every trigger off) for the leader's
  /// distributed training (peers.distributed_training).
  bool keep_reservoir = true;
  std::chrono::milliseconds grace{3000};      ///< a lower-sorted peer down for less than this still leads
  std::chrono::milliseconds interval{200};    ///< how often the roles are checked
};

class leadership {
public:
  /// Starts as a follower (sets the engine's follower training), then checks every interval.
  /// Errors: an invalid retrain policy, grace or interval below 1 ms, those of engine::set_training.
  static result<std::unique_ptr<leadership>> start(engine& e, peer_service& peers, codebook_sync& books,
                                                   leadership_options options);
  ~leadership();
  leadership(const leadership&) = delete;
  leadership& operator=(const leadership&) = delete;

  /// This node trains and publishes now.
  bool leads() const noexcept { return leads_.load(); }
  /// Times this node took over or handed back training.
  std::uint64_t changes() const noexcept { return changes_.load(); }
  /// Last failure of a check or a switch, "" if none.
  std::string last_error() const;

  /// The policy a follower runs: `p` with every trigger off (and enabled when keep_reservoir).
  static actors::retrain_policy follower_policy(actors::retrain_policy p, bool keep_reservoir);
  /// A train_after no stream reaches: a follower never trains on its own.
  static constexpr std::uint64_t k_never = std::uint64_t{1} << 40;

private:
  leadership() = default;
  void run();
  void step();
  void note(const error& e);

  engine* engine_ = nullptr;
  peer_service* peers_ = nullptr;
  codebook_sync* books_ = nullptr;
  leadership_options options_;
  std::atomic<bool> leads_{false};
  bool stepping_down_ = false;  // triggers off, waiting for the last version to be published
  std::atomic<std::uint64_t> changes_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace ivfstream
