// Hot swap under query load (issue 4 targets): query latency p50/p99 in steady state and while a
// retrain + swap runs, the time to swap, and how it scales with the index size.
//   ivfstream_hot_swap_bench [n=100000] [d=128] [nlist=256] [M=16] [partitions=2] [nice=19] [pace_us=0]
//                            [mode=retrain] [clients=2]
// Two client threads search (nprobes 16, k 10) through the embedded engine: back to back (pace_us 0,
// a closed loop that keeps the cores busy) or each starting one query every pace_us (an open loop at
// a fixed rate, idle CPU left over). nice: retrain.background_nice, the priority of the training and
// re-encoding threads (0 = same as the queries). The steady window and the swap window are measured
// in the same run, so the ratio is the number to read. The swap window is also split at the end of
// training (queries started while the trainer thread ran vs during shadow build + migrate + commit).
// mode: retrain (the measurement), rebalance (the stream after the first training piles half its rows
// into one region; the swap window is one engine::rebalance(): split/merge plan + the same hot swap), or
// burn (an experiment: instead of a retrain, one background thread at the same priority as the
// re-encoders spins on arithmetic for 3 s; what CPU competition alone, without any partition-side swap
// work, does to the queries' p99).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "actors/thread_priority.hpp"

using namespace ivfstream;
using steady = std::chrono::steady_clock;

