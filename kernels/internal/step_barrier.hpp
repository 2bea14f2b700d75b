#pragma once
// A reusable barrier for a fixed team of threads that advance in lock-step (C++17 has no std::barrier).
// wait() returns once all `count` members have called it for the current step; the step then advances.
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace ivfstream::kernels::internal {

class step_barrier {
 public:
  explicit step_barrier(std::size_t count) : count_(count == 0 ? 1 : count) {}
  step_barrier(const step_barrier&) = delete;
  step_barrier& operator=(const step_barrier&) = delete;

  /// Blocks until every member has arrived for this step. What a member wrote before wait() is
  /// visible to every member after it (the mutex orders them). Thread-safe.
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::size_t step = step_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++step_;
      lock.unlock();
      all_arrived_.notify_all();
      return;
    }
    all_arrived_.wait(lock, [&] { return step_ != step; });
  }

 private:
  const std::size_t count_;
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  std::size_t arrived_ = 0;  // members at the barrier in this step
  std::size_t step_ = 0;     // completed steps
};

}  // namespace ivfstream::kernels::internal
