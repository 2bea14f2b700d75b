// crash_trials: N crash trials of `ivfstream serve` (tests/actors/crash_trial.hpp), each on a fresh
// embedded broker and data directory, and a table of what each found. Run by scripts/crash-trials.sh.
//
//   crash_trials IVFSTREAM_BINARY [TRIALS=20] [FIRST_SEED=1] [MAX_KILL_DELAY_MS=2000]
//
// Odd seeds draw the kill delay from the server's start (it may die before training or before its
// first checkpoint), even seeds from its first checkpoint (it restores one and replays the rest).
// Exit status 0 iff every trial ran and lost, duplicated, wrong-vector and resurrected are all 0.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "tests/actors/crash_trial.hpp"

using namespace ivfstream;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IVFSTREAM_BINARY [TRIALS=20] [FIRST_SEED=1] [MAX_KILL_DELAY_MS=2000]\n", argv[0]);
    return 2;
  }
  const std::string binary = argv[1];
  const int trials = argc > 2 ? std::atoi(argv[2]) : 20;
  const std::uint64_t first_seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  const long max_delay_ms = argc > 4 ? std::atol(argv[4]) : 2000;
  if (trials < 1 || max_delay_ms < 0) {
    std::fprintf(stderr, "crash_trials: TRIALS must be >= 1 and MAX_KILL_DELAY_MS >= 0\n");
    return 2;
  }
  std::printf("%5s %-10s %8s %9s %10s %8s %7s %6s %6s %5s %5s %5s %7s  %s\n", "seed", "from", "kill_ms",
              "consumed", "checkpoint", "records", "live", "deleted", "lost", "dup", "wrong", "resur", "secs",
              "failure");
  std::size_t lost = 0, dup = 0, wrong = 0, resurrected = 0, failed = 0;
  for (int t = 0; t < trials; ++t) {
    const std::uint64_t seed = first_seed + static_cast<std::uint64_t>(t);
    service_config cfg;
    cfg.kafka.topic_partitions = 4;
    auto broker = connectors::embedded_broker::start(cfg);
    if (!broker) {
      std::fprintf(stderr, "crash_trials: %s\n", broker.error().to_string().c_str());
      return 1;
    }
    test::crash_trial_options o;
    o.seed = seed;
    o.server_binary = binary;
    o.bootstrap_servers = (*broker)->bootstrap_servers();
    o.data_dir = (fs::temp_directory_path() /
                  ("ivf_crash_trial_" + std::to_string(::getpid()) + "_" + std::to_string(seed)))
                     .string();
    o.topic_partitions = cfg.kafka.topic_partitions;
    o.max_kill_delay = std::chrono::milliseconds(max_delay_ms);
    o.delay_from_first_checkpoint = seed % 2 == 0;
    fs::remove_all(o.data_dir);
    const auto r = test::run_crash_trial(o);
    std::printf("%5llu %-10s %8lld %9zu %10s %8zu %7zu %6zu %6zu %5zu %5zu %5zu %7.1f  %s\n",
                static_cast<unsigned long long>(seed), o.delay_from_first_checkpoint ? "checkpoint" : "start",
                static_cast<long long>(r.killed_after.count()), r.consumed_at_kill,
                r.checkpoint_at_kill ? "yes" : "no", r.records, r.expected_live, r.expected_deleted, r.lost,
                r.duplicated, r.wrong_vector, r.resurrected, r.duration.count() / 1000.0,
                r.failure.empty() ? (r.passed() ? "" : "checkpoint offsets != records") : r.failure.c_str());
    std::fflush(stdout);
    lost += r.lost;
    dup += r.duplicated;
    wrong += r.wrong_vector;
    resurrected += r.resurrected;
    failed += !r.passed();
    if (r.passed()) fs::remove_all(o.data_dir);
  }
  std::printf("trials=%d failed=%zu lost=%zu duplicated=%zu wrong_vector=%zu resurrected=%zu\n", trials, failed,
              lost, dup, wrong, resurrected);
  return failed == 0 ? 0 : 1;
}
