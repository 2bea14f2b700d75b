// libFuzzer target: connectors::decode_query_request and peek_reply_address (query-topic requests).
// Property: never crashes or over-allocates; an accepted request is within every cap, has
// nq × d finite floats and a valid reply topic, and survives an encode/decode round trip.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "connectors/record_codec.hpp"

namespace {

using namespace ivfstream::connectors;

void check(const decoded_query_request& r, const record_limits& limits, const query_defaults& defaults) {
  if (r.num_queries == 0 || r.num_queries > limits.max_vectors_per_request) std::abort();
  if (r.dimension == 0 || r.vectors.size() != std::size_t{r.num_queries} * r.dimension) std::abort();
  if (limits.dimension != 0 && r.dimension != limits.dimension) std::abort();
  if (r.params.limit == 0 || r.params.limit > limits.max_k) std::abort();
  if (r.params.nprobes > limits.max_nprobes || r.params.refine_factor > limits.max_refine_factor) std::abort();
  if (r.deadline_ms == 0) std::abort();
  if (r.correlation_id.size() > k_max_correlation_id_bytes) std::abort();
  if (!validate_topic_name("reply_topic", r.reply_topic)) std::abort();
  for (float v : r.vectors)
    if (!std::isfinite(v)) std::abort();
  query_request_fields f;
  f.correlation_id = r.correlation_id;
  f.reply_topic = r.reply_topic;
  f.dimension = r.dimension;
  f.vectors = r.vectors.data();
  f.num_queries = r.num_queries;
  f.k = static_cast<std::uint32_t>(r.params.limit);
  f.nprobes = static_cast<std::uint32_t>(r.params.nprobes);
  f.refine_factor = static_cast<std::uint32_t>(r.params.refine_factor);
  f.deadline_ms = r.deadline_ms;
  const auto again = encode_query_request(f);
  auto back = decode_query_request(again.data(), again.size(), limits, defaults);
  if (!back || back->vectors != r.vectors || back->correlation_id != r.correlation_id ||
      back->reply_topic != r.reply_topic || back->params.limit != r.params.limit ||
      back->params.nprobes != r.params.nprobes || back->params.refine_factor != r.params.refine_factor ||
      back->deadline_ms != r.deadline_ms)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const query_defaults defaults;
  record_limits any;
  if (auto r = decode_query_request(data, size, any, defaults)) check(*r, any, defaults);
  record_limits tight;
  tight.dimension = 8;
  tight.max_k = 20;
  tight.max_nprobes = 8;
  tight.max_refine_factor = 4;
  tight.max_vectors_per_request = 4;
  tight.max_request_bytes = 2048;
  if (auto r = decode_query_request(data, size, tight, defaults)) check(*r, tight, defaults);
  if (auto a = peek_reply_address(data, size))
    if (!validate_topic_name("reply_topic", a->reply_topic)) std::abort();
  return 0;
}
