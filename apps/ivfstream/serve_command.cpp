#include "apps/ivfstream/serve_command.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/codebook_topic.hpp"
#include "actors/leadership.hpp"
#include "actors/peer_service.hpp"
#include "config/config_loader.hpp"
#include "connectors/embedded_broker.hpp"

namespace ivfstream::apps {
namespace {

struct serve_options {
  config_cli_options config;
  std::string bootstrap_file;   // write the bootstrap address here once serving
  double stats_interval_s = 5;  // 0 = no periodic stats line
  std::string stats_file;       // rewrite key=value stats here every 200 ms
  bool print_config = false;    // print the effective config (secrets masked) and exit
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ivfstream serve: " << what << "\n";
  throw CLI::RuntimeError(1);
}

// Writes text to path through a temp file and rename, so readers never see a partial file.
bool write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

void print_stats(const engine& e, const kafka_service& k) {
  auto s = e.stats();
  auto q = k.query_stats();
  if (!s || !q) return;
  std::cerr << "serve: vectors=" << s->vectors << " buffered=" << s->buffered << " records=" << s->kafka_records
            << " dead_letters=" << s->dead_letters << " lost_records=" << s->lost_records << " codebook_version=" << s->codebook_version
            << " checkpoint=" << s->last_checkpoint << " freshness_p50_ms=" << s->freshness_p50_us / 1000.0
            << " freshness_p99_ms=" << s->freshness_p99_us / 1000.0 << " queries=" << q->queries
            << " query_p50_ms=" << q->server_p50_us / 1000.0 << " query_p99_ms=" << q->server_p99_us / 1000.0;
  if (!s->last_error.empty()) std::cerr << " last_error=\"" << s->last_error << "\"";
  std::cerr << std::endl;
}

// key=value lines, one per counter; offsets as "offset=<topic>:<partition>:<next>" lines; the
// queries-topic partitions this node answers as "query_partition=<p>" lines; with [peers], what the
// last distributed training did (trainings, train_nodes, train_rows, train_alone, train_left_out lines)
// and whether this node trains now (leads=0|1, leader_changes).
void write_stats_file(const std::string& path, const engine& e, const kafka_service& k, const peer_service* peers,
                      const leadership* lead) {
  auto s = e.stats();
  if (!s) return;
  std::string text;
  if (auto q = k.query_stats())
    for (const std::int32_t p : q->partitions) text += "query_partition=" + std::to_string(p) + "\n";
  std::int64_t consumed = 0;
  for (const auto& [t, p, off] : s->offsets) {
    consumed += off;
    text += "offset=" + t + ":" + std::to_string(p) + ":" + std::to_string(off) + "\n";
  }
  text += "vectors=" + std::to_string(s->vectors) + "\nbuffered=" + std::to_string(s->buffered) +
          "\nrecords_consumed=" + std::to_string(consumed) + "\ncodebook_version=" +
          std::to_string(s->codebook_version) + "\ncheckpoint=" + std::to_string(s->last_checkpoint) +
          "\ndead_letters=" + std::to_string(s->dead_letters) + "\nlost_records=" + std::to_string(s->lost_records) +
          "\npending_vectors=" + std::to_string(s->pending_vectors);
  std::string last_error = s->last_error;
  std::replace(last_error.begin(), last_error.end(), '\n', ' ');
  if (!last_error.empty()) text += "\nlast_error=" + last_error;
  if (lead) text += "\nleads=" + std::to_string(lead->leads() ? 1 : 0) + "\nleader_changes=" + std::to_string(lead->changes());
  if (peers) {  // distributed training (actors/cluster_trainer.hpp), on the node that trains
    const auto t = peers->training_report();
    text += "\ntrainings=" + std::to_string(t.trainings) + "\ntrain_nodes=" + std::to_string(t.last_nodes) +
            "\ntrain_rows=" + std::to_string(t.last_rows);
    auto one_line = [](std::string v) {
      std::replace(v.begin(), v.end(), '\n', ' ');
      return v;
    };
    if (!t.last_local_reason.empty()) text += "\ntrain_alone=" + one_line(t.last_local_reason);
    for (const auto& who : t.last_left_out) text += "\ntrain_left_out=" + one_line(who);
  }
  if (!write_atomically(path, text)) std::cerr << "serve: cannot write --stats-file '" << path << "'" << std::endl;
}

void run_serve(const serve_options& o) {
  // Block the shutdown signals before any thread starts, so every thread inherits the mask and the
  // main thread alone receives them through sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cfg = load_service_config(o.config);
  if (!cfg) die(cfg.error().to_string());
  if (o.print_config) {
    std::cout << dump_config(*cfg);  // secret property values are masked (config_loader.hpp)
    return;
  }
  std::unique_ptr<connectors::embedded_broker> broker;
  std::string bootstrap = cfg->kafka.brokers;
  if (cfg->kafka.embedded_broker) {
    auto b = connectors::embedded_broker::start(*cfg);
    if (!b) die("embedded broker: " + b.error().to_string());
    broker = std::move(*b);
    bootstrap = broker->bootstrap_servers();
  }
  auto options = engine_options::from(*cfg);
  // Scale-out: one node trains (actors/leadership.hpp), the others install its codebooks from the
  // codebooks topic. Every node opens as a follower; the leadership decides who trains, and when.
  const std::uint64_t leader_train_after = options.train_after;
  const actors::retrain_policy leader_retrain = options.retrain;
  if (cfg->peers.enabled) {
    options.train_after = leadership::k_never;
    options.retrain = leadership::follower_policy(options.retrain, cfg->peers.distributed_training);
  }
  auto e = engine::open(options);
  if (!e) die(e.error().to_string());
  if (auto st = (*e)->create_index(cfg->index); !st) die(st.error().to_string());
  // Scale-out ([peers]): publish this node's shard search and answer the queries topic over every node.
  std::unique_ptr<peer_service> peers;
  std::vector<actors::query_actor> searchers;
  if (cfg->peers.enabled) {
    auto p = peer_service::start(**e, peer_options::from(*cfg));
    if (!p) die(p.error().to_string());
    peers = std::move(*p);
    searchers.push_back(peers->searcher());
    std::cout << "ivfstream serve: peers bind=" << cfg->peers.bind << " port=" << peers->port()
              << " nodes=" << cfg->peers.nodes.size() << " codebooks=topic, trained by the first node up"
              << std::endl;
  }
  std::unique_ptr<codebook_sync> books;
  std::unique_ptr<leadership> lead;
  if (cfg->peers.enabled) {
    auto s = codebook_sync::start(**e, *cfg, bootstrap, false,
                                  cfg->peers.bind + ":" + std::to_string(peers ? peers->port() : 0));
    if (!s) die("codebooks topic: " + s.error().to_string());
    books = std::move(*s);
    leadership_options lo;
    lo.train_after = leader_train_after;
    lo.retrain = leader_retrain;
    lo.keep_reservoir = cfg->peers.distributed_training;
    lo.grace = std::chrono::milliseconds(cfg->peers.failover_ms);
    auto l = leadership::start(**e, *peers, *books, lo);
    if (!l) die("leadership: " + l.error().to_string());
    lead = std::move(*l);
  }
  auto k = kafka_service::start(**e, *cfg, bootstrap, searchers);
  if (!k) die("kafka: " + k.error().to_string());
  auto st = (*e)->stats();
  std::cout << "ivfstream serve: bootstrap=" << bootstrap << " vectors=" << (st ? st->vectors : 0)
            << " checkpoint=" << (st ? st->last_checkpoint : 0) << std::endl;
  if (!o.bootstrap_file.empty() && !write_atomically(o.bootstrap_file, bootstrap))
    die("cannot write --bootstrap-file '" + o.bootstrap_file + "'");

  const auto tick = std::chrono::milliseconds(200);
  auto next_stats = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.stats_interval_s);
  int sig = 0;
  while (sig <= 0) {
    timespec ts{0, static_cast<long>(std::chrono::nanoseconds(tick).count())};
    sig = sigtimedwait(&signals, nullptr, &ts);
    if (!o.stats_file.empty()) write_stats_file(o.stats_file, **e, **k, peers.get(), lead.get());
    if (o.stats_interval_s > 0 && std::chrono::steady_clock::now() >= next_stats) {
      print_stats(**e, **k);
      next_stats += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(o.stats_interval_s));
    }
  }
  std::cerr << "serve: signal " << sig << ", shutting down" << std::endl;
  k->reset();
  lead.reset();
  books.reset();
  peers.reset();
  if (!cfg->engine.data_dir.empty()) {
    // A periodic checkpoint may still be being written (resource_exhausted): wait for it, then write
    // the final one, so that the last checkpoint covers everything consumed (found by crash trials).
    auto seq = (*e)->checkpoint();
    for (int tries = 0; !seq && seq.error().code() == errc::resource_exhausted && tries < 600; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      seq = (*e)->checkpoint();
    }
    if (seq)
      std::cerr << "serve: final checkpoint " << *seq << std::endl;
    else
      std::cerr << "serve: final checkpoint skipped: " << seq.error().to_string() << std::endl;
  }
  e->reset();
  broker.reset();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto opts = std::make_shared<serve_options>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Run a streaming node: consume the vectors topic into the index, answer the queries topic, checkpoint "
      "to --data-dir. Uses the embedded Kafka broker unless --brokers is given.");
  add_config_options(*sub, opts->config);
  sub->add_option("--bootstrap-file", opts->bootstrap_file,
                  "Write the Kafka bootstrap address here once serving (e.g. for kcat -b or ivfstream load)");
  sub->add_option("--stats-interval", opts->stats_interval_s, "Seconds between stats lines on stderr (0 = none)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--stats-file", opts->stats_file,
                  "Rewrite key=value counters (vectors, records_consumed, offset=topic:partition:next, "
                  "query_partition=p, ...) here "
                  "every 200 ms, atomically");
  sub->add_flag("--print-config", opts->print_config,
               "Print the effective configuration as TOML (secret values masked as ********) and exit");
  sub->callback([opts] { run_serve(*opts); });
}

}  // namespace ivfstream::apps
