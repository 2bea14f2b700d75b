// ivfpq_index on synthetic clustered data: train time, add µs/vector, single-thread search QPS and
// recall@10 per nprobes × refine_factor, memory per vector. Numbers for the notes, never assertions.
//   ivfstream_index_bench [n=100000] [d=128] [num_bits=8] [metric=l2] [num_partitions=256] [M=16] [nprobes=1,8,20,64]
// Single-query latency percentiles (p50/p99, wall and thread CPU time per query) are printed per setting.
// Times are wall clock and the calling thread's CPU time (the CPU figure is the one to quote on a
// shared machine: everything here runs on one thread).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "index/list_scan.hpp"
#include "kernels/topk.hpp"

using namespace ivfstream;
using wall_clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}
double seconds(wall_clock::time_point a, wall_clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

/// n × d: `clusters` Gaussian blobs, centres ~ N(0, 1), spread 0.35; rows drawn from `rng`.
std::vector<float> clustered(std::size_t n, std::size_t d, const std::vector<float>& centres, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_int_distribution<std::size_t> pick(0, centres.size() / d - 1);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = pick(rng);
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = centres[c * d + j] + 0.35f * g(rng);
  }
  return x;
}

std::vector<std::uint64_t> truth(const codebook_set& cb, const float* q, const std::vector<float>& x, std::size_t n,
                                 std::size_t d, std::size_t k) {
  if (cb.params().metric == metric::l2) {  // prepared = raw for l2: one l2sqr_ny over the base
    std::vector<float> dist(n);
    cb.kernels().l2sqr_ny(q, x.data(), n, d, dist.data());
    std::vector<std::pair<float, std::uint64_t>> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = {dist[i], i};
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    std::vector<std::uint64_t> ids(k);
    for (std::size_t i = 0; i < k; ++i) ids[i] = all[i].second;
    return ids;
  }
  std::vector<float> pq(d), px(d);
  (void)cb.prepare_vectors(q, 1, pq.data());
  std::vector<std::pair<float, std::uint64_t>> all(n);
  for (std::size_t i = 0; i < n; ++i) {
    (void)cb.prepare_vectors(&x[i * d], 1, px.data());
    all[i] = {cb.exact_distance(pq.data(), px.data()), i};
  }
  std::partial_sort(all.begin(), all.begin() + k, all.end());
  std::vector<std::uint64_t> ids(k);
  for (std::size_t i = 0; i < k; ++i) ids[i] = all[i].second;
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t d = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 128;
  const unsigned nbits = argc > 3 ? unsigned(std::atoi(argv[3])) : 8;
  auto m = parse_metric(argc > 4 ? argv[4] : "l2");
  if (!m) {
    std::fprintf(stderr, "%s\n", m.error().to_string().c_str());
    return 2;
  }
  const std::size_t nlist = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 256;
  const std::size_t n_sub = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 16;
  std::vector<std::size_t> probe_list{1, 8, 20, 64};
  if (argc > 7) {
    probe_list.clear();
    for (const char* s = argv[7]; *s;) {
      char* end = nullptr;
      probe_list.push_back(std::strtoull(s, &end, 10));
      s = *end == ',' ? end + 1 : end;
      if (end == s && *s) break;
    }
  }
  const std::size_t nq = 1000, n_truth = 200, k = 10;
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centres(1000 * d);
  for (float& c : centres) c = g(rng);
  const auto x = clustered(n, d, centres, rng);
  const auto q = clustered(nq, d, centres, rng);

  index_params p;
  p.dimension = d;
  p.metric = *m;
  p.num_partitions = nlist;
  p.num_sub_vectors = n_sub;
  p.num_bits = nbits;
  auto index = ivfpq_index::create(p);
  if (!index) {
    std::fprintf(stderr, "%s\n", index.error().to_string().c_str());
    return 2;
  }
  const double c0 = cpu_seconds();
  const auto t0 = wall_clock::now();
  if (auto st = index->train(x.data(), n, d); !st) {
    std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
    return 1;
  }
  const auto t1 = wall_clock::now();
  const double c1 = cpu_seconds();
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  if (auto st = index->add(ids.data(), x.data(), n, d); !st) {
    std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
    return 1;
  }
  const auto t2 = wall_clock::now();
  const double c2 = cpu_seconds();
  std::printf("metric=%s num_bits=%u n=%zu d=%zu num_partitions=%zu num_sub_vectors=%zu\n", to_string(*m), nbits, n,
              d, nlist, n_sub);
  std::printf("train %.2f s wall / %.2f s CPU; add %.2f us/vector wall / %.2f CPU\n", seconds(t0, t1), c1 - c0,
              seconds(t1, t2) * 1e6 / double(n), (c2 - c1) * 1e6 / double(n));
  std::vector<std::vector<std::uint64_t>> gt(n_truth);
  for (std::size_t i = 0; i < n_truth; ++i) gt[i] = truth(*index->codebooks(), &q[i * d], x, n, d, k);
  for (std::size_t nprobes : probe_list)
    for (std::size_t rf : {0, 4}) {
      search_params sp;
      sp.limit = k;
      sp.nprobes = nprobes;
      sp.refine_factor = rf;
      std::vector<std::vector<search_hit>> res(nq);
      const double s0 = cpu_seconds();
      const auto w0 = wall_clock::now();
      std::vector<double> lat_wall(nq), lat_cpu(nq);
      for (std::size_t i = 0; i < nq; ++i) {
        const double qc = cpu_seconds();
        const auto qw = wall_clock::now();
        res[i] = *index->search(&q[i * d], d, sp);
        lat_wall[i] = seconds(qw, wall_clock::now());
        lat_cpu[i] = cpu_seconds() - qc;
      }
      const auto w1 = wall_clock::now();
      const double s1 = cpu_seconds();
      auto pct = [](std::vector<double> v, double f) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, std::size_t(f * double(v.size())))] * 1e3;
      };
      double recall = 0;
      for (std::size_t i = 0; i < n_truth; ++i) {
        const std::set<std::uint64_t> t(gt[i].begin(), gt[i].end());
        for (const auto& h : res[i]) recall += double(t.count(h.id)) / double(k);
      }
      std::printf("nprobes=%-3zu refine=%zu: %7.0f QPS single-thread by CPU time (%7.0f wall), recall@10 %.3f; "
                  "latency ms p50/p99 CPU %.3f/%.3f wall %.3f/%.3f\n",
                  nprobes, rf, double(nq) / (s1 - s0), double(nq) / seconds(w0, w1), recall / double(n_truth),
                  pct(lat_cpu, 0.5), pct(lat_cpu, 0.99), pct(lat_wall, 0.5), pct(lat_wall, 0.99));
      if (nbits == 4 && rf == 0) {
        // The float ADC path (scan_list per probed list), which 4-bit search used before fast-scan: same
        // plans, same tables; counts queries whose top-k differs from search() (expected 0).
        const codebook_set& cb = *index->codebooks();
        std::vector<float> lut(cb.num_sub_vectors() * cb.ksub());
        std::size_t differ = 0;
        const double f0 = cpu_seconds();
        for (std::size_t i = 0; i < nq; ++i) {
          auto plan = cb.plan_query(&q[i * d], nprobes);
          kernels::topk_heap heap(k);
          for (std::size_t j = 0; j < plan->lists.size(); ++j) {
            const inverted_list& list = index->lists()[plan->lists[j]];
            if (list.live() == 0) continue;
            scan_list(cb.kernels(), cb, list, cb.probe(*plan, j, list.keeps_terms(), lut.data()), heap);
          }
          const auto top = heap.take_sorted();
          bool same = top.size() == res[i].size();
          for (std::size_t r = 0; same && r < top.size(); ++r)
            same = top[r].second == res[i][r].id && top[r].first == res[i][r].distance;
          differ += !same;
        }
        const double f1 = cpu_seconds();
        std::printf("             float-ADC scan_list path: %7.0f QPS by CPU time; top-k differs on %zu of %zu queries\n",
                    double(nq) / (f1 - f0), differ, nq);
      }
    }
  const auto mem = index->memory();
  const double nv = mem.vectors ? double(mem.vectors) : 1.0;
  std::printf("memory (measured, index::memory()): resident codes+ids+terms %.2f B/vector (codes %zu B = %.2f, ids %zu B "
              "= %.2f, terms %zu B = %.2f, tombstone bits %zu B = %.3f); list rows %zu B = %.2f B/vector (refine only); lists with rows "
              "%.2f B/vector; id map %zu B = %.2f B/vector; total %.2f B/vector; list capacity %zu B (%.2f B/vector); "
              "codebooks %zu B; vector store %zu B used, %zu B mapped\n",
              mem.resident_bytes_per_vector(), mem.code_bytes, double(mem.code_bytes) / nv, mem.id_bytes,
              double(mem.id_bytes) / nv, mem.term_bytes, double(mem.term_bytes) / nv, mem.tombstone_bytes, double(mem.tombstone_bytes) / nv, mem.row_bytes,
              double(mem.row_bytes) / nv, mem.list_bytes_per_vector(), mem.id_map_bytes, double(mem.id_map_bytes) / nv,
              mem.total_bytes_per_vector(), mem.list_capacity_bytes, double(mem.list_capacity_bytes) / nv,
              mem.codebook_bytes, mem.vector_store_used_bytes, mem.vector_store_mapped_bytes);
  return 0;
}
