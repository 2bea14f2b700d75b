#include "actors/reencoder.hpp"

#include <memory>

#include "actors/thread_priority.hpp"

namespace ivfstream::actors {

caf::behavior reencoder(caf::event_based_actor* /*self*/, int nice) {
  auto lowered = std::make_shared<bool>(nice <= 0);
  auto lower = [lowered, nice] {
    if (!*lowered) {
      // Best effort: without it the swap still works, only with more effect on query latency.
      (void)lower_this_thread_priority(nice);
      *lowered = true;
    }
  };
  auto cache = std::make_shared<carry_cache>();  // this encoder's: one swap's carry between its blocks
  return {[lower](shadow_atom, std::uint64_t n) -> id_map {
            lower();
            id_map m;
            m.reserve(static_cast<std::size_t>(n));
            return m;
          },
          [lower, cache](encode_atom, reencode_block& b) -> reencode_block {
    lower();
    encode_block(b, *cache);
    return std::move(b);
  }};
}

}  // namespace ivfstream::actors
