// Coarse quantizers side by side (issue 5a): flat IVF centroids against the inverted multi-index (IMI,
// index/multi_index_quantizer.hpp) on one data set, same PQ (M × 8 bits) on the residuals. For each
// configuration and nprobes: recall@10 against the data set's ground truth, candidates scanned per
// query (to compare at similar candidate counts), probe time (plan_query: coarse distances + probed
// cells + query tables), single-query QPS on one thread (CPU time), training time (wall), and the
// memory of the coarse quantizer + tables and of the list objects. Numbers for bench/README.md, never
// assertions.
//   ivfstream_coarse_bench DIR CONFIG... [nq=500] [M=16] [max_iter=20]
// CONFIG: flat:NLIST:P1/P2/...  or  imi:BITS:P1/P2/...  (nprobes list per configuration), e.g.
//   flat:256:8/16/32 imi:6:64/128/256/512
// DIR holds base.fvecs, query.fvecs, gt.ivecs (layout: /work/shared/bench/README.md). Metric l2, no refine.
// Search times are the calling thread's CPU time (the figure to quote on a shared machine).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"

using namespace ivfstream;

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

/// Rows of an fvecs/ivecs file (each row: int32 dim, then dim 4-byte values); dim out.
template <class T>
std::vector<T> read_vecs(const std::string& path, std::size_t& dim, std::size_t max_rows = SIZE_MAX) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<T> out;
  std::int32_t d = 0;
  std::size_t rows = 0;
  while (rows < max_rows && in.read(reinterpret_cast<char*>(&d), 4)) {
    dim = static_cast<std::size_t>(d);
    const std::size_t at = out.size();
    out.resize(at + dim);
    in.read(reinterpret_cast<char*>(out.data() + at), static_cast<std::streamsize>(dim * sizeof(T)));
    ++rows;
  }
  return out;
}

struct config {
  bool imi = false;
  std::size_t size = 0;  // nlist (flat) or imi_bits
  std::vector<std::size_t> nprobes;
};

bool parse_config(const std::string& s, config* c) {
  std::stringstream ss(s);
  std::string kind, size, probes;
  if (!std::getline(ss, kind, ':') || !std::getline(ss, size, ':') || !std::getline(ss, probes)) return false;
  if (kind != "flat" && kind != "imi") return false;
  c->imi = kind == "imi";
  c->size = std::stoul(size);
  std::stringstream ps(probes);
  for (std::string p; std::getline(ps, p, '/');) c->nprobes.push_back(std::stoul(p));
  return !c->nprobes.empty();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIR CONFIG... [nq] [M] [max_iter]   CONFIG = flat:NLIST:P1/P2 | imi:BITS:P1/P2\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<config> configs;
  std::vector<std::size_t> numbers;
  for (int a = 2; a < argc; ++a) {
    config c;
    if (parse_config(argv[a], &c)) configs.push_back(c);
    else numbers.push_back(std::stoul(argv[a]));
  }
  const std::size_t nq_max = numbers.size() > 0 ? numbers[0] : 500, M = numbers.size() > 1 ? numbers[1] : 16;
  const std::size_t max_iter = numbers.size() > 2 ? numbers[2] : 20;
  std::size_t d = 0, dq = 0, dg = 0;
  const auto base = read_vecs<float>(dir + "/base.fvecs", d);
  const auto queries = read_vecs<float>(dir + "/query.fvecs", dq, nq_max);
  const auto gt = read_vecs<std::int32_t>(dir + "/gt.ivecs", dg, nq_max);
  const std::size_t n = base.size() / d, nq = queries.size() / dq;
  std::printf("# %s: n=%zu d=%zu nq=%zu M=%zu nbits=8 max_iter=%zu, 1 thread search (CPU time), no refine\n",
              dir.c_str(), n, d, nq, M, max_iter);
  std::printf("coarse,cells,nprobes,recall10,cands_per_query,probe_us_per_query,qps_1t_cpu,train_s_wall,"
              "codebook_mib,list_objects_mib,nonempty_cells\n");
  for (const config& c : configs) {
    index_params p;
    p.dimension = d;
    p.num_sub_vectors = M;
    p.num_bits = 8;
    p.max_iterations = max_iter;
    p.keep_raw_vectors = false;
    if (c.imi) {
      p.coarse_quantizer = coarse_quantizer_kind::imi;
      p.imi_bits = static_cast<unsigned>(c.size);
      p.num_partitions = std::size_t{1} << (2 * c.size);
    } else {
      p.num_partitions = c.size;
    }
    auto index = ivfpq_index::create(p);
    if (!index) return std::fprintf(stderr, "%s\n", index.error().to_string().c_str()), 1;
    const auto t0 = std::chrono::steady_clock::now();  // wall: training may use several threads
    if (auto st = index->train(base.data(), n); !st) return std::fprintf(stderr, "%s\n", st.error().to_string().c_str()), 1;
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::uint64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = i;
    if (auto st = index->add(ids.data(), base.data(), n); !st) return 1;
    std::size_t objects = 0, nonempty = 0;
    for (const auto& l : index->lists()) {
      objects += l.object_bytes();
      nonempty += l.size() > 0;
    }
    const memory_stats mem = index->memory();
    for (std::size_t nprobe : c.nprobes) {
      search_params sp;
      sp.limit = 10;
      sp.nprobes = nprobe;
      scan_counters counters;
      // each timing is the best of 3 passes (the machine is shared: the minimum is the least disturbed)
      std::size_t hit = 0;
      double probe_s = 1e30, all_s = 1e30;
      for (int rep = 0; rep < 3; ++rep) {
        double t = cpu_seconds();
        for (std::size_t i = 0; i < nq; ++i)
          if (!index->codebooks()->plan_query(&queries[i * d], nprobe)) return 1;
        probe_s = std::min(probe_s, cpu_seconds() - t);
        sp.counters = rep == 0 ? &counters : nullptr;
        t = cpu_seconds();
        for (std::size_t i = 0; i < nq; ++i) {
          auto r = index->search(&queries[i * d], sp);
          if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
          if (rep > 0) continue;
          std::set<std::int32_t> truth(&gt[i * dg], &gt[i * dg] + 10);
          for (const auto& h : *r) hit += truth.count(static_cast<std::int32_t>(h.id));
        }
        all_s = std::min(all_s, cpu_seconds() - t);
      }
      std::printf("%s,%zu,%zu,%.4f,%.0f,%.1f,%.0f,%.1f,%.2f,%.2f,%zu\n", c.imi ? "imi" : "flat", p.num_partitions,
                  nprobe, double(hit) / double(nq * 10), double(counters.scanned) / double(nq),
                  probe_s / double(nq) * 1e6, double(nq) / all_s, train_s, double(mem.codebook_bytes) / 1048576.0,
                  double(objects) / 1048576.0, nonempty);
      std::fflush(stdout);
    }
  }
  return 0;
}
