#include "apps/ivfstream/inspect_command.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actors/checkpoint.hpp"
#include "actors/partition_state.hpp"
#include "actors/retrain_status_file.hpp"
#include "apps/ivfstream/client_common.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"

namespace ivfstream::apps {
namespace {

struct inspect_options {
  config_cli_options config;
  std::string bootstrap_file;
  bool lists = false;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ivfstream inspect: " << what << "\n";
  throw CLI::RuntimeError(1);
}

// The running engine's retraining state (<data_dir>/retrain-status): live version, the version
// being built, drift against its threshold. The checkpoint below may be older than it.
void print_retrain_status(const std::string& dir) {
  auto kv = actors::read_retrain_status(dir);
  if (!kv) {
    std::printf("retraining        no status (%s; written by an engine with retrain.enabled=true)\n",
                kv.error().message().c_str());
    return;
  }
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::printf("%s", actors::describe_retrain_status(*kv, now_ms).c_str());
}

void run_inspect(const inspect_options& o) {
  auto cfg = load_service_config(o.config);
  if (!cfg) die(cfg.error().to_string());
  const std::string& dir = cfg->engine.data_dir;
  auto m = actors::latest_checkpoint(dir);
  if (!m) {
    std::printf("data_dir %s: no complete checkpoint (the index is untrained or was never checkpointed)\n", dir.c_str());
    print_retrain_status(dir);
    return;
  }
  const auto& p = m->codebooks->params();
  std::printf("data_dir          %s\ncheckpoint        %llu (created %lld ms since epoch)\n", dir.c_str(),
              static_cast<unsigned long long>(m->sequence), static_cast<long long>(m->created_unix_ms));
  std::printf("codebook version  %llu\nindex             dimension=%zu metric=%s num_partitions=%zu "
              "num_sub_vectors=%zu num_bits=%u\n",
              static_cast<unsigned long long>(m->codebooks->version()), p.dimension, to_string(p.metric),
              p.num_partitions, p.num_sub_vectors, p.num_bits);
  std::printf("codebooks         %zu bytes in memory", m->codebooks->memory_bytes());
  if (const local_codebooks* local = m->codebooks->local())  // LOPQ: what the local codebooks cost
    std::printf(" (lopq: %zu groups, %zu of %zu lists local, %zu bytes of them)", local->num_groups(),
                local->num_local_lists(), p.num_partitions, local->memory_bytes());
  std::printf("\n");
  print_retrain_status(dir);
  std::uint64_t total = 0;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> list_sizes;
  for (std::uint32_t i = 0; i < m->num_partition_actors; ++i) {
    actors::partition_state part(i, m->num_partition_actors);
    if (auto st = part.install(m->codebooks); !st) die(st.error().to_string());
    if (auto st = part.load(m->partition_files[i]); !st) die(st.error().to_string());
    auto s = part.stats();
    total += s.live_vectors;
    std::printf("partition %-4u    %llu vectors in %zu lists (%s)\n", i, static_cast<unsigned long long>(s.live_vectors),
                s.list_sizes.size(), m->partition_files[i].c_str());
    list_sizes.insert(list_sizes.end(), s.list_sizes.begin(), s.list_sizes.end());
  }
  std::sort(list_sizes.begin(), list_sizes.end());
  std::uint64_t lmin = ~0ull, lmax = 0;
  for (const auto& [l, sz] : list_sizes) lmin = std::min(lmin, sz), lmax = std::max(lmax, sz);
  std::printf("vectors           %llu (lists: min %llu, max %llu, mean %.1f)\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(list_sizes.empty() ? 0 : lmin), static_cast<unsigned long long>(lmax),
              list_sizes.empty() ? 0.0 : double(total) / list_sizes.size());
  if (o.lists)
    for (const auto& [l, sz] : list_sizes) std::printf("  list %-6u %llu\n", l, static_cast<unsigned long long>(sz));
  auto bootstrap = client_bootstrap(*cfg, o.bootstrap_file);
  const bool live = bootstrap.has_value();
  std::unique_ptr<connectors::kafka_consumer> consumer;
  if (live) {
    auto c = connectors::kafka_consumer::create(connectors::kafka_client_config::from(*cfg, *bootstrap));
    if (!c) die(c.error().to_string());
    consumer = std::move(*c);
  }
  std::int64_t lag_total = 0, lost_total = 0;
  for (const auto& [tp, off] : m->offsets) {
    std::printf("offset            %s[%d] = %lld", tp.first.c_str(), tp.second, static_cast<long long>(off));
    if (consumer) {
      auto w = consumer->watermarks(tp.first, tp.second, std::chrono::seconds(5));
      if (w) {
        std::printf("  (high watermark %lld, lag %lld records)", static_cast<long long>(w->second),
                    static_cast<long long>(w->second - off));
        lag_total += w->second - off;
        // Retention dropped records the checkpoint has not indexed: a restart cannot read them.
        if (off < w->first) {
          std::printf("  LOST %lld records (log start %lld is beyond the checkpoint)",
                      static_cast<long long>(w->first - off), static_cast<long long>(w->first));
          lost_total += w->first - off;
        }
      }
    }
    std::printf("\n");
  }
  if (live) std::printf("lag behind checkpoint: %lld records\n", static_cast<long long>(lag_total));
  if (live) std::printf("lost to retention: %lld records\n", static_cast<long long>(lost_total));
  else std::printf("(pass --brokers or --bootstrap-file for the lag behind the topic's end)\n");
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto opts = std::make_shared<inspect_options>();
  CLI::App* sub = app.add_subcommand(
      "inspect", "Show the newest checkpoint of --data-dir (codebook version, partitions, list sizes, offsets, lag) and the "
      "running engine's retraining state (live version, version being built, drift)");
  add_config_options(*sub, opts->config);
  sub->add_option("--bootstrap-file", opts->bootstrap_file, "Read the broker address from this file (serve wrote it)");
  sub->add_flag("--lists", opts->lists, "Print every list's size");
  sub->callback([opts] { run_inspect(*opts); });
}

}  // namespace ivfstream::apps
