// soak_driver: ingest and queries together against `ivfstream serve` for a while, on the embedded
// broker (run in this process, so that its memory is not the server's), and a per-minute table of
// the server's RSS, its progress, query errors and client-side query latency. Run by scripts/soak.sh.
//
//   soak_driver IVFSTREAM_BINARY [SECONDS=600] [VECTORS_PER_S=2000] [QUERIES_PER_S=50]
//
// Ingest: upsert records of 100 vectors (d = 32) over a fixed space of 100 000 ids, so the live set
// stops growing after the first pass; every 10th record deletes a random batch instead. Queries: one
// vector, k = 10, through the queries topic (query_client), paced; latency is send → reply.
// Exit status 0 iff no query failed and RSS levelled off: its growth over the second half of the run
// is under 10 % (the first half includes training and filling the id space).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/query_client.hpp"
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
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t k_dim = 32, k_id_space = 100000, k_batch = 100;

std::map<std::string, std::string> read_kv(const fs::path& path) {
  std::map<std::string, std::string> kv;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

// Resident set of `pid` in KiB (VmRSS), 0 if unreadable.
std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  return 0;
}

// One minute of the run.
struct minute_row {
  std::uint64_t rss_end_kib = 0, rss_max_kib = 0;
  std::uint64_t vectors_produced = 0, queries = 0, errors = 0;
  std::vector<double> latency_ms;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IVFSTREAM_BINARY [SECONDS=600] [VECTORS_PER_S=2000] [QUERIES_PER_S=50]\n", argv[0]);
    return 2;
  }
  const std::string binary = argv[1];
  const long seconds = argc > 2 ? std::atol(argv[2]) : 600;
  const long vectors_per_s = argc > 3 ? std::atol(argv[3]) : 2000;
  const long queries_per_s = argc > 4 ? std::atol(argv[4]) : 50;
  if (seconds < 60 || vectors_per_s < k_batch || queries_per_s < 1) {
    std::fprintf(stderr, "soak_driver: SECONDS >= 60, VECTORS_PER_S >= %zu, QUERIES_PER_S >= 1\n", k_batch);
    return 2;
  }
  const std::size_t minutes = static_cast<std::size_t>(seconds / 60);

  service_config cfg;
  cfg.kafka.topic_partitions = 8;
  cfg.index.dimension = k_dim;
  auto broker = connectors::embedded_broker::start(cfg);
  if (!broker) {
    std::fprintf(stderr, "soak_driver: %s\n", broker.error().to_string().c_str());
    return 1;
  }
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const fs::path dir = fs::temp_directory_path() / ("ivf_soak_" + std::to_string(::getpid()));
  const fs::path stats = dir.string() + ".stats";
  fs::remove_all(dir);

  std::vector<std::string> args = {binary, "serve", "--brokers", bootstrap, "--data-dir", dir.string(),
                                   "--stats-interval", "0", "--stats-file", stats.string(),
                                   "--set", "index.dimension=" + std::to_string(k_dim),
                                   "--set", "index.num_partitions=64", "--set", "index.num_sub_vectors=8",
                                   "--set", "engine.train_after=10000",
                                   "--set", "engine.checkpoint_interval_ms=10000",
                                   "--set", "kafka.topic_partitions=8"};
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, binary.c_str(), nullptr, nullptr, cargv.data(), environ) != 0) {
    std::fprintf(stderr, "soak_driver: cannot start %s\n", binary.c_str());
    return 1;
  }

  std::mutex mu;
  std::vector<minute_row> rows(minutes);
  const auto start = steady::now();
  const auto end = start + std::chrono::seconds(seconds);
  auto minute_of = [&](steady::time_point t) {
    return std::min(minutes - 1, static_cast<std::size_t>((t - start) / 60s));
  };
  std::atomic<bool> failed_start{false};

  // Ingest: paced upserts (and some deletes) over a fixed id space.
  std::thread ingest([&] {
    auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(cfg, bootstrap));
    if (!producer) {
      failed_start = true;
      return;
    }
    const auto x = test::clustered_data(k_id_space, k_dim, 64, 11);
    const auto ids = test::iota_ids(k_id_space, 1);
    std::mt19937_64 rng(5);
    const auto gap = std::chrono::microseconds(1000000 * static_cast<long>(k_batch) / vectors_per_s);
    auto next = steady::now();
    for (std::size_t r = 0; steady::now() < end; ++r) {
      std::size_t first = (r * k_batch) % k_id_space;
      std::vector<std::uint8_t> bytes;
      if (r % 10 == 9) {
        first = std::uniform_int_distribution<std::size_t>(0, k_id_space / k_batch - 1)(rng) * k_batch;
        bytes = connectors::encode_deletes(ids.data() + first, k_batch);
      } else {
        bytes = connectors::encode_upserts(ids.data() + first, x.data() + first * k_dim, k_batch, k_dim);
      }
      const auto key = connectors::vector_record_key(ids[first]);
      const bool ok = (*producer)->produce(cfg.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()).has_value();
      (*producer)->poll(0ms);
      {
        std::lock_guard<std::mutex> lock(mu);
        auto& row = rows[minute_of(steady::now())];
        if (ok) row.vectors_produced += k_batch;
      }
      next += gap;
      std::this_thread::sleep_until(next);
    }
    (void)(*producer)->flush(5s);
  });

  // Queries: paced, one vector each, through the queries topic.
  std::thread queries([&] {
    auto client = query_client::open(cfg, bootstrap);
    if (!client) {
      failed_start = true;
      return;
    }
    const auto q = test::clustered_data(1000, k_dim, 64, 12);
    const auto gap = std::chrono::microseconds(1000000 / queries_per_s);
    auto next = steady::now() + 2s;  // let the server start
    std::this_thread::sleep_until(next);
    for (std::size_t i = 0; steady::now() < end; ++i) {
      const auto t0 = steady::now();
      query_options o;
      o.k = 10;
      auto r = (*client)->query(q.data() + (i % 1000) * k_dim, 1, k_dim, o, 5s);
      const auto t1 = steady::now();
      // Before training the server answers not_trained: not an error of the soak.
      const bool not_trained = r && r->error_code == static_cast<std::uint8_t>(errc::not_trained);
      {
        std::lock_guard<std::mutex> lock(mu);
        auto& row = rows[minute_of(t0)];
        if (!not_trained) {
          ++row.queries;
          if (!r || r->error_code != 0)
            ++row.errors;
          else
            row.latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
      }
      next += gap;
      if (next > steady::now()) std::this_thread::sleep_until(next);
      else next = steady::now();
    }
  });

  // RSS of the server every second.
  bool server_died = false;
  while (steady::now() < end) {
    std::this_thread::sleep_for(1s);
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != 0) {
      server_died = true;
      break;
    }
    const auto kib = rss_kib(pid);
    std::lock_guard<std::mutex> lock(mu);
    auto& row = rows[minute_of(steady::now())];
    row.rss_end_kib = kib;
    row.rss_max_kib = std::max(row.rss_max_kib, kib);
  }
  ingest.join();
  queries.join();
  const auto kv = read_kv(stats);
  if (!server_died) {
    ::kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
  }

  std::printf("%6s %9s %9s %10s %9s %8s %7s %8s %8s\n", "minute", "rss_MiB", "rss_max", "vectors/s", "queries",
              "errors", "q/s", "p50_ms", "p99_ms");
  std::uint64_t errors = 0;
  for (std::size_t m = 0; m < minutes; ++m) {
    const auto& r = rows[m];
    errors += r.errors;
    std::printf("%6zu %9.1f %9.1f %10.0f %9llu %8llu %7.1f %8.2f %8.2f\n", m + 1, r.rss_end_kib / 1024.0,
                r.rss_max_kib / 1024.0, r.vectors_produced / 60.0, static_cast<unsigned long long>(r.queries),
                static_cast<unsigned long long>(r.errors), r.queries / 60.0, percentile(r.latency_ms, 0.5),
                percentile(r.latency_ms, 0.99));
  }
  const double mid = rows[minutes / 2 - (minutes >= 2 ? 1 : 0)].rss_end_kib;
  const double last = rows[minutes - 1].rss_end_kib;
  const double growth = mid > 0 ? 100.0 * (last - mid) / mid : 0;
  std::printf("server: vectors=%s records_consumed=%s codebook_version=%s checkpoint=%s lost_records=%s\n",
              kv.count("vectors") ? kv.at("vectors").c_str() : "?",
              kv.count("records_consumed") ? kv.at("records_consumed").c_str() : "?",
              kv.count("codebook_version") ? kv.at("codebook_version").c_str() : "?",
              kv.count("checkpoint") ? kv.at("checkpoint").c_str() : "?",
              kv.count("lost_records") ? kv.at("lost_records").c_str() : "?");
  std::printf("rss growth over the second half: %+.1f %% (minute %zu -> %zu); query errors: %llu%s%s\n", growth,
              minutes / 2 - (minutes >= 2 ? 1 : 0) + 1, minutes, static_cast<unsigned long long>(errors),
              server_died ? "; SERVER DIED" : "", failed_start ? "; a client failed to start" : "");
  fs::remove_all(dir);
  fs::remove(stats);
  return !server_died && !failed_start && errors == 0 && growth < 10.0 ? 0 : 1;
}
