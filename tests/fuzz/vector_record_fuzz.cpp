// libFuzzer target: connectors::decode_vector_record (vectors-topic upsert/delete records).
// Property: never crashes or over-allocates; an accepted record is self-consistent (n ids, n × d
// finite floats, within the caps) and re-encodes to a record that decodes to the same values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "connectors/record_codec.hpp"

namespace {

using namespace ivfstream::connectors;

void check(const decoded_vector_record& r, const record_limits& limits) {
  if (r.ids.size() > limits.max_batch_vectors) std::abort();
  if (r.kind == vector_record_kind::upsert) {
    if (r.dimension == 0 || r.vectors.size() != r.ids.size() * r.dimension) std::abort();
    if (limits.dimension != 0 && r.dimension != limits.dimension) std::abort();
    for (float v : r.vectors)
      if (!std::isfinite(v)) std::abort();
    const auto again = encode_upserts(r.ids.data(), r.vectors.data(), r.ids.size(), r.dimension, r.created_at_us);
    auto back = decode_vector_record(again.data(), again.size(), limits);
    if (!back || back->ids != r.ids || back->vectors != r.vectors || back->created_at_us != r.created_at_us)
      std::abort();
  } else {
    if (!r.vectors.empty()) std::abort();
    const auto again = encode_deletes(r.ids.data(), r.ids.size(), r.created_at_us);
    auto back = decode_vector_record(again.data(), again.size(), limits);
    if (!back || back->kind != vector_record_kind::remove || back->ids != r.ids) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  record_limits any;  // dimension 0 = any, default caps
  if (auto r = decode_vector_record(data, size, any)) check(*r, any);
  record_limits tight;
  tight.dimension = 8;
  tight.max_batch_vectors = 16;
  tight.max_batch_bytes = 4096;
  if (auto r = decode_vector_record(data, size, tight)) check(*r, tight);
  return 0;
}
