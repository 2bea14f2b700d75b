#pragma once
// Wall-clock and per-thread CPU-time measurement for the benchmarks (apps/ivfstream/bench_command.cpp).
#include <chrono>
#include <ctime>

namespace ivfstream::apps {

/// Seconds of CPU time consumed so far by the calling thread (CLOCK_THREAD_CPUTIME_ID). Work done by
/// other threads (e.g. a second search thread) is not counted. Thread-safe (reads the caller's clock).
inline double thread_cpu_seconds() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Measures one interval in wall time (steady clock) and in the CPU time of the thread that created it.
/// Use from one thread only: the CPU reading belongs to the constructing thread.
class stopwatch {
 public:
  stopwatch() noexcept : wall_start_(std::chrono::steady_clock::now()), cpu_start_(thread_cpu_seconds()) {}

  /// Wall seconds since construction.
  double wall_seconds() const noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  }
  /// CPU seconds of the constructing thread since construction. @pre called on the constructing thread.
  double cpu_seconds() const noexcept { return thread_cpu_seconds() - cpu_start_; }

 private:
  std::chrono::steady_clock::time_point wall_start_;
  double cpu_start_;
};

}  // namespace ivfstream::apps
