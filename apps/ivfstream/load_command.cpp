#include "apps/ivfstream/load_command.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/ivfstream/client_common.hpp"
#include "connectors/file_readers.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"

namespace ivfstream::apps {
namespace {

struct load_options {
  config_cli_options config;
  std::string bootstrap_file;
  std::string file;
  std::uint64_t first_id = 0;
  std::size_t record_vectors = 1000;
  std::size_t max_rows = 0;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ivfstream load: " << what << "\n";
  throw CLI::RuntimeError(1);
}

std::uint64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void run_load(const load_options& o) {
  auto cfg = load_service_config(o.config);
  if (!cfg) die(cfg.error().to_string());
  auto bootstrap = client_bootstrap(*cfg, o.bootstrap_file);
  if (!bootstrap) die(bootstrap.error().to_string());
  auto data = connectors::read_vectors(o.file, o.max_rows);
  if (!data) die(data.error().to_string());
  auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(*cfg, *bootstrap));
  if (!producer) die(producer.error().to_string());
  const std::size_t n = data->rows, d = data->dim;
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = o.first_id + i;
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  for (std::size_t off = 0; off < n; off += o.record_vectors) {
    const std::size_t cnt = std::min(o.record_vectors, n - off);
    const auto bytes = connectors::encode_upserts(ids.data() + off, data->row(off), cnt, d, now_us());
    const auto key = connectors::vector_record_key(ids[off]);
    if (auto st = (*producer)->produce(cfg->kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size());
        !st)
      die(st.error().to_string());
    (*producer)->poll(std::chrono::milliseconds(0));
    const auto now = std::chrono::steady_clock::now();
    if (now - last > std::chrono::seconds(1)) {
      const double s = std::chrono::duration<double>(now - t0).count();
      std::fprintf(stderr, "load: %zu / %zu vectors queued (%.0f vectors/s), %llu delivered\n", off + cnt, n,
                   (off + cnt) / s, static_cast<unsigned long long>((*producer)->delivered()));
      last = now;
    }
  }
  if (auto st = (*producer)->flush(std::chrono::seconds(120)); !st) die(st.error().to_string());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("load: %zu vectors (ids %llu..%llu, d=%zu) produced to '%s' in %.2f s (%.0f vectors/s); %llu records "
              "delivered, %llu failed\n",
              n, static_cast<unsigned long long>(o.first_id), static_cast<unsigned long long>(o.first_id + n - 1), d,
              cfg->kafka.topics.vectors.c_str(), s, n / s, static_cast<unsigned long long>((*producer)->delivered()),
              static_cast<unsigned long long>((*producer)->failed()));
  if ((*producer)->failed() > 0) throw CLI::RuntimeError(1);
}

}  // namespace

void add_load_command(CLI::App& app) {
  auto opts = std::make_shared<load_options>();
  CLI::App* sub = app.add_subcommand(
      "load", "Produce vectors from an .fvecs/.bvecs/.npy file to the vectors topic of a running service");
  add_config_options(*sub, opts->config);
  sub->add_option("--bootstrap-file", opts->bootstrap_file, "Read the broker address from this file (serve wrote it)");
  sub->add_option("file", opts->file, "Vectors file: .fvecs, .bvecs or .npy")->required();
  sub->add_option("--first-id", opts->first_id, "Id of the first row (row i gets first-id + i)");
  sub->add_option("--record-vectors", opts->record_vectors, "Vectors per Kafka record")->check(CLI::PositiveNumber);
  sub->add_option("--max-rows", opts->max_rows, "Read at most this many rows (0 = all)");
  sub->callback([opts] { run_load(*opts); });
}

}  // namespace ivfstream::apps
