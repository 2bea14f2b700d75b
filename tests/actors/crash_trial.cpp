#include "tests/actors/crash_trial.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "actors/checkpoint.hpp"
#include "actors/partition_state.hpp"
#include "config/service_config.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/actors/serve_process.hpp"
#include "tests/index/synthetic_data.hpp"

namespace ivfstream::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// d = 16, 16000 ids in records of 100: small enough for ~10 s per trial, large enough that the
// server trains (train_after 3000), writes several checkpoints and is killed mid-stream.
constexpr std::size_t k_dim = 16, k_ids = 16000, k_batch = 100;
constexpr std::uint32_t k_partition_actors = 3;
constexpr auto k_consume_timeout = 150s;  // generous: ASan, a loaded 2-core machine

// The server's command line after "serve" (serve_process adds the stats file).
std::vector<std::string> server_args(const std::string& bootstrap, const fs::path& dir, std::uint32_t topic_partitions) {
  return {"--brokers", bootstrap, "--data-dir", dir.string(),
          "--set", "index.dimension=" + std::to_string(k_dim),
          "--set", "index.num_partitions=16", "--set", "index.num_sub_vectors=4",
          "--set", "index.max_iterations=10", "--set", "engine.train_after=3000",
          "--set", "engine.partition_actors=" + std::to_string(k_partition_actors),
          "--set", "engine.checkpoint_interval_ms=150",
          "--set", "engine.checkpoint_interval_records=0",
          "--set", "kafka.topic_partitions=" + std::to_string(topic_partitions)};
}

// The records of a trial and the state they should leave behind.
class stream_model {
public:
  stream_model(connectors::kafka_producer& producer, std::string topic, const std::vector<std::uint64_t>& ids)
      : producer_(producer), topic_(std::move(topic)), ids_(ids) {}

  bool upsert(std::size_t first_id_index, const std::vector<float>& src) {
    const auto bytes =
        connectors::encode_upserts(ids_.data() + first_id_index, src.data() + first_id_index * k_dim, k_batch, k_dim);
    if (!send(first_id_index, bytes)) return false;
    for (std::size_t i = first_id_index; i < first_id_index + k_batch; ++i) latest_[ids_[i]] = src.data() + i * k_dim;
    return true;
  }
  bool remove(std::size_t first_id_index) {
    const auto bytes = connectors::encode_deletes(ids_.data() + first_id_index, k_batch);
    if (!send(first_id_index, bytes)) return false;
    for (std::size_t i = first_id_index; i < first_id_index + k_batch; ++i) latest_[ids_[i]] = nullptr;
    return true;
  }

  std::size_t records() const { return records_; }
  /// id → latest vector, nullptr for a deleted id.
  const std::map<std::uint64_t, const float*>& latest() const { return latest_; }

private:
  bool send(std::size_t first_id_index, const std::vector<std::uint8_t>& bytes) {
    // Keyed by the batch's first id, so every record of one batch lands in the same partition, in order.
    const auto key = connectors::vector_record_key(ids_[first_id_index]);
    if (!producer_.produce(topic_, key.data(), key.size(), bytes.data(), bytes.size())) return false;
    ++records_;
    return true;
  }
  connectors::kafka_producer& producer_;
  std::string topic_;
  const std::vector<std::uint64_t>& ids_;
  std::map<std::uint64_t, const float*> latest_;
  std::size_t records_ = 0;
};

}  // namespace

