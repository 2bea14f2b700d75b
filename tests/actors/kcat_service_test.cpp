// An independent client against `ivfstream serve`: kcat produces record files made here (an upsert
// batch, a query request) and reads the reply record, which must name the expected nearest ids.
#define BOOST_TEST_MODULE kcat_service
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connectors/record_codec.hpp"
#include "tests/index/synthetic_data.hpp"

extern char** environ;

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 16, n = 3000;

void write_file(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

std::map<std::string, std::string> read_kv(const fs::path& p) {
  std::map<std::string, std::string> kv;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  return kv;
}

}  // namespace

BOOST_AUTO_TEST_CASE(kcat_produces_records_and_reads_the_reply) {
  if (run("command -v kcat > /dev/null 2>&1") != 0) {
    BOOST_TEST_MESSAGE("kcat not installed (scripts/install-deps.sh installs it): skipped");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("ivf_kcat_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string bin = std::string(IVFSTREAM_BINARY_DIR) + "/apps/ivfstream";
  std::vector<std::string> args = {bin, "serve", "--embedded-broker", "--data-dir", (dir / "data").string(),
                                   "--bootstrap-file", (dir / "boot").string(), "--stats-file",
                                   (dir / "stats").string(), "--stats-interval", "0",
                                   "--set", "index.dimension=16", "--set", "index.num_partitions=8",
                                   "--set", "index.num_sub_vectors=4", "--set", "engine.train_after=1000",
                                   "--set", "kafka.topic_partitions=1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  BOOST_REQUIRE_EQUAL(posix_spawn(&pid, bin.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  struct reaper {
    pid_t pid;
    void stop() {
      if (pid <= 0) return;
      ::kill(pid, SIGTERM);
      int st = 0;
      waitpid(pid, &st, 0);
      pid = -1;
    }
    ~reaper() { stop(); }
  } guard{pid};
  // Waits are on conditions with generous limits (server start-up and training under ASan on a loaded
  // 2-core machine take many times what they take here).
  const auto started = std::chrono::steady_clock::now();
  while (!fs::exists(dir / "boot") && std::chrono::steady_clock::now() < started + 150s)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE_MESSAGE(fs::exists(dir / "boot"), "ivfstream serve wrote no bootstrap file within 150 s");
  std::string boot;
  std::getline(std::ifstream(dir / "boot"), boot);

  // One upsert record made here, produced by kcat (each file is one message with -P).
  const auto x = test::clustered_data(n, d, 10, 3);
  const auto ids = test::iota_ids(n, 500);
  write_file(dir / "upserts.bin", connectors::encode_upserts(ids.data(), x.data(), n, d));
  BOOST_REQUIRE_EQUAL(run("kcat -P -b " + boot + " -t ivfstream.vectors -k key1 " + (dir / "upserts.bin").string()), 0);
  bool indexed = false;
  for (const auto produced = std::chrono::steady_clock::now();
       !indexed && std::chrono::steady_clock::now() < produced + 150s;) {
    auto kv = read_kv(dir / "stats");
    indexed = kv.count("vectors") && kv["vectors"] == std::to_string(n);
    if (!indexed) std::this_thread::sleep_for(20ms);
  }
  BOOST_REQUIRE_MESSAGE(indexed, "the upsert record produced by kcat was not indexed");

  // A query request for row 17's vector (k = 1, exact re-rank): the reply must name id 517 at distance 0.
  connectors::query_request_fields f;
  f.correlation_id = "kcat-1";
  f.reply_topic = "ivfstream.replies";
  f.dimension = d;
  f.vectors = x.data() + 17 * d;
  f.num_queries = 1;
  f.k = 1;
  f.nprobes = 8;
  f.refine_factor = 2;
  write_file(dir / "query.bin", connectors::encode_query_request(f));
  BOOST_REQUIRE_EQUAL(run("kcat -P -b " + boot + " -t ivfstream.queries -k kcat-1 " + (dir / "query.bin").string()), 0);
  BOOST_REQUIRE_EQUAL(run("timeout 150 kcat -C -b " + boot + " -t ivfstream.replies -o beginning -c 1 -f '%s' > " +
                          (dir / "reply.bin").string()),
                      0);
  const auto bytes = read_file(dir / "reply.bin");
  auto reply = connectors::decode_query_response(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().to_string()));
  BOOST_CHECK_EQUAL(reply->correlation_id, "kcat-1");
  BOOST_CHECK_EQUAL(reply->error_code, 0);
  BOOST_REQUIRE_EQUAL(reply->results.size(), 1u);
  BOOST_REQUIRE_EQUAL(reply->results[0].ids.size(), 1u);
  BOOST_CHECK_EQUAL(reply->results[0].ids[0], 517u);
  BOOST_CHECK_EQUAL(reply->results[0].distances[0], 0.f);
  guard.stop();
  fs::remove_all(dir);
}
