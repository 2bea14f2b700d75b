#pragma once
// A reusable barrier for a fixed team of threads that advance in lock-step (C++17 has no std::barrier).
// wait() returns once all `count` members have called it for the current step; the step then advances.
// Members spin briefly on the step counter before sleeping on a condition variable: k-means++ steps
// (kernels/kmeans.cpp) take tens of microseconds, about what a futex wake-up costs.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ivfstream::kernels::internal {

class step_barrier {
 public:
  explicit step_barrier(std::size_t count) : count_(count == 0 ? 1 : count) {}
  step_barrier(const step_barrier&) = delete;
  step_barrier& operator=(const step_barrier&) = delete;

  /// Blocks until every member has arrived for this step. What a member wrote before wait() is
  /// visible to every member after it. Thread-safe.
  void wait() {
    const std::size_t step = step_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
      arrived_.store(0, std::memory_order_relaxed);  // nobody arrives for step + 1 before step_ moves
      {
        std::lock_guard<std::mutex> lock(mutex_);
        step_.store(step + 1, std::memory_order_release);
      }
      moved_.notify_all();
      return;
    }
    for (int i = 0; i < k_spins; ++i) {
      if (step_.load(std::memory_order_acquire) != step) return;
      relax();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    moved_.wait(lock, [&] { return step_.load(std::memory_order_acquire) != step; });
  }

 private:
  static constexpr int k_spins = 1024;  // ~5-50 µs of pause instructions (by CPU model) before sleeping

  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  const std::size_t count_;
  std::atomic<std::size_t> arrived_{0};  // members at the barrier in this step
  std::atomic<std::size_t> step_{0};     // completed steps
  std::mutex mutex_;
  std::condition_variable moved_;
};

}  // namespace ivfstream::kernels::internal
