#pragma once
// `ivfstream serve` as a child process of a test, on a broker the test owns: started with
// posix_spawn, watched through the stats file it rewrites every 200 ms (--stats-file), stopped with
// SIGTERM or killed with SIGKILL. Used by the crash trials (crash_trial.cpp) and the multi-process
// cluster test (cluster_process_test.cpp). No Boost.Test in here: failures come back as text.
//
// Thread-safety: one thread drives a process, except kill9() and the stats readers, which another
// thread may call while the owner waits (crash trials kill from a second thread).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ivfstream::test {

/// Next offset of each topic-partition a server has staged: (topic, partition) → next offset.
using staged_offsets = std::map<std::pair<std::string, std::int32_t>, std::int64_t>;

class serve_process {
public:
  /// `args` follow "serve" on the command line; "--stats-file <stats_path>" is appended, and
  /// "--stats-interval 0" unless `args` name one. With a non-empty `log_path` the child's stdout and stderr go there (appended across
  /// restarts), else to the test's.
  serve_process(std::string binary, std::vector<std::string> args, std::string stats_path,
                std::string log_path = "");
  /// Kills the process if it still runs (SIGKILL) and removes the stats file.
  ~serve_process();
  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  /// Starts (or restarts) the server; false when posix_spawn failed. Removes an old stats file first.
  bool start();
  /// key=value lines of the stats file (the last one wins for a repeated key; see offsets()).
  std::map<std::string, std::string> read_stats() const;
  /// A counter of the stats file, 0 when absent.
  std::uint64_t counter(const std::string& key) const;
  /// The "offset=<topic>:<partition>:<next>" lines of the stats file.
  staged_offsets offsets() const;
  /// The "query_partition=<p>" lines of the stats file: queries-topic partitions the server answers.
  std::vector<std::int32_t> query_partitions() const;
  /// records_consumed of the stats file.
  std::size_t consumed() const { return counter("records_consumed"); }

  /// Polls `done` every 20 ms until it holds (""), the process exits or `timeout` passes (the reason,
  /// naming `what`).
  std::string wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                         const std::string& what);
  /// Waits until the server consumed `records` records (wait_until over consumed()).
  std::string wait_consumed(std::size_t records, std::chrono::milliseconds timeout);

  /// False when the process has exited (it is then reaped).
  bool running();
  /// SIGKILL and reap; nothing when not running.
  void kill9();
  /// SIGTERM and wait; the exit status (128 + signal when killed by one), -1 when not running.
  int stop();
  pid_t pid() const noexcept { return pid_; }
  const std::string& log_path() const noexcept { return log_; }

private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string stats_, log_;
  pid_t pid_ = -1;
};

}  // namespace ivfstream::test
