// kill -9 of `ivfstream serve` mid-ingest, restart on the same data directory, finish the stream:
// every acknowledged id is present exactly once with its latest vector, deleted ids are absent.
// One trial of tests/actors/crash_trial.hpp (scripts/crash-trials.sh runs many, with random kill
// moments). The broker runs in this test process (the embedded mock cluster), so it outlives the server.
#define BOOST_TEST_MODULE crash_recovery
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include <unistd.h>

#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "tests/actors/crash_trial.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_CASE(kill_9_mid_ingest_then_restart_loses_and_duplicates_nothing) {
  service_config cfg;
  cfg.kafka.topic_partitions = 4;
  auto broker = connectors::embedded_broker::start(cfg);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  test::crash_trial_options o;
  o.seed = 7;
  o.server_binary = std::string(IVFSTREAM_BINARY_DIR) + "/apps/ivfstream";
  o.bootstrap_servers = (*broker)->bootstrap_servers();
  o.data_dir = (fs::temp_directory_path() / ("ivf_crash_" + std::to_string(::getpid()))).string();
  o.topic_partitions = cfg.kafka.topic_partitions;
  // Killed at most 300 ms after the first checkpoint: the restart restores it and replays the rest.
  o.delay_from_first_checkpoint = true;
  o.max_kill_delay = 300ms;
  fs::remove_all(o.data_dir);
  const auto r = test::run_crash_trial(o);
  BOOST_TEST_MESSAGE("killed after " << r.killed_after.count() << " ms, " << r.consumed_at_kill
                                     << " records consumed; " << r.records << " records in all");
  BOOST_REQUIRE_MESSAGE(r.failure.empty(), r.failure);
  BOOST_TEST(r.checkpoint_at_kill);
  BOOST_TEST(r.lost == 0u);
  BOOST_TEST(r.duplicated == 0u);
  BOOST_TEST(r.wrong_vector == 0u);
  BOOST_TEST(r.resurrected == 0u);
  BOOST_TEST(r.expected_live > 0u);
  BOOST_TEST(r.expected_deleted > 0u);
  BOOST_TEST(r.checkpoint_offsets == static_cast<std::int64_t>(r.records));
  fs::remove_all(o.data_dir);
}
