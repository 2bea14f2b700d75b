#pragma once
// CPU reference for tests/gpu/check.sh: multi-threaded Lloyd k-means with the GPU trainer's exact
// conventions (M sub-spaces, ‖x‖² − 2⟨x,c⟩ + ‖c‖², ties to the lower index, double sums,
// repair_empty_clusters with repair_seed, objective of the returned centroids), plus the exact
// nearest-neighbour and PQ helpers the recall comparison needs. Standard library only (std::thread),
// so the check builds with nvcc and nothing else. The inner product kernel is blocked 4 rows × 16
// centroids and uses AVX2/FMA when compiled with -mavx2 -mfma (check.sh does where the CPU has them).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream::gpu_check {

/// Runs f(begin, end) over [0, n) split into contiguous ranges on `threads` threads (joined on return).
template <class F>
void parallel_for(std::size_t n, unsigned threads, F&& f);

/// Lloyd k-means over the M sub-spaces of x (n × d, row-major): `centroids` (M × k × dsub, row-major)
/// holds the initial centroids on entry and the result on exit. Runs exactly `iterations` updates.
/// Returns the objective of the returned centroids (Σ over rows and sub-spaces of the squared distance).
double cpu_lloyd(const float* x, std::size_t n, std::size_t d, std::size_t M, std::size_t k,
                 std::size_t iterations, std::uint64_t seed, unsigned threads, float* centroids);

/// Nearest centroid per (row, sub-space): codes n × M (values < k), optional dists n × M (squared L2).
void cpu_assign(const float* x, std::size_t n, std::size_t d, std::size_t M, std::size_t k,
                const float* centroids, unsigned threads, std::uint32_t* codes, float* dists);

/// Exact `topk` nearest rows of base (nb × d) for each query (nq × d) by squared L2, ascending:
/// out nq × topk row indices.
void cpu_knn(const float* base, std::size_t nb, const float* queries, std::size_t nq, std::size_t d,
             std::size_t topk, unsigned threads, std::vector<std::uint32_t>* out);

/// PQ search by asymmetric distance: for each query the `topk` codes (nb × M, values < ksub) with the
/// smallest Σ_m ‖q_m − codebooks[m][code_m]‖². codebooks: M × ksub × dsub. out: nq × topk row indices.
void pq_adc_knn(const std::uint32_t* codes, std::size_t nb, const float* codebooks, std::size_t M,
                std::size_t ksub, const float* queries, std::size_t nq, std::size_t d, std::size_t topk,
                unsigned threads, std::vector<std::uint32_t>* out);

/// Mean over queries of |found ∩ truth| / topk (both nq × topk).
double recall_at(const std::vector<std::uint32_t>& found, const std::vector<std::uint32_t>& truth,
                 std::size_t nq, std::size_t topk);

}  // namespace ivfstream::gpu_check

#include <algorithm>
#include <thread>

template <class F>
void ivfstream::gpu_check::parallel_for(std::size_t n, unsigned threads, F&& f) {
  threads = threads == 0 ? 1 : threads;
  std::vector<std::thread> pool;
  const std::size_t chunk = (n + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    const std::size_t b = t * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([&f, b, e] { f(b, e); });
  }
  for (auto& th : pool) th.join();
}
