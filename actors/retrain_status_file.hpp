#pragma once
// The live retraining state of a running engine, published in its data directory for
// `ivfstream inspect` (which reads checkpoints only otherwise): the codebook version serving queries,
// the version being trained or swapped in, and the drift that drives retraining.
//
// File: <data_dir>/retrain-status, text, one `key=value` per line, rewritten (temp file + rename, so a
// reader never sees half of it) by the ingest actor at every phase change and every 250 ms while
// retraining is enabled. Keys (unknown keys are ignored by readers; add, never rename):
//   pid, written_unix_ms, live_version, phase (idle|training|building|committing), building_version
//   (0 = none), drift, drift_threshold (0 = off), recent_error, baseline_error, reservoir_vectors,
//   inserts_since_training, swaps, failed_swaps, last_reason, last_train_ms, last_swap_ms,
//   shadow_bytes, peak_shadow_bytes, last_error, last_train_device (cpu | cuda | "" before the first retrain),
//   swap_carried, swap_reencoded (entries of the running or last swap whose code carried over / were
//   encoded again), rebalances, last_rebalance.
#include <cstdint>
#include <map>
#include <string>

#include "actors/swap_protocol.hpp"
#include "index/error.hpp"

namespace ivfstream::actors {

/// Name of the file inside the data directory.
inline constexpr const char* k_retrain_status_file = "retrain-status";

/// The file's text for `s` (see the file comment).
std::string format_retrain_status(const retrain_status& s, std::uint64_t live_version, double drift_threshold,
                                  std::int64_t pid, std::int64_t written_unix_ms);
/// Writes the file into data_dir (temp + rename). Errors: io_error naming the path.
status write_retrain_status(const std::string& data_dir, const std::string& text);
/// Reads the file of data_dir as key → value. Errors: not_found when there is none (the engine never
/// ran with retraining there), io_error.
result<std::map<std::string, std::string>> read_retrain_status(const std::string& data_dir);
/// Human-readable lines for `ivfstream inspect`: live version, version being built (or none), drift
/// against its threshold, swaps; `now_unix_ms` gives the age of the file.
std::string describe_retrain_status(const std::map<std::string, std::string>& kv, std::int64_t now_unix_ms);

}  // namespace ivfstream::actors
