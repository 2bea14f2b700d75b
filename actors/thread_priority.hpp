#pragma once
// Background work at low CPU priority: the trainer and the re-encoders of a hot swap run on their own
// threads (detached actors) and lower those threads' priority, so that on a box with few cores the
// scheduler's workers (scans, query planning) win the CPU whenever they are runnable and the swap
// uses what is left (bench/README.md "Continuous retraining").
#include "index/error.hpp"

namespace ivfstream::actors {

/// Nice value of background threads (Linux per-thread nice: 19 = lowest share of the CPU).
inline constexpr int k_background_nice = 19;

/// Lowers the calling thread's CPU priority to `nice` (Linux: setpriority on the thread id; a thread
/// may always lower its own priority). nice ≥ k_background_nice also moves the thread to Linux's
/// SCHED_IDLE class (no privilege needed): it runs only on CPU that no normal thread wants, and a
/// waking query thread preempts it at once. It then gets almost nothing while other normal threads
/// keep every core busy (a swap waits for idle CPU). Other platforms: no-op. Call only on a thread this process
/// will not reuse for latency-sensitive work (a detached actor's own thread).
/// Errors: the system call failed (message names nice and errno).
status lower_this_thread_priority(int nice = k_background_nice);

}  // namespace ivfstream::actors
