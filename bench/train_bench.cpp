// Index training time per training device (index_params::accelerator), same data, same process, and the
// recall@10 each trained index gives: the number behind "GPU training is N× faster at equal quality".
// Numbers for the notes, never assertions.
//   ivfstream_train_bench [n=1000000] [d=128] [num_partitions=4096] [M=16] [max_iterations=10]
//                         [accelerators=cpu,cuda] [n_base=200000] [nprobes=32]
// Data: n × d clustered Gaussian rows (2·num_partitions centres ~ N(0,1), spread 0.5, seeded); the index
// trains on all n rows (coarse k-means with num_partitions centroids, then PQ M×8 on the residuals), the
// first n_base rows are added, and 200 held-out queries are searched at `nprobes`, refine 0, against
// brute force. Train times are wall clock: CPU training uses every hardware thread (train_threads = 0);
// each device is first warmed up by a small training (reported apart), so CUDA context creation is not
// in the timed training.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "kernels/accelerator.hpp"
#include "kernels/kmeans.hpp"

using namespace ivfstream;
using wall_clock = std::chrono::steady_clock;

namespace {

double seconds(wall_clock::time_point a, wall_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// rows × d floats, row-major: a centre from `centres` (c × d) plus N(0, 0.5²) noise per coordinate.
std::vector<float> mixture(std::size_t rows, std::size_t d, const std::vector<float>& centres, std::mt19937_64& rng) {
  std::normal_distribution<float> noise(0.0f, 0.5f);
  std::uniform_int_distribution<std::size_t> pick(0, centres.size() / d - 1);
  std::vector<float> x(rows * d);
  for (std::size_t i = 0; i < rows; ++i) {
    const float* c = &centres[pick(rng) * d];
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = c[j] + noise(rng);
  }
  return x;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    const std::size_t e = std::min(s.find(',', b), s.size());
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const auto arg = [&](int i, std::size_t def) -> std::size_t {
    return argc > i ? std::strtoull(argv[i], nullptr, 10) : def;
  };
  const std::size_t n = arg(1, 1000000), d = arg(2, 128), nlist = arg(3, 4096), n_sub = arg(4, 16);
  const std::size_t iterations = arg(5, 10);
  const std::vector<std::string> devices = split(argc > 6 ? argv[6] : "cpu,cuda");
  const std::size_t n_base = std::min(n, arg(7, 200000)), nprobes = arg(8, 32);
  const std::size_t nq = 200, k = 10;

  auto t0 = wall_clock::now();
  std::mt19937_64 rng(7);
  std::normal_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> centres(2 * nlist * d);
  for (float& c : centres) c = unit(rng);
  const auto x = mixture(n, d, centres, rng);
  const auto q = mixture(nq, d, centres, rng);
  // Exact top-k of each query over the base rows (squared L2, double accumulation).
  std::vector<std::set<std::uint64_t>> truth(nq);
  for (std::size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, std::uint64_t>> all(n_base);
    for (std::size_t r = 0; r < n_base; ++r) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const double t = double(q[i * d + j]) - x[r * d + j];
        s += t * t;
      }
      all[r] = {s, r};
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    for (std::size_t r = 0; r < k; ++r) truth[i].insert(all[r].second);
  }
  std::printf("data: n=%zu d=%zu num_partitions=%zu M=%zu x 8 bits max_iterations=%zu n_base=%zu queries=%zu "
              "nprobes=%zu (generated with ground truth in %.1f s)\n",
              n, d, nlist, n_sub, iterations, n_base, nq, nprobes, seconds(t0, wall_clock::now()));

  {  // the seeding both devices run on the host (kmeans_initialise: k-means++ on 16·k rows, every thread)
    kernels::kmeans_options o;
    o.max_threads = 0;
    t0 = wall_clock::now();
    const auto start = kernels::kmeans_initialise(x.data(), n, d, nlist, o);
    std::printf("coarse seeding on the host (k-means++, %zu seeds from %zu rows, all threads): %.3f s\n", nlist,
                std::min(start.rows, 16 * nlist), seconds(t0, wall_clock::now()));
  }
  double cpu_time = 0;
  for (const std::string& name : devices) {
    const auto a = kernels::parse_accelerator(name);
    if (!a) {
      std::fprintf(stderr, "%s\n", kernels::accelerator_parse_error(name).c_str());
      return 2;
    }
    kernels::accelerator_choice choice;
    if (const auto st = kernels::resolve_accelerator(*a, kernels::stderr_log_sink(), &choice); !st) {
      std::printf("accelerator=%s: skipped: %s\n", name.c_str(), st.message().c_str());
      continue;
    }
    // First use of a device (CUDA context, cuBLAS handle and its kernels; OpenMP's thread pool) is paid
    // once per process: a small training before the timed one reports it apart.
    {
      index_params w;
      w.dimension = d;
      w.num_partitions = 16;
      w.num_sub_vectors = n_sub;
      w.max_iterations = 2;
      w.accelerator = *a;
      auto warm = ivfpq_index::create(w);
      const auto w0 = wall_clock::now();
      if (!warm || !warm->train(x.data(), std::min<std::size_t>(n, 4096), d)) {
        std::fprintf(stderr, "accelerator=%s: warm-up training failed\n", name.c_str());
        return 1;
      }
      std::printf("accelerator=%s: first use (warm-up training of 4096 rows) %.3f s\n", name.c_str(),
                  seconds(w0, wall_clock::now()));
    }
    index_params p;
    p.dimension = d;
    p.num_partitions = nlist;
    p.num_sub_vectors = n_sub;
    p.num_bits = 8;
    p.max_iterations = iterations;
    p.accelerator = *a;
    p.train_threads = 0;
    auto index = ivfpq_index::create(p);
    if (!index) {
      std::fprintf(stderr, "%s\n", index.error().to_string().c_str());
      return 2;
    }
    t0 = wall_clock::now();
    if (auto st = index->train(x.data(), n, d); !st) {
      std::printf("accelerator=%s: train failed: %s\n", name.c_str(), st.error().to_string().c_str());
      return 1;
    }
    const double train_s = seconds(t0, wall_clock::now());
    std::vector<std::uint64_t> ids(n_base);
    for (std::size_t i = 0; i < n_base; ++i) ids[i] = i;
    if (auto st = index->add(ids.data(), x.data(), n_base, d); !st) {
      std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
      return 1;
    }
    search_params sp;
    sp.limit = k;
    sp.nprobes = nprobes;
    double recall = 0;
    for (std::size_t i = 0; i < nq; ++i) {
      const auto hits = index->search(&q[i * d], d, sp);  // keep the result alive while iterating it
      if (!hits) {
        std::fprintf(stderr, "%s\n", hits.error().to_string().c_str());
        return 1;
      }
      for (const auto& h : *hits) recall += double(truth[i].count(h.id)) / double(k);
    }
    recall /= double(nq);
    if (choice.used == kernels::accelerator::cpu && *a == kernels::accelerator::cpu) cpu_time = train_s;
    std::printf("RESULT train accelerator=%s used=%s train_s=%.3f recall@10=%.4f%s\n", name.c_str(),
                kernels::to_string(choice.used), train_s, recall,
                cpu_time > 0 && choice.used == kernels::accelerator::cuda
                    ? (" speedup_vs_cpu=" + std::to_string(cpu_time / train_s) + "x").c_str()
                    : "");
  }
  return 0;
}
