#pragma once
// A bounded fork-join loop for offline work (training): fn(i) for i in [0, n) on up to `threads`
// std::threads (the calling thread is one of them), items taken in order from a shared counter.
// No pool, no global state: threads are started and joined inside the call.
#include <cstddef>
#include <functional>

namespace ivfstream::kernels {

/// Threads to use for a `threads` request: 0 → std::thread::hardware_concurrency() (1 if unknown),
/// otherwise `threads`. Thread-safe.
int resolve_threads(int threads) noexcept;

/// Runs fn(i) for every i in [0, n), on min(resolve_threads(threads), n) threads, and returns when all
/// are done. fn must be safe to call concurrently for different i. An exception thrown by fn stops the
/// loop from taking new items and is rethrown on the calling thread after every thread has joined (the
/// first one wins). Thread-safety: reentrant.
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& fn);

}  // namespace ivfstream::kernels
