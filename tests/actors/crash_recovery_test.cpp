// kill -9 of `ivfstream serve` mid-ingest, restart on the same data directory, finish the stream:
// every produced id is present exactly once with its latest vector, deleted ids are absent.
// The broker runs in this test process (the embedded mock cluster), so it outlives the server.
#define BOOST_TEST_MODULE crash_recovery
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/checkpoint.hpp"
#include "actors/partition_state.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/index/synthetic_data.hpp"

extern char** environ;

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 16, n = 16000, batch = 100;
constexpr std::uint32_t P = 3;

struct server {
  pid_t pid = -1;
  fs::path stats;
  void start(const std::string& bootstrap, const fs::path& dir) {
    stats = dir.string() + ".stats";
    fs::remove(stats);
    const std::string bin = std::string(IVFSTREAM_BINARY_DIR) + "/apps/ivfstream";
    std::vector<std::string> args = {bin, "serve", "--brokers", bootstrap, "--data-dir", dir.string(),
                                     "--stats-interval", "0", "--stats-file", stats.string(),
                                     "--set", "index.dimension=16", "--set", "index.num_partitions=16",
                                     "--set", "index.num_sub_vectors=4", "--set", "index.max_iterations=10",
                                     "--set", "engine.train_after=3000", "--set", "engine.partition_actors=3",
                                     "--set", "engine.checkpoint_interval_ms=150",
                                     "--set", "engine.checkpoint_interval_records=0",
                                     "--set", "kafka.topic_partitions=4"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    BOOST_REQUIRE_EQUAL(posix_spawn(&pid, bin.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  }
  std::map<std::string, std::string> read_stats() const {
    std::map<std::string, std::string> kv;
    std::ifstream in(stats);
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return kv;
  }
  // Waits until the server consumed `records` records of the vectors topic.
  void wait_consumed(std::size_t records) {
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      auto kv = read_stats();
      if (kv.count("records_consumed") && std::stoull(kv["records_consumed"]) >= records) return;
      int status = 0;
      BOOST_REQUIRE_MESSAGE(waitpid(pid, &status, WNOHANG) == 0, "ivfstream serve exited early");
      std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("server did not consume " << records << " records in time");
  }
  void kill9() {
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
  }
  int stop() {
    ::kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~server() {
    if (pid > 0) kill9();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(kill_9_mid_ingest_then_restart_loses_and_duplicates_nothing) {
  service_config cfg;
  cfg.kafka.topic_partitions = 4;
  auto broker = connectors::embedded_broker::start(cfg);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  const std::string bootstrap = (*broker)->bootstrap_servers();
  auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(cfg, bootstrap));
  BOOST_REQUIRE(producer);
  const fs::path dir = fs::temp_directory_path() / ("ivf_crash_" + std::to_string(::getpid()));
  fs::remove_all(dir);

  const auto x = test::clustered_data(n, d, 30, 71);
  const auto y = test::clustered_data(n, d, 30, 72);  // replacement vectors
  const auto ids = test::iota_ids(n, 1);
  std::map<std::uint64_t, const float*> latest;     // expected final state
  std::size_t records = 0;
  auto upsert = [&](std::size_t first, const std::vector<float>& src) {
    const auto bytes = connectors::encode_upserts(ids.data() + first, src.data() + first * d, batch, d);
    const auto key = connectors::vector_record_key(ids[first]);
    BOOST_REQUIRE((*producer)->produce(cfg.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()));
    for (std::size_t i = first; i < first + batch; ++i) latest[ids[i]] = src.data() + i * d;
    ++records;
  };
  auto remove = [&](std::size_t first) {
    const auto bytes = connectors::encode_deletes(ids.data() + first, batch);
    const auto key = connectors::vector_record_key(ids[first]);
    BOOST_REQUIRE((*producer)->produce(cfg.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()));
    for (std::size_t i = first; i < first + batch; ++i) latest.erase(ids[i]);
    ++records;
  };

  server s;
  s.start(bootstrap, dir);
  // Phase 1: half the ids; wait for a checkpoint to exist.
  for (std::size_t off = 0; off < n / 2; off += batch) upsert(off, x);
  BOOST_REQUIRE((*producer)->flush(10s));
  s.wait_consumed(records);
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (!actors::latest_checkpoint(dir.string()) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE(actors::latest_checkpoint(dir.string()));
  // Phase 2: the rest, replacements and deletes, with a kill -9 while the server is consuming.
  std::size_t produced_phase2 = 0;
  for (std::size_t off = n / 2; off < n; off += batch) {
    upsert(off, x);
    if (off % (4 * batch) == 0) upsert(off - n / 2, y);   // replace an old batch
    if (off % (8 * batch) == 0) remove(off - n / 2 + batch);  // delete another old batch
    if (++produced_phase2 == 30) s.kill9();  // records still in flight: the server is mid-ingest
  }
  BOOST_REQUIRE((*producer)->flush(10s));
  std::this_thread::sleep_for(200ms);
  s.start(bootstrap, dir);
  // Phase 3: more replacements after the restart.
  for (std::size_t off = 0; off < n; off += 7 * batch) upsert(off, y);
  BOOST_REQUIRE((*producer)->flush(10s));
  s.wait_consumed(records);
  BOOST_CHECK_EQUAL(s.stop(), 0);  // SIGTERM: final checkpoint

  auto m = actors::latest_checkpoint(dir.string());
  BOOST_REQUIRE(m);
  std::map<std::uint64_t, int> seen;
  std::size_t wrong_vector = 0;
  for (std::uint32_t p = 0; p < P; ++p) {
    actors::partition_state part(p, P);
    BOOST_REQUIRE(part.install(m->codebooks));
    BOOST_REQUIRE(part.load(m->partition_files[p]));
    part.for_each([&](std::uint64_t id, std::uint32_t, const std::uint8_t*, const float* v) {
      ++seen[id];
      auto it = latest.find(id);
      if (it == latest.end() || !v || !std::equal(v, v + d, it->second)) ++wrong_vector;
    });
  }
  std::size_t duplicates = 0, missing = 0;
  for (const auto& [id, c] : seen) duplicates += c > 1;
  for (const auto& [id, v] : latest) missing += !seen.count(id);
  BOOST_CHECK_EQUAL(missing, 0u);
  BOOST_CHECK_EQUAL(duplicates, 0u);
  BOOST_CHECK_EQUAL(wrong_vector, 0u);
  BOOST_CHECK_EQUAL(seen.size(), latest.size());
  std::int64_t consumed = 0;
  for (const auto& [tp, off] : m->offsets) consumed += off;
  BOOST_CHECK_EQUAL(consumed, static_cast<std::int64_t>(records));
  fs::remove_all(dir);
  fs::remove(s.stats);
}
