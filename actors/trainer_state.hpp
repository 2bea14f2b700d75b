#pragma once
// The logic of continuous retraining, free of CAF and threads: a bounded reservoir sample of the
// stream, the quantisation error of the inserts under the live codebooks (overall and per list),
// and the decision when to train the next codebook version (every N inserts, every T ms, or when
// the error drifted past a threshold relative to the error right after the last training).
//
// Memory: reservoir_size × d floats for the sample, error_window floats for the recent errors,
// num_partitions × 16 bytes for the per-list error. Nothing else grows with the stream.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/error.hpp"

namespace ivfstream::actors {

/// When to retrain ([retrain] in the service configuration).
struct retrain_policy {
  bool enabled = false;                ///< master switch (the engine never retrains when false)
  std::size_t reservoir_size = 20000;  ///< vectors in the reservoir sample, 1000..10'000'000
  std::uint64_t every_inserts = 0;     ///< retrain after this many inserts since the last training (0 = never)
  std::uint64_t every_ms = 0;          ///< retrain this often, if anything was inserted (0 = never)
  double drift_threshold = 1.5;        ///< retrain when recent error / error at training ≥ this (0 = never), else ≥ 1
  std::size_t error_window = 1000;     ///< recent measured errors averaged for drift, 10..1'000'000
  std::size_t error_sample_every = 4;  ///< measure the quantisation error of every k-th insert, ≥ 1
  bool refresh_centroids = true;       ///< also retrain the IVF centroids (vectors then move between lists)
  /// Nice value of the training and re-encoding threads, 0..19 (Linux per-thread nice; 0 = same as
  /// the queries). 19: a swap uses only the CPU that queries leave idle (also SCHED_IDLE on Linux,
  /// actors/thread_priority.hpp), so their latency barely moves but the swap takes longer while
  /// queries keep the cores busy (bench/README.md).
  int background_nice = 19;
  /// List rebalancing (issue 6, index/centroid_rebalance.hpp): every rebalance_check_ms the ingest actor
  /// reads the partitions' list sizes; when a list holds more than rebalance_split × or fewer than
  /// rebalance_merge × the mean, the trainer plans splits and merges of the coarse centroids on the
  /// reservoir and the hot swap moves the entries (a retrain_reason::rebalance swap).
  bool rebalance = false;
  double rebalance_split = 4.0;                 ///< > 1
  double rebalance_merge = 0.25;                ///< in [0, rebalance_split / 4)
  std::uint64_t rebalance_check_ms = 1000;      ///< 10..3600000

  /// Message names the field, the value and the allowed range.
  status validate() const;
};

/// Why a retrain is due.
enum class retrain_reason { none, inserts, time, drift, forced, rebalance };
const char* to_string(retrain_reason r) noexcept;

/// Mean quantisation error of one list (squared L2 between a prepared vector and its reconstruction).
struct list_error {
  double sum = 0;
  std::uint64_t count = 0;
  double mean() const noexcept { return count ? sum / static_cast<double>(count) : 0.0; }
};

/// Not thread-safe: owned by the ingest actor (or a test). The trainer thread gets a copy of the sample.
class trainer_state {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// @pre policy.validate() succeeded.
  trainer_state(retrain_policy policy, std::size_t dimension, std::uint64_t seed = 42);

  /// Feeds n inserted vectors (x: n × d as the user gave them; prepared with cb for cosine): they
  /// enter the reservoir, and every error_sample_every-th one is encoded + decoded with cb to measure
  /// its quantisation error. cb may be null (not trained: reservoir only). Invalid rows are skipped.
  void observe(const float* x, std::size_t n, const codebook_set* cb);

  /// The index was just trained from the vectors buffered before it had codebooks (observed with a
  /// null cb): they are in that training, so the insert count restarts and the time schedule with it.
  void index_trained(time_point now);

  /// What is due at `now` (none while a training runs). Needs at least `min_sample` vectors sampled.
  retrain_reason due(time_point now, std::size_t min_sample) const;
  /// A training started (it trains on sample()); the insert count restarts here.
  void training_started(time_point now);
  /// The training ended: `baseline` is the mean error of the new codebooks on their training
  /// sample (0 = unknown: the next error_window measured inserts set it). Resets the error window.
  void training_finished(time_point now, double baseline, std::size_t num_partitions);
  /// The training failed or its swap was abandoned: another may start later.
  void training_abandoned(time_point now);
  bool training() const noexcept { return training_; }

  /// The reservoir (sample_size() × d floats, prepared vectors, row-major).
  const std::vector<float>& sample() const noexcept { return sample_; }
  std::size_t sample_size() const noexcept { return sample_.size() / dimension_; }
  std::uint64_t seen() const noexcept { return seen_; }
  std::uint64_t inserts_since_training() const noexcept { return since_training_; }

  /// Mean error of the last error_window measured inserts (0 when none).
  double recent_error() const noexcept;
  /// Error right after the last training (0 = not known yet).
  double baseline_error() const noexcept { return baseline_; }
  /// recent_error / baseline_error, 0 while either is unknown.
  double drift() const noexcept;
  /// Error per list of the live codebooks since the last training (index = list).
  const std::vector<list_error>& list_errors() const noexcept { return per_list_; }
  const retrain_policy& policy() const noexcept { return policy_; }
  /// Replaces the triggers and switches (a node that starts or stops training for a cluster,
  /// engine::set_training); the sizes of what is held, reservoir_size and error_window, stay.
  /// @pre p.validate() succeeded.
  void set_policy(const retrain_policy& p) {
    const std::size_t reservoir = policy_.reservoir_size, window = policy_.error_window;
    policy_ = p;
    policy_.reservoir_size = reservoir;
    policy_.error_window = window;
  }

  /// Mean squared reconstruction error of x (n × d prepared vectors) under cb.
  static double mean_error(const codebook_set& cb, const float* prepared, std::size_t n);

private:
  void add_error(std::uint32_t list, double e);

  retrain_policy policy_;
  std::size_t dimension_;
  std::mt19937_64 rng_;
  std::vector<float> sample_;         // reservoir: sample_size() × d
  std::uint64_t seen_ = 0;            // vectors offered to the reservoir
  std::uint64_t since_training_ = 0;  // inserts since the last training finished
  std::uint64_t measure_tick_ = 0;
  std::vector<float> window_;         // ring of recent errors (≤ error_window)
  std::size_t window_next_ = 0;
  double window_sum_ = 0;
  double baseline_ = 0;
  std::vector<list_error> per_list_;
  bool training_ = false;
  time_point last_training_;
};

}  // namespace ivfstream::actors
