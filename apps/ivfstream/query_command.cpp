#include "apps/ivfstream/query_command.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "actors/query_client.hpp"
#include "apps/ivfstream/client_common.hpp"
#include "connectors/file_readers.hpp"

namespace ivfstream::apps {
namespace {

struct query_cli_options {
  config_cli_options config;
  std::string bootstrap_file;
  std::string file;
  std::size_t max_queries = 10;
  std::uint32_t k = 0, nprobes = 0, refine_factor = 0, deadline_ms = 0;
  bool have_refine = false;
  double timeout_s = 10;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ivfstream query: " << what << "\n";
  throw CLI::RuntimeError(1);
}

void run_query(const query_cli_options& o) {
  auto cfg = load_service_config(o.config);
  if (!cfg) die(cfg.error().to_string());
  auto bootstrap = client_bootstrap(*cfg, o.bootstrap_file);
  if (!bootstrap) die(bootstrap.error().to_string());
  auto data = connectors::read_vectors(o.file, o.max_queries);
  if (!data) die(data.error().to_string());
  auto client = query_client::open(*cfg, *bootstrap);
  if (!client) die(client.error().to_string());
  query_options qo;
  if (o.k) qo.k = o.k;
  if (o.nprobes) qo.nprobes = o.nprobes;
  if (o.have_refine) qo.refine_factor = o.refine_factor;
  qo.deadline_ms = o.deadline_ms;
  std::vector<double> ms;
  int errors = 0;
  for (std::size_t i = 0; i < data->rows; ++i) {
    const auto a = std::chrono::steady_clock::now();
    auto r = (*client)->query(data->row(i), 1, data->dim, qo,
                              std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000)));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    if (!r) die(r.error().to_string());
    if (r->error_code != 0) {
      std::printf("query %zu: error %s: %s\n", i, to_string(static_cast<errc>(r->error_code)),
                  r->error_message.c_str());
      ++errors;
      continue;
    }
    std::string missing;  // peers left out of a scale-out answer
    for (const auto& p : r->missing_peers) missing += (missing.empty() ? " missing_peers=" : ",") + p;
    std::printf("query %zu (%.2f ms%s%s):", i, ms.back(), r->partial ? ", PARTIAL" : "", missing.c_str());
    const auto& h = r->results[0];
    for (std::size_t j = 0; j < h.ids.size(); ++j)
      std::printf(" %llu:%.4g", static_cast<unsigned long long>(h.ids[j]), h.distances[j]);
    std::printf("\n");
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty())
    std::printf("%zu queries: round trip p50 %.2f ms, max %.2f ms, %d errors\n", ms.size(), ms[ms.size() / 2],
                ms.back(), errors);
  if (errors) throw CLI::RuntimeError(1);
}

}  // namespace

void add_query_command(CLI::App& app) {
  auto opts = std::make_shared<query_cli_options>();
  CLI::App* sub = app.add_subcommand(
      "query", "Send query vectors from a file through the queries topic of a running service; print the replies");
  add_config_options(*sub, opts->config);
  sub->add_option("--bootstrap-file", opts->bootstrap_file, "Read the broker address from this file (serve wrote it)");
  sub->add_option("file", opts->file, "Query vectors: .fvecs, .bvecs or .npy")->required();
  sub->add_option("--max-queries", opts->max_queries, "Send at most this many rows (0 = all)");
  sub->add_option("-k,--limit", opts->k, "Neighbours per query (0 = the server's default)");
  sub->add_option("--nprobes", opts->nprobes, "Lists probed (0 = the server's default)");
  sub->add_option("--refine-factor", opts->refine_factor, "Exact re-ranking factor (absent = the server's default)")
      ->each([opts](const std::string&) { opts->have_refine = true; });
  sub->add_option("--deadline-ms", opts->deadline_ms, "Deadline of each query (0 = the server's default)");
  sub->add_option("--timeout", opts->timeout_s, "Seconds to wait for each reply")->check(CLI::PositiveNumber);
  sub->callback([opts] { run_query(*opts); });
}

}  // namespace ivfstream::apps