crash_trial_result run_crash_trial(const crash_trial_options& o) {
  crash_trial_result r;
  const auto started = steady::now();
  std::mt19937_64 rng(o.seed);
  service_config cfg;
  cfg.kafka.topic_partitions = o.topic_partitions;
  std::atomic<std::size_t> failed_deliveries{0};
  connectors::kafka_producer_options popts;
  popts.on_delivery = [&](const connectors::delivery_report& d) {
    if (d.failure) ++failed_deliveries;
  };
  auto producer = connectors::kafka_producer::create(
      connectors::kafka_client_config::from(cfg, o.bootstrap_servers), popts);
  if (!producer) {
    r.failure = "producer: " + producer.error().to_string();
    return r;
  }
  const fs::path dir = o.data_dir;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    r.failure = "data directory '" + o.data_dir + "' already exists";
    return r;
  }

  const auto x = clustered_data(k_ids, k_dim, 30, 71 + 2 * o.seed);
  const auto y = clustered_data(k_ids, k_dim, 30, 72 + 2 * o.seed);  // replacement vectors
  const auto ids = iota_ids(k_ids, 1 + o.seed * 1000003);
  stream_model model(**producer, cfg.kafka.topics.vectors, ids);
  const std::size_t batches = k_ids / k_batch;
  auto random_batch = [&](std::size_t below) { return std::uniform_int_distribution<std::size_t>(0, below - 1)(rng) * k_batch; };

  serve_process server(o.server_binary, server_args(o.bootstrap_servers, dir, o.topic_partitions),
                       dir.string() + ".stats");
  if (!server.start()) {
    r.failure = "cannot start " + o.server_binary;
    return r;
  }
  r.kill_delay = std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, o.max_kill_delay.count())(rng));
  const auto server_started = steady::now();
  std::thread killer([&] {
    auto from = server_started;
    if (o.delay_from_first_checkpoint) {
      while (!actors::latest_checkpoint(dir.string()) && steady::now() < server_started + k_consume_timeout)
        std::this_thread::sleep_for(5ms);
      from = steady::now();
    }
    std::this_thread::sleep_until(from + r.kill_delay);
    r.killed_after = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - server_started);
    r.checkpoint_at_kill = actors::latest_checkpoint(dir.string()).has_value();
    r.consumed_at_kill = server.consumed();
    if (!server.running()) r.failure = "ivfstream serve exited before the kill";
    server.kill9();
  });

  // Step 2: the first 3/4 of the ids, with replacements and deletes of earlier batches mixed in,
  // spread over time so that the kill lands among them.
  bool ok = true;
  const std::size_t first_part = batches * 3 / 4;
  for (std::size_t b = 0; b < first_part && ok; ++b) {
    ok = model.upsert(b * k_batch, x);
    if (ok && b > 8 && b % 4 == 0) ok = model.upsert(random_batch(b), y);
    if (ok && b > 8 && b % 9 == 0) ok = model.remove(random_batch(b));
    (*producer)->poll(0ms);
    std::this_thread::sleep_for(o.produce_gap);
  }
  killer.join();
  if (!r.failure.empty()) return r;
  if (!ok) {
    r.failure = "produce failed in step 2";
    return r;
  }

  // Step 3: the rest of the ids, replacements, deletes and re-inserts of deleted ids, then restart.
  for (std::size_t b = first_part; b < batches && ok; ++b) {
    ok = model.upsert(b * k_batch, b % 2 ? y : x);
    if (ok && b % 3 == 0) ok = model.remove(random_batch(b));
    if (ok && b % 5 == 0) ok = model.upsert(random_batch(b), x);  // may re-insert a deleted batch
  }
  if (!ok || !(*producer)->flush(30s)) {
    r.failure = "produce/flush failed in step 3";
    return r;
  }
  if (!server.start()) {
    r.failure = "cannot restart " + o.server_binary;
    return r;
  }
  for (std::size_t i = 0; i < 10 && ok; ++i) ok = model.upsert(random_batch(batches), y);
  if (!ok || !(*producer)->flush(30s) || failed_deliveries != 0) {
    r.failure = "produce/flush failed after the restart (" + std::to_string(failed_deliveries.load()) +
                " failed deliveries)";
    return r;
  }
  r.records = model.records();
  if (auto why = server.wait_consumed(r.records, k_consume_timeout); !why.empty()) {
    r.failure = why;
    return r;
  }
  if (const int code = server.stop(); code != 0) {
    r.failure = "ivfstream serve exited with " + std::to_string(code) + " on SIGTERM";
    return r;
  }

  // Step 4: the final checkpoint against the model.
  auto m = actors::latest_checkpoint(dir.string());
  if (!m) {
    r.failure = "no checkpoint in '" + dir.string() + "' after SIGTERM";
    return r;
  }
  for (const auto& [tp, off] : m->offsets) r.checkpoint_offsets += off;
  std::map<std::uint64_t, int> seen;
  for (std::uint32_t p = 0; p < m->num_partition_actors; ++p) {
    actors::partition_state part(p, m->num_partition_actors);
    if (auto s = part.install(m->codebooks); !s) {
      r.failure = "install codebooks: " + s.error().to_string();
      return r;
    }
    if (auto s = part.load(m->partition_files[p]); !s) {
      r.failure = "load '" + m->partition_files[p] + "': " + s.error().to_string();
      return r;
    }
    part.for_each([&](std::uint64_t id, std::uint32_t, const std::uint8_t*, const float* v) {
      if (++seen[id] == 2) ++r.duplicated;
      const auto it = model.latest().find(id);
      if (it == model.latest().end() || it->second == nullptr)
        ++r.resurrected;
      else if (!v || !std::equal(v, v + k_dim, it->second))
        ++r.wrong_vector;
    });
  }
  for (const auto& [id, v] : model.latest()) {
    if (v == nullptr) {
      ++r.expected_deleted;
    } else {
      ++r.expected_live;
      r.lost += !seen.count(id);
    }
  }
  r.duration = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
  if (r.passed()) fs::remove_all(dir, ec);
  return r;
}

}  // namespace ivfstream::test
