#pragma once
// Checkpoint manifests (schemas/checkpoint.fbs): which codebooks, which partition snapshot files and
// which Kafka offsets make up one consistent state of a node.
//
// Layout of a data directory:
//   <data_dir>/checkpoint-<seq>/partition-<p>.ivps   partition snapshots (schemas/partition_snapshot.fbs)
//   <data_dir>/manifest-<seq>.ivcm                   the manifest, written last (temp + fsync + rename)
// A checkpoint exists once its manifest does; the newest manifest that verifies and whose partition
// files all verify is the one a restart uses. Older checkpoints are deleted after a newer one completes.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/error.hpp"

namespace ivfstream::actors {

/// Kafka offsets: (topic, partition) → next offset to consume.
using offset_map = std::map<std::pair<std::string, std::int32_t>, std::int64_t>;

/// Everything a manifest names.
struct checkpoint_manifest {
  std::uint64_t sequence = 0;
  std::int64_t created_unix_ms = 0;
  std::uint32_t num_partition_actors = 0;
  std::shared_ptr<const codebook_set> codebooks;
  std::vector<std::string> partition_files;   ///< absolute paths, index = partition
  std::vector<std::uint64_t> partition_sizes; ///< live vectors per partition
  offset_map offsets;
  std::uint64_t train_after = 0;
  /// Written by a consumer-group node (kafka.group_ingest): `owned_ids` is then meaningful.
  bool group_ingest = false;
  /// Group mode: per topic-partition of `offsets`, the ids whose latest upsert came from it (a restart
  /// drops those of partitions the group gives to another node). Keys not in `offsets` are not written.
  std::map<std::pair<std::string, std::int32_t>, std::vector<std::uint64_t>> owned_ids;
};

/// Directory holding the partition snapshots of checkpoint `seq`.
std::string checkpoint_directory(const std::string& data_dir, std::uint64_t seq);
/// Path of the manifest of checkpoint `seq`.
std::string manifest_path(const std::string& data_dir, std::uint64_t seq);

/// Writes the manifest durably (the partition files must already be durable). Thread-safe.
status write_manifest(const std::string& data_dir, const checkpoint_manifest& m);
/// Reads and verifies one manifest. Errors: not_found, corrupt_data, version_mismatch.
result<checkpoint_manifest> read_manifest(const std::string& data_dir, std::uint64_t seq);
/// The newest complete checkpoint, or nullopt when there is none. Incomplete or corrupt ones
/// (a crash mid-write) are skipped.
std::optional<checkpoint_manifest> latest_checkpoint(const std::string& data_dir);
/// Deletes every checkpoint older than `keep_seq` (manifests first, then their directories).
void remove_checkpoints_before(const std::string& data_dir, std::uint64_t keep_seq);

}  // namespace ivfstream::actors