namespace {

std::vector<float> clustered(std::size_t n, std::size_t d, std::size_t clusters, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> c(clusters * d), x(n * d);
  for (auto& v : c) v = g(rng);
  std::uniform_int_distribution<std::size_t> pick(0, clusters - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = pick(rng);
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = c[k * d + j] + 0.35f * g(rng);
  }
  return x;
}

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(q * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t d = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 128;
  const std::size_t nlist = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 256;
  const std::size_t M = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 16;
  const std::uint32_t P = argc > 5 ? std::uint32_t(std::strtoul(argv[5], nullptr, 10)) : 2;
  const int nice = argc > 6 ? std::atoi(argv[6]) : 19;
  const long pace_us = argc > 7 ? std::atol(argv[7]) : 0;
  const std::string mode = argc > 8 ? argv[8] : "retrain";
  const int nclients = argc > 9 ? std::atoi(argv[9]) : 2;
  if (mode != "retrain" && mode != "rebalance" && mode != "burn")
    return std::printf("mode: '%s', allowed: retrain, rebalance, burn\n", mode.c_str()), 1;
  engine_options o;
  o.partition_actors = P;
  o.query_actors = 2;
  o.train_after = std::max<std::size_t>(20000, 40 * nlist);
  o.retrain.enabled = true;
  o.retrain.drift_threshold = 0;  // only the explicit retrain below
  o.retrain.reservoir_size = std::max<std::size_t>(20000, 40 * nlist);
  o.query_deadline = std::chrono::milliseconds(5000);
  o.retrain.background_nice = nice;
  auto eo = engine::open(o);
  if (!eo) return std::printf("open: %s\n", eo.error().to_string().c_str()), 1;
  auto& e = **eo;
  index_params p;
  p.dimension = d;
  p.num_partitions = nlist;
  p.num_sub_vectors = M;
  p.max_iterations = 10;
  if (auto st = e.create_index(p); !st) return std::printf("create: %s\n", st.error().to_string().c_str()), 1;
  auto x = clustered(n, d, 100, 1);
  if (mode == "rebalance") {  // after the first training, every other row lands near row 0: one list grows
    std::mt19937_64 rng(3);
    std::normal_distribution<float> g(0.f, 0.35f);
    for (std::size_t i = o.train_after; i < n; i += 2)
      for (std::size_t j = 0; j < d; ++j) x[i * d + j] = x[j] + g(rng);
  }
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  const auto t_load = steady::now();
  for (std::size_t off = 0; off < n; off += 5000) {
    const std::size_t b = std::min<std::size_t>(5000, n - off);
    if (auto st = e.upsert(ids.data() + off, x.data() + off * d, b); !st)
      return std::printf("upsert: %s\n", st.error().to_string().c_str()), 1;
  }
  std::printf("n=%zu d=%zu nlist=%zu M=%zu partitions=%u nice=%d pace_us=%ld load %.1f s\n", n, d, nlist, M, P,
              nice, pace_us,
              std::chrono::duration<double>(steady::now() - t_load).count());
  const auto q = clustered(200, d, 100, 2);
  std::atomic<int> window{0};  // 0 steady, 1 swap, 2 stop
  std::vector<double> lat[2];
  std::atomic<std::size_t> failures{0}, partial{0};
  std::vector<std::thread> clients;
  // Per query: window, start (ms since the swap window began; < 0 in the steady one), latency ms.
  struct sample {
    int w;
    double start, ms;
  };
  std::vector<std::vector<sample>> per(nclients);
  steady::time_point t_swap{};
  std::atomic<bool> swap_started{false};
  for (int c = 0; c < nclients; ++c)
    clients.emplace_back([&, c] {
      auto next = steady::now();
      for (std::size_t k = c; window.load() < 2; ++k) {
        if (pace_us > 0) {
          next += std::chrono::microseconds(pace_us);
          std::this_thread::sleep_until(next);
        }
        const int w = window.load();
        if (w > 1) break;  // stopped while this client slept (pace_us): lat[] has windows 0 and 1 only
        const auto t0 = steady::now();
        auto r = e.search(q.data() + (k % 200) * d, d).nprobes(16).limit(10).to_list();
        const double ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
        if (!r) ++failures;
        else if (r->partial) ++partial;
        const double start =
            w == 1 && swap_started.load() ? std::chrono::duration<double, std::milli>(t0 - t_swap).count() : -1;
        if (w == window.load()) per[c].push_back({w, start, ms});
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(4));
  t_swap = steady::now();
  swap_started = true;
  window = 1;
  result<std::uint64_t> v = std::uint64_t{0};
  std::size_t lists_before = 0;
  if (auto s0 = e.stats()) lists_before = s0->list_sizes.size();
  if (mode == "retrain") {
    v = e.retrain();
  } else if (mode == "rebalance") {
    v = e.rebalance();
  } else {
    std::thread burner([nice] {
      if (nice > 0) (void)actors::lower_this_thread_priority(nice);
      volatile double acc = 1;
      const auto end = steady::now() + std::chrono::seconds(3);
      while (steady::now() < end)
        for (int i = 0; i < 100000; ++i) acc = acc * 1.0000001 + 1e-9;
    });
    burner.join();
  }
  const double swap_total = std::chrono::duration<double, std::milli>(steady::now() - t_swap).count();
  window = 2;
  for (auto& t : clients) t.join();
  auto s = e.stats();
  const double train_end = s ? s->last_train_ms : 0;
  std::vector<double> sub[2];  // swap window: [0] while training, [1] shadow build + migrate + commit
  for (auto& list : per)
    for (auto q : list) {
      lat[q.w].push_back(q.ms);
      if (q.w == 1 && mode != "burn") sub[q.start >= train_end].push_back(q.ms);
    }
  if (!v || !s) return std::printf("retrain: %s\n", v ? "stats failed" : v.error().to_string().c_str()), 1;
  std::printf("%s -> v%llu: %.0f ms total (%s %.0f ms, shadow build + migrate + commit %.0f ms), "
              "peak shadow %.1f MiB; codes carried %llu, re-encoded %llu\n",
              mode.c_str(), (unsigned long long)*v, swap_total, mode == "rebalance" ? "planning" : "training",
              s->last_train_ms, s->last_swap_ms, s->peak_shadow_bytes / 1048576.0,
              (unsigned long long)s->swap_carried, (unsigned long long)s->swap_reencoded);
  if (mode == "rebalance")
    std::printf("  lists %zu -> %zu; plan: %s\n", lists_before, s->list_sizes.size(), s->last_rebalance.c_str());
  std::printf("steady: %zu queries p50 %.2f ms p99 %.2f ms | during retrain+swap: %zu queries p50 %.2f ms p99 %.2f ms"
              " | p99 ratio %.2f | failures %zu partial %zu\n",
              lat[0].size(), pct(lat[0], 0.5), pct(lat[0], 0.99), lat[1].size(), pct(lat[1], 0.5), pct(lat[1], 0.99),
              pct(lat[1], 0.99) / std::max(1e-9, pct(lat[0], 0.99)), failures.load(), partial.load());
  if (std::getenv("HOT_SWAP_BENCH_TIMELINE")) {
    // Swap window in 100 ms buckets of query start time: queries, max latency (where the slow ones sit).
    std::vector<std::pair<std::size_t, double>> b;
    for (auto& list : per)
      for (auto q : list)
        if (q.w == 1 && q.start >= 0) {
          const std::size_t i = std::size_t(q.start / 100);
          if (b.size() <= i) b.resize(i + 1);
          ++b[i].first;
          b[i].second = std::max(b[i].second, q.ms);
        }
    std::printf("  timeline (start ms: queries/max ms):");
    for (std::size_t i = 0; i < b.size(); ++i) std::printf(" %zu:%zu/%.1f", i * 100, b[i].first, b[i].second);
    std::printf("\n");
  }
  if (mode != "burn")
    std::printf("  while training/planning: %zu queries p99 %.2f ms (ratio %.2f) | while building/migrating/committing: %zu "
                "queries p99 %.2f ms (ratio %.2f)\n",
                sub[0].size(), pct(sub[0], 0.99), pct(sub[0], 0.99) / std::max(1e-9, pct(lat[0], 0.99)),
                sub[1].size(), pct(sub[1], 0.99), pct(sub[1], 0.99) / std::max(1e-9, pct(lat[0], 0.99)));
  return 0;
}
