// GPU check (run by tests/gpu/check.sh on a machine with a GPU): trains k-means (default 1M × 128,
// 4096 centroids) on the GPU (kernels/cuda/gpu_kmeans.cu) and on the CPU (cpu_lloyd.cpp) from the same
// initial centroids and the same number of iterations, then PQ codebooks (M = 16, 256 centroids) both
// ways and compares their recall@10 against exact search. Prints times, speedup and differences, and
// exits 1 when a criterion fails:
//   |objective_gpu − objective_cpu| / objective_cpu ≤ 0.01
//   streamed GPU run (training set larger than the allowed device memory) within 1e-3 of the resident one
//   |recall@10_gpu − recall@10_cpu| ≤ 0.01
//   speedup (CPU time / GPU time) ≥ 10
// Needs nvcc and cuBLAS only. Options: --n= --d= --k= --iterations= --threads= --pq-train= --pq-base=
// --queries= --pq-iterations= --seed=
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cuda/gpu_kmeans.hpp"
#include "kernels/cuda/kmeans_host_steps.hpp"
#include "tests/gpu/cpu_lloyd.hpp"

namespace k = ivfstream::kernels;
namespace gc = ivfstream::gpu_check;

namespace {

struct settings {
  std::size_t n = 1000000, d = 128, k = 4096, iterations = 10;
  std::size_t pq_m = 16, pq_ksub = 256, pq_train = 65536, pq_base = 100000, queries = 1000;
  std::size_t pq_iterations = 25, topk = 10;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::uint64_t seed = 1234;
};

bool parse(int argc, char** argv, settings* s) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    const std::string name = a.substr(2, eq - 2);
    const unsigned long long v = std::strtoull(a.c_str() + eq + 1, nullptr, 10);
    if (name == "n") s->n = v;
    else if (name == "d") s->d = v;
    else if (name == "k") s->k = v;
    else if (name == "iterations") s->iterations = v;
    else if (name == "threads") s->threads = static_cast<unsigned>(v);
    else if (name == "pq-train") s->pq_train = v;
    else if (name == "pq-base") s->pq_base = v;
    else if (name == "queries") s->queries = v;
    else if (name == "pq-iterations") s->pq_iterations = v;
    else if (name == "seed") s->seed = v;
    else return false;
  }
  return s->d % s->pq_m == 0 && s->k >= 1 && s->n >= s->k && s->pq_train >= s->pq_ksub;
}

// rows × d points of a Gaussian mixture: `centres` centres ~ N(0, 1)^d, each point a centre plus N(0, 0.5²)
// noise. Deterministic for (seed, rows) whatever the thread count: chunk c uses seed·2^20 + c.
std::vector<float> mixture(std::size_t rows, std::size_t d, std::size_t centres, std::uint64_t seed,
                           unsigned threads) {
  std::vector<float> centre(centres * d);
  std::mt19937_64 g0(seed);
  std::normal_distribution<float> unit;
  for (auto& v : centre) v = unit(g0);
  std::vector<float> x(rows * d);
  constexpr std::size_t k_chunk = 4096;
  const std::size_t chunks = (rows + k_chunk - 1) / k_chunk;
  gc::parallel_for(chunks, threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t c = b; c < e; ++c) {
      std::mt19937_64 g((seed << 20) + c + 1);
      std::normal_distribution<float> noise(0.0f, 0.5f);
      for (std::size_t i = c * k_chunk; i < std::min(rows, (c + 1) * k_chunk); ++i) {
        const std::size_t which = static_cast<std::size_t>(g() % centres);
        for (std::size_t t = 0; t < d; ++t) x[i * d + t] = centre[which * d + t] + noise(g);
      }
    }
  });
  return x;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); }

