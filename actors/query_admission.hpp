#pragma once
// Admission of queries against the [caps] of a service: what one search may ask for (k, nprobes,
// refine_factor, query vectors per request) and how many query vectors may be answered at once.
// A query over a cap is refused with resource_exhausted naming the value and the cap, before
// anything is allocated for it. Used by the embedded API (engine::search) and the query topic
// (query_responder); the Kafka decoder checks the same caps on the bytes (connectors::record_limits).
// Thread-safe: check() is const, acquire()/release() are atomic.
#include <atomic>
#include <cstdint>
#include <string>

#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream::actors {

/// The query caps ([caps] in config/service_config.hpp; defaults equal caps_config's).
struct query_caps {
  std::uint32_t max_k = 1000;                    ///< largest limit (k)
  std::uint32_t max_nprobes = 4096;              ///< largest nprobes
  std::uint32_t max_refine_factor = 100;         ///< largest refine_factor
  std::uint32_t max_vectors_per_request = 1024;  ///< query vectors in one request
  std::uint32_t max_inflight_queries = 1024;     ///< query vectors being answered at once
};

/// Checks one request's parameters and counts the query vectors in flight.
class query_admission {
public:
  explicit query_admission(query_caps caps = {}) : caps_(caps) {}

  /// OK iff `p` and `num_queries` are within the caps; else resource_exhausted, e.g.
  /// "search limit=5000: over the cap caps.max_k=1000".
  status check(const search_params& p, std::uint64_t num_queries = 1) const {
    if (p.limit > caps_.max_k) return over("search limit", p.limit, "caps.max_k", caps_.max_k);
    if (p.nprobes > caps_.max_nprobes) return over("search nprobes", p.nprobes, "caps.max_nprobes", caps_.max_nprobes);
    if (p.refine_factor > caps_.max_refine_factor)
      return over("search refine_factor", p.refine_factor, "caps.max_refine_factor", caps_.max_refine_factor);
    if (num_queries > caps_.max_vectors_per_request)
      return over("query vectors", num_queries, "caps.max_vectors_per_request", caps_.max_vectors_per_request);
    return {};
  }

  /// check(), then takes `num_queries` in-flight slots; resource_exhausted when they would exceed
  /// max_inflight_queries ("in-flight queries=1025: over the cap caps.max_inflight_queries=1024").
  /// Every successful acquire() must be matched by release(num_queries).
  status acquire(const search_params& p, std::uint64_t num_queries = 1) {
    IVF_TRY(check(p, num_queries));
    std::uint64_t now = inflight_.load(std::memory_order_relaxed);
    do {
      if (now + num_queries > caps_.max_inflight_queries)
        return over("in-flight queries", now + num_queries, "caps.max_inflight_queries", caps_.max_inflight_queries);
    } while (!inflight_.compare_exchange_weak(now, now + num_queries, std::memory_order_relaxed));
    return {};
  }

  void release(std::uint64_t num_queries = 1) noexcept { inflight_.fetch_sub(num_queries, std::memory_order_relaxed); }

  /// Query vectors admitted and not yet released.
  std::uint64_t inflight() const noexcept { return inflight_.load(std::memory_order_relaxed); }
  const query_caps& caps() const noexcept { return caps_; }

private:
  static error over(const char* what, std::uint64_t value, const char* cap, std::uint64_t limit) {
    return fail(errc::resource_exhausted, std::string(what) + "=" + std::to_string(value) + ": over the cap " + cap +
                                              "=" + std::to_string(limit));
  }

  query_caps caps_;
  std::atomic<std::uint64_t> inflight_{0};
};

}  // namespace ivfstream::actors
