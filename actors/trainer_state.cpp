#include "actors/trainer_state.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace ivfstream::actors {
namespace {

std::string str(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

}  // namespace

status retrain_policy::validate() const {
  if (reservoir_size < 1000 || reservoir_size > 10'000'000)
    return fail(errc::invalid_argument,
                "retrain.reservoir_size=" + std::to_string(reservoir_size) + ": must be in 1000..10000000");
  if (!(drift_threshold == 0.0 || drift_threshold >= 1.0) || !(drift_threshold <= 1e6))
    return fail(errc::invalid_argument,
                "retrain.drift_threshold=" + str(drift_threshold) + ": must be 0 (off) or in 1..1000000");
  if (error_window < 10 || error_window > 1'000'000)
    return fail(errc::invalid_argument,
                "retrain.error_window=" + std::to_string(error_window) + ": must be in 10..1000000");
  if (error_sample_every < 1 || error_sample_every > 1'000'000)
    return fail(errc::invalid_argument,
                "retrain.error_sample_every=" + std::to_string(error_sample_every) + ": must be in 1..1000000");
  if (background_nice < 0 || background_nice > 19)
    return fail(errc::invalid_argument,
                "retrain.background_nice=" + std::to_string(background_nice) + ": must be in 0..19");
  if (!(rebalance_split > 1.0) || !(rebalance_split <= 1e6))
    return fail(errc::invalid_argument,
                "retrain.rebalance_split=" + str(rebalance_split) + ": must be > 1 (and at most 1000000)");
  if (!(rebalance_merge >= 0.0 && rebalance_merge * 4.0 < rebalance_split))
    return fail(errc::invalid_argument, "retrain.rebalance_merge=" + str(rebalance_merge) +
                                            ": must be in [0, rebalance_split / 4) (else a split's halves merge back)");
  if (rebalance_check_ms < 10 || rebalance_check_ms > 3'600'000)
    return fail(errc::invalid_argument,
                "retrain.rebalance_check_ms=" + std::to_string(rebalance_check_ms) + ": must be in 10..3600000");
  return {};
}

const char* to_string(retrain_reason r) noexcept {
  switch (r) {
    case retrain_reason::none: return "none";
    case retrain_reason::inserts: return "inserts";
    case retrain_reason::time: return "time";
    case retrain_reason::drift: return "drift";
    case retrain_reason::forced: return "forced";
    case retrain_reason::rebalance: return "rebalance";
  }
  return "?";
}

trainer_state::trainer_state(retrain_policy policy, std::size_t dimension, std::uint64_t seed)
    : policy_(policy), dimension_(dimension), rng_(seed), last_training_(std::chrono::steady_clock::now()) {
  IVF_ASSERT(dimension >= 1);
  sample_.reserve(std::min<std::size_t>(policy_.reservoir_size, 65536) * dimension_);
}

void trainer_state::add_error(std::uint32_t list, double e) {
  if (window_.size() < policy_.error_window) {
    window_.push_back(static_cast<float>(e));
  } else {
    window_sum_ -= window_[window_next_];
    window_[window_next_] = static_cast<float>(e);
    window_next_ = (window_next_ + 1) % policy_.error_window;
  }
  window_sum_ += static_cast<float>(e);
  if (list < per_list_.size()) {
    per_list_[list].sum += e;
    ++per_list_[list].count;
  }
}

void trainer_state::observe(const float* x, std::size_t n, const codebook_set* cb) {
  const std::size_t d = dimension_;
  std::vector<float> prepared(x, x + n * d);
  if (cb) {
    if (!cb->prepare_vectors(prepared.data(), n, prepared.data())) return;  // rejected upstream anyway
    if (per_list_.size() != cb->num_partitions()) per_list_.assign(cb->num_partitions(), list_error{});
  }
  // Reservoir sampling (Vitter's algorithm R): after N offers every one is kept with probability cap/N.
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = prepared.data() + i * d;
    ++seen_;
    if (sample_.size() < policy_.reservoir_size * d) {
      sample_.insert(sample_.end(), row, row + d);
    } else {
      const std::uint64_t j = std::uniform_int_distribution<std::uint64_t>(0, seen_ - 1)(rng_);
      if (j < policy_.reservoir_size) std::copy_n(row, d, sample_.data() + j * d);
    }
  }
  since_training_ += n;
  if (!cb) return;
  // Quantisation error of every k-th insert: encode (assign + PQ) and decode, squared L2.
  std::vector<std::size_t> picked;
  for (std::size_t i = 0; i < n; ++i)
    if (measure_tick_++ % policy_.error_sample_every == 0) picked.push_back(i);
  if (picked.empty()) return;
  std::vector<float> rows(picked.size() * d);
  for (std::size_t j = 0; j < picked.size(); ++j) std::copy_n(prepared.data() + picked[j] * d, d, rows.data() + j * d);
  std::vector<std::uint32_t> lists(picked.size());
  std::vector<std::uint8_t> codes(picked.size() * cb->code_size());
  cb->encode(rows.data(), picked.size(), lists.data(), codes.data());
  std::vector<float> rec(d);
  for (std::size_t j = 0; j < picked.size(); ++j) {
    cb->decode(lists[j], codes.data() + j * cb->code_size(), rec.data());
    double e = 0;
    for (std::size_t t = 0; t < d; ++t) {
      const double diff = double(rows[j * d + t]) - rec[t];
      e += diff * diff;
    }
    add_error(lists[j], e);
  }
  // The first codebooks were trained without a baseline: the first full window after them sets it.
  if (baseline_ == 0 && window_.size() >= policy_.error_window) baseline_ = recent_error();
}