bool report(const char* what, bool ok) {
  std::printf("CHECK %-58s %s\n", what, ok ? "PASS" : "FAIL");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  if (!parse(argc, argv, &s)) {
    std::fprintf(stderr, "usage: kmeans_check [--n=1000000] [--d=128] [--k=4096] [--iterations=10] "
                         "[--threads=N] [--pq-train=65536] [--pq-base=100000] [--queries=1000] "
                         "[--pq-iterations=25] [--seed=1234]  (d divisible by 16, n ≥ k)\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int devices = 0;
  if (const k::device_status st = k::gpu_device_count(&devices); !st) {
    std::printf("no GPU: %s\n", st.to_string().c_str());
    return 1;
  }
  std::printf("devices=%d cpu_threads=%u\n", devices, s.threads);
  bool ok = true;

  // ---- coarse k-means: GPU vs CPU from the same initial centroids ------------------------------
  auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> x = mixture(s.n, s.d, 2 * s.k, s.seed, s.threads);
  std::vector<float> init(s.k * s.d);
  k::sample_initial_centroids(x.data(), s.n, s.d, 1, s.k, s.seed, init.data());
  std::printf("data: n=%zu d=%zu k=%zu iterations=%zu (generated in %.1f s)\n", s.n, s.d, s.k,
              s.iterations, seconds_since(t0));

  k::gpu_kmeans_options opt;
  opt.max_iterations = s.iterations;
  opt.seed = s.seed;
  {  // warm-up: CUDA context and cuBLAS handle creation are not part of the timed run
    const std::size_t wn = std::min<std::size_t>(s.n, 20000), wk = std::min<std::size_t>(wn, 64);
    std::vector<float> w(wk * s.d);
    k::sample_initial_centroids(x.data(), wn, s.d, 1, wk, 1, w.data());
    k::gpu_kmeans_options wo = opt;
    wo.max_iterations = 1;
    if (const k::device_status st = k::gpu_kmeans(x.data(), wn, s.d, wk, w.data(), wo, w.data(), nullptr); !st) {
      std::printf("GPU warm-up failed: %s\n", st.to_string().c_str());
      return 1;
    }
  }
  std::vector<float> gpu_c(s.k * s.d), gpu_s(s.k * s.d), cpu_c = init;
  k::gpu_kmeans_stats gst, sst;
  t0 = std::chrono::steady_clock::now();
  if (const k::device_status st = k::gpu_kmeans(x.data(), s.n, s.d, s.k, init.data(), opt, gpu_c.data(), &gst); !st) {
    std::printf("GPU k-means failed: %s\n", st.to_string().c_str());
    return 1;
  }
  const double gpu_time = seconds_since(t0);
  std::printf("GPU k-means: %.3f s (incl. host->device copy of the training set), objective %.6e, "
              "iterations %zu, batch_rows %zu, repairs %zu\n",
              gpu_time, gst.objective, gst.iterations, gst.batch_rows, gst.empty_cluster_repairs);

  k::gpu_kmeans_options so = opt;
  so.device_memory_limit = s.n * s.d * sizeof(float) / 2;  // half the training set: forces streaming
  t0 = std::chrono::steady_clock::now();
  if (const k::device_status st = k::gpu_kmeans(x.data(), s.n, s.d, s.k, init.data(), so, gpu_s.data(), &sst); !st) {
    std::printf("GPU streamed k-means failed: %s\n", st.to_string().c_str());
    return 1;
  }
  std::printf("GPU k-means streamed (limit %zu bytes): %.3f s, objective %.6e, batch_rows %zu, streamed=%d\n",
              so.device_memory_limit, seconds_since(t0), sst.objective, sst.batch_rows, int(sst.streamed));

  t0 = std::chrono::steady_clock::now();
  const double cpu_obj = gc::cpu_lloyd(x.data(), s.n, s.d, 1, s.k, s.iterations, s.seed, s.threads, cpu_c.data());
  const double cpu_time = seconds_since(t0);
  std::printf("CPU k-means: %.3f s (%u threads), objective %.6e\n", cpu_time, s.threads, cpu_obj);
  const double speedup = cpu_time / gpu_time;
  std::printf("RESULT kmeans n=%zu d=%zu k=%zu iters=%zu gpu_s=%.3f cpu_s=%.3f speedup=%.1fx "
              "objective_rel_diff=%.3e streamed_rel_diff=%.3e\n",
              s.n, s.d, s.k, s.iterations, gpu_time, cpu_time, speedup, rel(gst.objective, cpu_obj),
              rel(sst.objective, gst.objective));
  ok &= report("k-means objective GPU vs CPU within 1%", rel(gst.objective, cpu_obj) <= 0.01);
  ok &= report("streamed GPU run within 1e-3 of resident run", sst.streamed && rel(sst.objective, gst.objective) <= 1e-3);
  ok &= report("GPU ≥ 10x faster than CPU (target)", speedup >= 10.0);

  // ---- PQ codebooks: GPU vs CPU, recall@10 of PQ search against exact search -------------------
  t0 = std::chrono::steady_clock::now();
  const std::size_t rows = s.pq_train + s.pq_base + s.queries;
  const std::vector<float> all = mixture(rows, s.d, 1000, s.seed + 1, s.threads);
  const float* train = all.data();
  const float* base = train + s.pq_train * s.d;
  const float* queries = base + s.pq_base * s.d;
  std::vector<float> books0(s.pq_ksub * s.d);
  k::sample_initial_centroids(train, s.pq_train, s.d, s.pq_m, s.pq_ksub, s.seed, books0.data());
  std::vector<float> gpu_b(books0.size()), cpu_b = books0;
  k::gpu_kmeans_options po = opt;
  po.max_iterations = s.pq_iterations;
  k::gpu_kmeans_stats pst;
  auto t1 = std::chrono::steady_clock::now();
  if (const k::device_status st = k::gpu_train_pq(train, s.pq_train, s.d, s.pq_m, s.pq_ksub, books0.data(), po, gpu_b.data(), &pst); !st) {
    std::printf("GPU PQ training failed: %s\n", st.to_string().c_str());
    return 1;
  }
  const double pq_gpu_time = seconds_since(t1);
  t1 = std::chrono::steady_clock::now();
  const double pq_cpu_obj = gc::cpu_lloyd(train, s.pq_train, s.d, s.pq_m, s.pq_ksub, s.pq_iterations, s.seed,
                                          s.threads, cpu_b.data());
  const double pq_cpu_time = seconds_since(t1);
  std::vector<std::uint32_t> truth, found_gpu, found_cpu, codes(s.pq_base * s.pq_m);
  gc::cpu_knn(base, s.pq_base, queries, s.queries, s.d, s.topk, s.threads, &truth);
  gc::cpu_assign(base, s.pq_base, s.d, s.pq_m, s.pq_ksub, gpu_b.data(), s.threads, codes.data(), nullptr);
  gc::pq_adc_knn(codes.data(), s.pq_base, gpu_b.data(), s.pq_m, s.pq_ksub, queries, s.queries, s.d, s.topk, s.threads, &found_gpu);
  gc::cpu_assign(base, s.pq_base, s.d, s.pq_m, s.pq_ksub, cpu_b.data(), s.threads, codes.data(), nullptr);
  gc::pq_adc_knn(codes.data(), s.pq_base, cpu_b.data(), s.pq_m, s.pq_ksub, queries, s.queries, s.d, s.topk, s.threads, &found_cpu);
  const double r_gpu = gc::recall_at(found_gpu, truth, s.queries, s.topk);
  const double r_cpu = gc::recall_at(found_cpu, truth, s.queries, s.topk);
  std::printf("RESULT pq M=%zu ksub=%zu train=%zu base=%zu queries=%zu iters=%zu gpu_s=%.3f cpu_s=%.3f "
              "objective_gpu=%.6e objective_cpu=%.6e recall@10_gpu=%.4f recall@10_cpu=%.4f diff=%.4f "
              "(section %.1f s)\n",
              s.pq_m, s.pq_ksub, s.pq_train, s.pq_base, s.queries, s.pq_iterations, pq_gpu_time, pq_cpu_time,
              pst.objective, pq_cpu_obj, r_gpu, r_cpu, r_gpu - r_cpu, seconds_since(t0));
  ok &= report("PQ objective GPU vs CPU within 1%", rel(pst.objective, pq_cpu_obj) <= 0.01);
  ok &= report("PQ recall@10 GPU vs CPU codebooks within 0.01", std::fabs(r_gpu - r_cpu) <= 0.01);
  std::printf("%s\n", ok ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
  return ok ? 0 : 1;
}
