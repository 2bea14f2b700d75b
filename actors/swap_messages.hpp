#pragma once
// Payloads of the hot-swap protocol (actors/swap_protocol.hpp): what a partition reports when it
// starts a shadow under the next codebook version. In-process only (unsafe message types).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/messages.hpp"
#include "index/code_carry.hpp"
#include "index/id_map.hpp"

namespace ivfstream::actors {

/// One block of a shadow rebuild: rows copied out of a partition's vector store, encoded under the
/// shadow's codebooks on a background thread (actors/reencoder.hpp), then placed by the partition.
struct reencode_block {
  std::shared_ptr<const codebook_set> codebooks;  ///< the shadow's (v+1)
  std::shared_ptr<const codebook_set> live;       ///< the version the entries are encoded under now (v)
  std::vector<std::uint64_t> ids;                 ///< n ids
  std::vector<std::uint64_t> rows;                ///< n vector-store rows of the partition
  std::vector<float> vectors;                     ///< n × d prepared vectors, row-major (copies)
  std::vector<std::uint32_t> live_lists;          ///< n lists under v
  std::vector<std::uint8_t> live_codes;           ///< n × code_size bytes under v, row-major
  std::vector<std::uint32_t> lists;               ///< n lists under v+1 (filled by the encoder)
  std::vector<std::uint8_t> codes;                ///< n × code_size bytes, row-major (filled by the encoder)
  std::uint64_t carried = 0;                      ///< entries whose v code was kept (filled by the encoder)
  std::size_t size() const noexcept { return ids.size(); }
};

/// The code carry of the swap an encoder works on (index/code_carry.hpp), kept between its blocks:
/// worked out once per pair of versions, off the partition actor. carry is null when codes cannot carry;
/// it holds the next version weakly, so a cached carry never keeps an abandoned version's memory.
struct carry_cache {
  std::uint64_t live_version = 0, next_version = 0;
  std::shared_ptr<const code_carry> carry;
};

/// Fills b.lists, b.codes and b.carried: entries whose list keeps its centroid under v+1 and stays
/// their nearest keep their v code (code_carry), the others are assigned and encoded under v+1; every
/// entry is encoded when the versions' codes cannot carry (a retrain).
void encode_block(reencode_block& b, carry_cache& cache);

/// A partition's answer to "build a shadow under version v+1".
struct shadow_start {
  std::uint32_t partition = 0;
  std::uint64_t version = 0;                  ///< the shadow's codebook version
  /// Entries whose list under v+1 another partition owns, in chunks of at most one re-encoded block:
  /// each a partition_update of version v+1 bound for one partition (owner of every list in it,
  /// lists[i] % partitions) with ids, lists, codes (encoded under v+1 already) and prepared vectors
  /// (for the destination's vector store). Chunks are never empty and travel as they are (one migrate
  /// message each), so neither side copies or grows a buffer of all the emigrants.
  std::vector<partition_update> emigrants;
  std::vector<std::uint64_t> kept;            ///< ids this partition's shadow holds (its own entries)
  std::uint64_t shadow_bytes = 0;             ///< codes + ids of the shadow lists
  std::uint64_t carried = 0;                  ///< entries whose code carried over from v (rebalance)
  std::uint64_t reencoded = 0;                ///< entries assigned and encoded again under v+1
  std::optional<ivfstream::error> failure;    ///< set when no shadow was built
};

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::shadow_start)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::reencode_block)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::id_map)
