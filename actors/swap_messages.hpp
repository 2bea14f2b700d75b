#pragma once
// Payloads of the hot-swap protocol (actors/swap_protocol.hpp): what a partition reports when it
// starts a shadow under the next codebook version. In-process only (unsafe message types).
#include <cstdint>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/messages.hpp"

namespace ivfstream::actors {

/// A partition's answer to "build a shadow under version v+1".
struct shadow_start {
  std::uint32_t partition = 0;
  std::uint64_t version = 0;                  ///< the shadow's codebook version
  /// Entries whose list under v+1 another partition owns: index = destination partition, each a
  /// partition_update of version v+1 with ids, lists and prepared vectors (codes empty: the
  /// destination encodes). Empty updates for partitions that receive nothing.
  std::vector<partition_update> emigrants;
  std::vector<std::uint64_t> kept;            ///< ids this partition's shadow holds (its own entries)
  std::uint64_t shadow_bytes = 0;             ///< codes + ids of the shadow lists
  std::optional<ivfstream::error> failure;    ///< set when no shadow was built
};

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::shadow_start)
