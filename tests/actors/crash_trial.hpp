#pragma once
// One crash trial against `ivfstream serve` (a child process) on a broker the caller owns:
//   1. start the server on an empty data directory;
//   2. stream upserts, replacements and deletes into the vectors topic while a second thread
//      kill -9s the server after a random delay (it may be starting, training, consuming,
//      checkpointing, or idle);
//   3. stream more replacements, deletes and re-inserts, restart the server on the same directory,
//      wait until it consumed every record, stop it with SIGTERM (final checkpoint);
//   4. read the newest checkpoint and compare it with the expected state: every id whose last
//      acknowledged record is an upsert is present exactly once with that record's vector, every id
//      whose last record is a delete is absent.
// Used by crash_recovery_test (one trial, in the suite) and crash_trials (N trials,
// scripts/crash-trials.sh). No Boost.Test in here: failures come back in crash_trial_result.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ivfstream::test {

struct crash_trial_options {
  std::uint64_t seed = 1;             ///< ids, vectors, operation order and kill moment
  std::string server_binary;          ///< path of the ivfstream executable
  std::string bootstrap_servers;      ///< the broker (outlives the server: it runs in the caller)
  std::string data_dir;               ///< must not exist yet; removed at the end when the trial passes
  std::uint32_t topic_partitions = 4; ///< partitions of the vectors topic (the broker's setting)
  std::chrono::milliseconds max_kill_delay{2000};  ///< kill after a delay uniform in [0, this] ...
  bool delay_from_first_checkpoint = false;  ///< ... counted from the first checkpoint (else from the start)
  std::chrono::milliseconds produce_gap{20};        ///< pause between records of step 2 (spreads them over ~3 s)
};

struct crash_trial_result {
  std::string failure;                 ///< "" = the trial ran to the end (counts below are valid)
  std::size_t records = 0;             ///< records acknowledged by the broker
  std::size_t expected_live = 0;       ///< ids whose last record is an upsert
  std::size_t expected_deleted = 0;    ///< ids whose last record is a delete
  std::size_t lost = 0;                ///< expected live, absent
  std::size_t duplicated = 0;          ///< present more than once
  std::size_t wrong_vector = 0;        ///< present with a vector other than the latest
  std::size_t resurrected = 0;         ///< deleted (or never produced), present
  std::int64_t checkpoint_offsets = 0; ///< sum of the final checkpoint's offsets (should equal records)
  std::chrono::milliseconds kill_delay{0};  ///< the drawn delay (see the options)
  std::chrono::milliseconds killed_after{0};  ///< when the kill came, after the first start
  std::size_t consumed_at_kill = 0;    ///< records_consumed in the last stats the server wrote
  bool checkpoint_at_kill = false;     ///< a complete checkpoint existed when it was killed
  std::chrono::milliseconds duration{0};

  bool passed() const {
    return failure.empty() && lost == 0 && duplicated == 0 && wrong_vector == 0 && resurrected == 0 &&
           checkpoint_offsets == static_cast<std::int64_t>(records);
  }
};

/// Runs one trial (see the file comment). Blocks for about 5-20 s on a loaded machine.
crash_trial_result run_crash_trial(const crash_trial_options& options);

}  // namespace ivfstream::test
