// libFuzzer target: actors::decode_peer_request and decode_peer_reply (schemas/peer.fbs), the bytes
// another `ivfstream serve` node sends over a peer link.
// Input layout: byte 0 = num_queries the reply must answer (0..255), byte 1 = max_candidates per
// query (0..255), bytes 2.. = one PeerSearchRequest or PeerSearchReply (each decoder sees the same
// bytes; the file identifier makes at most one of them accept).
// Properties: never crashes or over-allocates; an accepted request is within every cap, has nq × d
// finite floats, k and nprobes >= 1 and a budget of at most an hour; an accepted reply either carries
// a known error code and a bounded message and no results, or exactly num_queries results of at most
// max_candidates finite candidates each; both survive an encode/decode round trip unchanged.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "actors/peer_codec.hpp"

namespace {

using namespace ivfstream;
using namespace ivfstream::actors;

// The largest error message the reply decoder keeps (peer_codec.cpp) plus its "unknown error
// code N: " prefix.
constexpr std::size_t k_max_message = 4096 + 64;

void check_request(const peer_request& r, const peer_limits& limits) {
  if (r.dimension == 0 || r.queries.empty() || r.queries.size() % r.dimension != 0) std::abort();
  const std::size_t nq = r.queries.size() / r.dimension;
  if (nq > limits.caps.max_vectors_per_request) std::abort();
  if (r.params.limit == 0 || r.params.limit > limits.caps.max_k) std::abort();
  if (r.params.nprobes == 0 || r.params.nprobes > limits.caps.max_nprobes) std::abort();
  if (r.params.refine_factor > limits.caps.max_refine_factor) std::abort();
  if (r.budget.count() < 0 || r.budget.count() > std::int64_t{3600} * 1000000) std::abort();
  for (float v : r.queries)
    if (!std::isfinite(v)) std::abort();
  auto back = decode_peer_request(encode_peer_request(r), limits);
  if (!back || back->codebooks != r.codebooks || back->dimension != r.dimension || back->queries != r.queries ||
      back->params.limit != r.params.limit || back->params.nprobes != r.params.nprobes ||
      back->params.refine_factor != r.params.refine_factor ||
      back->params.polysemous_ht != r.params.polysemous_ht || back->budget != r.budget)
    std::abort();
}

bool same_candidates(const std::vector<scan_candidate>& a, const std::vector<scan_candidate>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].distance != b[i].distance || a[i].exact_distance != b[i].exact_distance)
      return false;
  return true;
}

void check_reply(const peer_reply& r, std::size_t nq, std::size_t max_candidates, const peer_limits& limits) {
  if (r.failure) {
    if (!r.results.empty()) std::abort();
    const auto code = static_cast<std::uint8_t>(r.failure->code());
    if (code < static_cast<std::uint8_t>(errc::invalid_argument) || code > static_cast<std::uint8_t>(errc::internal))
      std::abort();
    if (r.failure->message().size() > k_max_message) std::abort();
  } else {
    if (r.results.size() != nq) std::abort();
    for (const auto& q : r.results) {
      if (q.candidates.size() > max_candidates) std::abort();
      for (const auto& c : q.candidates)
        if (!std::isfinite(c.distance) || !std::isfinite(c.exact_distance)) std::abort();
    }
  }
  auto back = decode_peer_reply(encode_peer_reply(r), nq, max_candidates, limits);
  if (!back || back->codebooks != r.codebooks || back->server_time_us != r.server_time_us ||
      back->failure.has_value() != r.failure.has_value() || back->results.size() != r.results.size())
    std::abort();
  // The message survives unless the decoder's "unknown error code N: " prefix pushed it over the
  // 4096 bytes it keeps (then the second decode truncates it again).
  if (r.failure && (back->failure->code() != r.failure->code() ||
                    (r.failure->message().size() <= 4096 && back->failure->message() != r.failure->message())))
    std::abort();
  for (std::size_t i = 0; i < r.results.size(); ++i)
    if (!same_candidates(back->results[i].candidates, r.results[i].candidates) ||
        back->results[i].missing_partitions != r.results[i].missing_partitions)
      std::abort();
}

void run(const std::vector<char>& bytes, std::size_t nq, std::size_t max_candidates, const peer_limits& limits) {
  if (auto r = decode_peer_request(bytes, limits)) check_request(*r, limits);
  if (auto r = decode_peer_reply(bytes, nq, max_candidates, limits)) check_reply(*r, nq, max_candidates, limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t nq = data[0];
  const std::size_t max_candidates = data[1];
  const std::vector<char> bytes(reinterpret_cast<const char*>(data) + 2, reinterpret_cast<const char*>(data) + size);
  run(bytes, nq, max_candidates, peer_limits{});
  peer_limits tight;
  tight.caps.max_k = 20;
  tight.caps.max_nprobes = 8;
  tight.caps.max_refine_factor = 4;
  tight.caps.max_vectors_per_request = 4;
  tight.max_request_bytes = 2048;
  tight.max_reply_bytes = 4096;
  run(bytes, nq, max_candidates, tight);
  return 0;
}
