#include "apps/ivfstream/demo_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/query_client.hpp"
#include "apps/ivfstream/demo_data.hpp"
#include "config/config_loader.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"

namespace ivfstream::apps {
namespace {

using steady = std::chrono::steady_clock;
constexpr std::size_t k_recall_k = 10;
// Live phase: records of this many vectors, one every k_paced_gap, at most k_paced_records of them.
constexpr std::size_t k_paced_record_vectors = 10;
constexpr std::size_t k_paced_records = 1000;
constexpr std::chrono::microseconds k_paced_gap{1000};
// The mock broker keeps ~5 MB per partition: spread the stream so nothing is dropped before it is read.
constexpr std::size_t k_bytes_per_topic_partition = 3u << 20;

struct demo_options {
  config_cli_options config;
  std::string data = "auto";
  std::size_t max_vectors = 60000;
  std::size_t queries = 200;
  std::size_t record_vectors = 500;  // vectors per Kafka record
  std::size_t nlist = 256;
  std::size_t sub_vectors = 0;       // 0 = largest divisor of d that is ≤ min(d / 8, 64)
  unsigned nbits = 8;
  std::size_t nprobes = 20;
  std::size_t refine_factor = 4;
  std::size_t train_after = 20000;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ivfstream demo: " << what << "\n";
  throw CLI::RuntimeError(1);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
}

std::uint64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// CPU seconds (user + system) of the whole process so far: every thread, the in-process broker and the
/// producer included.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::size_t auto_sub_vectors(std::size_t d) {
  const std::size_t cap = std::max<std::size_t>(1, std::min<std::size_t>(d / 8, 64));
  for (std::size_t m = cap; m >= 1; --m)
    if (d % m == 0) return m;
  return 1;
}

void run_demo(const demo_options& o) {
  auto cfg = load_service_config(o.config);
  if (!cfg) die(cfg.error().to_string());
  std::cout << "loading data (" << o.data << ") ..." << std::endl;
  auto data = load_demo_data(o.data, o.max_vectors, o.queries);
  if (!data) die(data.error().to_string());
  const std::size_t n = data->rows, d = data->dim;

  cfg->index.dimension = d;
  cfg->index.num_partitions = std::min(o.nlist, n);
  cfg->index.num_sub_vectors = o.sub_vectors ? o.sub_vectors : auto_sub_vectors(d);
  cfg->index.num_bits = o.nbits;
  cfg->index.max_iterations = std::min<std::size_t>(cfg->index.max_iterations, 10);
  // Phase 1 (bulk): all but the last `paced` vectors as fast as the producer goes: ingest rate.
  // Phase 2 (live): the rest at a steady rate in small records: freshness in steady state.
  const std::size_t paced = std::min<std::size_t>(n / 5, k_paced_records * k_paced_record_vectors);
  const std::size_t bulk = n - paced;
  // The index trains once train_after vectors have arrived, and they must all come from the bulk share
  // (the live phase waits on a trained index). A --train-after at or above the bulk share (small data
  // sets, --max-vectors) trains on half of it instead, so the bulk phase still measures ingest.
  cfg->engine.train_after = o.train_after < bulk ? o.train_after : std::max<std::size_t>(bulk / 2, 1);
  cfg->kafka.embedded_broker = true;
  cfg->kafka.brokers.clear();
  cfg->kafka.topic_partitions = std::max<std::uint32_t>(
      cfg->kafka.topic_partitions,
      static_cast<std::uint32_t>(n * d * sizeof(float) / k_bytes_per_topic_partition + 1));
  if (auto st = cfg->validate(); !st) die(st.error().to_string());

  std::cout << "data: " << data->name << ": " << n << " vectors × " << d << ", " << data->nq << " queries\n"
            << "index: metric=" << to_string(cfg->index.metric) << " IVF" << cfg->index.num_partitions << ",PQ"
            << cfg->index.num_sub_vectors << "x" << cfg->index.num_bits << ", " << cfg->engine.partition_actors
            << " partition actors, trains after " << cfg->engine.train_after << " vectors" << std::endl;

  auto broker = connectors::embedded_broker::start(*cfg);
  if (!broker) die("embedded broker: " + broker.error().to_string());
  const std::string bootstrap = (*broker)->bootstrap_servers();
  auto eopts = engine_options::from(*cfg);
  eopts.data_dir.clear();  // the demo keeps nothing on disk
  auto eng = engine::open(eopts);
  if (!eng) die(eng.error().to_string());
  engine& e = **eng;
  if (auto st = e.create_index(cfg->index); !st) die(st.error().to_string());
  auto service = kafka_service::start(e, *cfg, bootstrap);
  if (!service) die("kafka: " + service.error().to_string());
  std::cout << "embedded Kafka broker at " << bootstrap << " (" << cfg->kafka.topic_partitions
            << " partitions per topic)" << std::endl;

  // Stream the base vectors (ids = row numbers) through the vectors topic.
  auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(*cfg, bootstrap));
  if (!producer) die(producer.error().to_string());
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  auto produce_range = [&](std::size_t from, std::size_t to, std::size_t per_record, std::chrono::microseconds gap,
                           std::size_t& records) {
    auto next = steady::now();
    for (std::size_t off = from; off < to; off += per_record) {
      const std::size_t cnt = std::min(per_record, to - off);
      const auto bytes = connectors::encode_upserts(ids.data() + off, data->base.data() + off * d, cnt, d, now_us());
      const auto key = connectors::vector_record_key(ids[off]);
      if (auto st = (*producer)->produce(cfg->kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size());
          !st)
        std::cerr << "produce: " << st.error().to_string() << std::endl;
      ++records;
      (*producer)->poll(std::chrono::milliseconds(0));
      if (gap.count() > 0) {
        next += gap;
        std::this_thread::sleep_until(next);
      }
    }
    (void)(*producer)->flush(std::chrono::seconds(60));
  };
  // Waits until `records` records were read and `vectors` are searchable; prints progress.
  auto wait_ingested = [&](std::size_t records, std::size_t vectors, steady::time_point start,
                           steady::time_point* trained_at, std::uint64_t* applied_at_training) {
    auto last_print = steady::now();
    while (true) {
      auto st = e.stats();
      if (!st) die(st.error().to_string());
      std::int64_t consumed = 0;
      for (const auto& [t, p, off] : st->offsets) consumed += off;
      const auto now = steady::now();
      if (trained_at && st->codebook_version > 0 && *trained_at == steady::time_point{}) {
        *trained_at = now;
        *applied_at_training = st->vectors;
        std::cout << "  trained codebook version 1 after " << std::chrono::duration<double>(now - start).count()
                  << " s" << std::endl;
      }
      if (now - last_print > std::chrono::seconds(2)) {
        std::cout << "  ingest: " << st->vectors << " / " << vectors << " searchable, " << consumed << " / "
                  << records << " records read" << std::endl;
        last_print = now;
      }
      if (static_cast<std::size_t>(consumed) >= records && st->vectors >= vectors) return now;
      if (now - start > std::chrono::minutes(10)) die("ingest did not finish within 10 minutes: " + st->last_error);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  std::size_t records = 0;
  // Phase 0: the training share; the index trains itself once it has arrived.
  const std::size_t train_n = std::min<std::size_t>(cfg->engine.train_after, bulk);
  const auto t0 = steady::now();
  steady::time_point t_trained{};
  std::uint64_t applied_at_training = 0;
  produce_range(0, train_n, o.record_vectors, std::chrono::microseconds(0), records);
  wait_ingested(records, train_n, t0, &t_trained, &applied_at_training);
  const double train_s = std::chrono::duration<double>(steady::now() - t0).count();
  // Phase 1: the bulk, on trained codebooks. The producer only queues (the broker is in-process), so
  // the time to searchable is what Kafka → decode → encode → partitions sustains.
  const auto t1 = steady::now();
  const double cpu1 = process_cpu_seconds();
  produce_range(train_n, bulk, o.record_vectors, std::chrono::microseconds(0), records);
  const auto t_done = wait_ingested(records, bulk, t1, nullptr, nullptr);
  const double bulk_s = std::chrono::duration<double>(t_done - t1).count();
  const double bulk_cpu_s = process_cpu_seconds() - cpu1;
  std::cout << "live phase: " << paced << " vectors in records of " << k_paced_record_vectors << " at "
            << k_paced_record_vectors * 1000000 / k_paced_gap.count() << " vectors/s ..." << std::endl;
  produce_range(bulk, n, k_paced_record_vectors, k_paced_gap, records);
  wait_ingested(records, n, steady::now(), nullptr, nullptr);
  auto st = e.stats();
  if (!st) die(st.error().to_string());

  std::cout << "computing brute-force ground truth for " << data->nq << " queries ..." << std::endl;
  const auto truth = brute_force_knn(*data, cfg->index.metric, k_recall_k, 2);

  auto client = query_client::open(*cfg, bootstrap);
  if (!client) die(client.error().to_string());
  query_options qo;
  qo.k = k_recall_k;
  qo.nprobes = static_cast<std::uint32_t>(o.nprobes);
  qo.refine_factor = static_cast<std::uint32_t>(o.refine_factor);
  std::vector<double> topic_ms, embedded_ms;
  // Warm-up (reported, not counted): the first requests pay for the clients' first fetches.
  std::vector<double> warmup_ms, warmup_server_ms;
  for (int w = 0; w < 3; ++w) {
    const auto a = steady::now();
    auto r = (*client)->query(data->queries.data(), 1, d, qo, std::chrono::seconds(10));
    warmup_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - a).count());
    warmup_server_ms.push_back(r ? r->server_time_us / 1000.0 : -1.0);
  }
  double recall_sum = 0, recall_embedded_sum = 0;
  std::size_t partial = 0;
  for (std::size_t i = 0; i < data->nq; ++i) {
    const float* q = data->queries.data() + i * d;
    const auto a = steady::now();
    auto r = (*client)->query(q, 1, d, qo, std::chrono::seconds(10));
    topic_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - a).count());
    if (!r) die(r.error().to_string());
    if (r->error_code != 0) die("query error: " + r->error_message);
    partial += r->partial;
    std::size_t hit = 0;
    for (auto id : r->results[0].ids) hit += std::count(truth[i].begin(), truth[i].end(), id);
    recall_sum += double(hit) / truth[i].size();
  }
  for (std::size_t i = 0; i < data->nq; ++i) {
    const float* q = data->queries.data() + i * d;
    const auto a = steady::now();
    auto r = e.search(q, d).nprobes(o.nprobes).limit(k_recall_k).refine_factor(o.refine_factor).to_list();
    embedded_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - a).count());
    if (!r) die(r.error().to_string());
    std::size_t hit = 0;
    for (const auto& h : r->hits) hit += std::count(truth[i].begin(), truth[i].end(), h.id);
    recall_embedded_sum += double(hit) / truth[i].size();
  }
  auto qs = (*service)->query_stats();

  std::printf("\n=== ivfstream demo: %s ===\n", data->name.c_str());
  std::printf("vectors streamed through Kafka : %zu × %zu-d in %zu records\n", n, d, records);
  std::printf("training (first %zu vectors)  : searchable %.2f s after the first record\n", train_n, train_s);
  std::printf("ingest (Kafka → searchable)    : %.0f vectors/s (%zu vectors in %.2f s, trained codebooks)\n",
              (bulk - train_n) / bulk_s, bulk - train_n, bulk_s);
  std::printf("ingest CPU (whole process)     : %.2f s for %zu vectors = %.2f us per vector (producer, broker and "
              "engine threads, load-insensitive)\n",
              bulk_cpu_s, bulk - train_n, bulk_cpu_s * 1e6 / static_cast<double>(bulk - train_n));
  std::printf("freshness (produce → searchable): live phase: p50 %.2f ms, p99 %.2f ms, max %.2f ms (last %llu records)\n",
              st->freshness_p50_us / 1000, st->freshness_p99_us / 1000, st->freshness_max_us / 1000,
              static_cast<unsigned long long>(std::min<std::uint64_t>(st->freshness_samples, k_paced_records)));
  std::printf("recall@10 vs brute force       : %.4f via query topic, %.4f via embedded API "
              "(nprobes %zu, refine_factor %zu, %zu queries)\n",
              recall_sum / data->nq, recall_embedded_sum / data->nq, o.nprobes, o.refine_factor, data->nq);
  std::printf("query latency, Kafka topic     : p50 %.2f ms, p99 %.2f ms (client round trip; server p50 %.2f ms, "
              "p99 %.2f ms)\n",
              percentile(topic_ms, 0.5), percentile(topic_ms, 0.99), qs ? qs->server_p50_us / 1000 : 0.0,
              qs ? qs->server_p99_us / 1000 : 0.0);
  std::printf("first queries (warm-up)        : %.2f ms, %.2f ms, %.2f ms (server %.2f ms, %.2f ms, %.2f ms)\n",
              warmup_ms[0], warmup_ms[1], warmup_ms[2], warmup_server_ms[0], warmup_server_ms[1],
              warmup_server_ms[2]);
  std::printf("query latency, embedded API    : p50 %.2f ms, p99 %.2f ms\n", percentile(embedded_ms, 0.5),
              percentile(embedded_ms, 0.99));
  std::printf("partial answers                : %zu; dead letters: %llu\n", partial,
              static_cast<unsigned long long>(st->dead_letters));
  client->reset();
  service->reset();
  eng->reset();
  producer->reset();
  broker->reset();
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto opts = std::make_shared<demo_options>();
  CLI::App* sub = app.add_subcommand(
      "demo",
      "Stream Fashion-MNIST (or a synthetic set) through an embedded Kafka broker into the index, ask queries "
      "through the query topic, and print recall@10 vs brute force, ingest rate, freshness and latency.");
  add_config_options(*sub, opts->config);
  sub->add_option("--data", opts->data,
                  "auto | synthetic | DIR with base.fvecs+query.fvecs | DIR with Fashion-MNIST idx.gz files "
                  "(auto: /tmp/annbench/data/fashion-mnist, /usr/share/datasets/fashion-mnist, else synthetic)");
  sub->add_option("--max-vectors", opts->max_vectors, "Stream at most this many base vectors")->check(CLI::PositiveNumber);
  sub->add_option("--queries", opts->queries, "Queries to ask")->check(CLI::PositiveNumber);
  sub->add_option("--record-vectors", opts->record_vectors, "Vectors per Kafka record")->check(CLI::PositiveNumber);
  sub->add_option("--nlist", opts->nlist, "IVF lists (index.num_partitions)")->check(CLI::PositiveNumber);
  sub->add_option("--sub-vectors", opts->sub_vectors, "PQ sub-vectors M (0 = auto)");
  sub->add_option("--nbits", opts->nbits, "Bits per PQ code: 4, 6, 8, 10 or 12");
  sub->add_option("--nprobes", opts->nprobes, "Lists probed per query")->check(CLI::PositiveNumber);
  sub->add_option("--refine-factor", opts->refine_factor, "Re-rank limit × refine_factor candidates exactly (0 = off)");
  sub->add_option("--train-after", opts->train_after, "Train the codebooks after this many vectors")
      ->check(CLI::PositiveNumber);
  sub->callback([opts] { run_demo(*opts); });
}

}  // namespace ivfstream::apps
