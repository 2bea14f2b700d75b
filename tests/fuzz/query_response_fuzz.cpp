// libFuzzer target: connectors::decode_query_response (replies, decoded by clients) and
// decode_dead_letter (dead-letter records, read by operators' tools). Both decode bytes another
// process wrote. Property: never crashes; what decodes re-encodes to the same values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "connectors/record_codec.hpp"

using namespace ivfstream::connectors;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (auto r = decode_query_response(data, size)) {
    for (const auto& h : r->results)
      if (h.ids.size() != h.distances.size()) std::abort();
    const auto again = encode_query_response(*r);
    auto back = decode_query_response(again.data(), again.size());
    if (!back || back->correlation_id != r->correlation_id || back->results.size() != r->results.size() ||
        back->missing_partitions != r->missing_partitions || back->error_code != r->error_code ||
        back->error_message != r->error_message || back->partial != r->partial)
      std::abort();
    for (std::size_t i = 0; i < r->results.size(); ++i)
      if (back->results[i].ids != r->results[i].ids) std::abort();
  }
  if (auto d = decode_dead_letter(data, size)) {
    const auto again = encode_dead_letter(*d);
    auto back = decode_dead_letter(again.data(), again.size());
    if (!back || back->payload != d->payload || back->reason != d->reason || back->source_topic != d->source_topic ||
        back->source_offset != d->source_offset || back->source_key != d->source_key)
      std::abort();
  }
  return 0;
}