double trainer_state::recent_error() const noexcept {
  return window_.empty() ? 0.0 : window_sum_ / static_cast<double>(window_.size());
}

double trainer_state::drift() const noexcept {
  if (baseline_ <= 0 || window_.empty()) return 0.0;
  return recent_error() / baseline_;
}

retrain_reason trainer_state::due(time_point now, std::size_t min_sample) const {
  if (!policy_.enabled || training_ || sample_size() < min_sample || since_training_ == 0)
    return retrain_reason::none;
  // Drift needs a full window measured since the last training (a stale window says nothing).
  if (policy_.drift_threshold > 0 && window_.size() >= policy_.error_window && drift() >= policy_.drift_threshold)
    return retrain_reason::drift;
  if (policy_.every_inserts > 0 && since_training_ >= policy_.every_inserts) return retrain_reason::inserts;
  if (policy_.every_ms > 0 && now - last_training_ >= std::chrono::milliseconds(policy_.every_ms))
    return retrain_reason::time;
  return retrain_reason::none;
}

void trainer_state::training_started(time_point) {
  training_ = true;
  since_training_ = 0;  // inserts during the training and swap count towards the next one
}

void trainer_state::index_trained(time_point now) {
  since_training_ = 0;
  last_training_ = now;
}

void trainer_state::training_finished(time_point now, double baseline, std::size_t num_partitions) {
  training_ = false;
  last_training_ = now;
  baseline_ = baseline;
  window_.clear();
  window_next_ = 0;
  window_sum_ = 0;
  per_list_.assign(num_partitions, list_error{});
}

void trainer_state::training_abandoned(time_point now) {
  training_ = false;
  last_training_ = now;
}

double trainer_state::mean_error(const codebook_set& cb, const float* prepared, std::size_t n) {
  if (n == 0) return 0.0;
  const std::size_t d = cb.dimension(), cs = cb.code_size();
  std::vector<std::uint32_t> lists(n);
  std::vector<std::uint8_t> codes(n * cs);
  cb.encode(prepared, n, lists.data(), codes.data());
  std::vector<float> rec(d);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    cb.decode(lists[i], codes.data() + i * cs, rec.data());
    for (std::size_t t = 0; t < d; ++t) {
      const double diff = double(prepared[i * d + t]) - rec[t];
      total += diff * diff;
    }
  }
  return total / static_cast<double>(n);
}

}  // namespace ivfstream::actors
