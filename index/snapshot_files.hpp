#pragma once
// Crash-consistent file handling of ivfpq_index::save: the snapshot and its raw-vector file are
// replaced as one pair. The raw vectors of each save are a new *generation*, a file of their own
//   <snapshot>.vectors.<N>      N decimal, 1 + the largest generation present beside the snapshot
// named inside the snapshot (RawVectors.file_name), and the snapshot is renamed into place last:
//   1. vectors_written   <snapshot>.vectors.<N>.tmp written and fsynced
//   2. vectors_renamed   renamed to <snapshot>.vectors.<N>; directory fsynced
//   3. snapshot_written  <snapshot>.tmp written and fsynced
//   4. snapshot_renamed  renamed to <snapshot>; directory fsynced        ← the commit point
//   5. done              older generations and leftover .tmp files of this snapshot removed
// A crash before step 4 leaves the old snapshot and the generation it names untouched, so load()
// gives the old index; from step 4 on the snapshot names a complete, fsynced new generation, so
// load() gives the new one. Leftovers of a crash are removed by the next successful save.
// Snapshots written before generations existed name "<snapshot>.vectors"; they still load, and the
// next save removes that file too.
#include <cstdint>
#include <string>

#include "index/error.hpp"

namespace ivfstream {

/// The steps of ivfpq_index::save, in order (see above).
enum class save_step : std::uint8_t { vectors_written, vectors_renamed, snapshot_written, snapshot_renamed, done };

/// 1 + the largest N of the files "<base>.vectors.<N>" (and their ".tmp") in the snapshot's directory;
/// 1 when there are none. Thread-safety: reentrant (reads the directory).
std::uint64_t next_vectors_generation(const std::string& snapshot_path);
/// "<snapshot_path>.vectors.<generation>".
std::string vectors_generation_path(const std::string& snapshot_path, std::uint64_t generation);
/// fsyncs the directory holding `path` (makes a rename in it durable). Errors: io_error.
status sync_parent_directory(const std::string& path);
/// Removes, best effort, "<base>.tmp", "<base>.vectors" and every "<base>.vectors.<N>[.tmp]" in the
/// snapshot's directory except the file named `keep` (a plain file name; empty keeps none).
void remove_stale_vectors(const std::string& snapshot_path, const std::string& keep);

}  // namespace ivfstream
