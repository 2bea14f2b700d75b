#pragma once
// CUDA k-means and PQ codebook training (Lloyd iterations on one GPU). Plain C++17 interface: callers
// need neither CUDA headers nor nvcc; the implementation (gpu_kmeans.cu) links cuBLAS and the CUDA
// runtime only, so it also builds on its own (tests/gpu/check.sh).
//
// One iteration over a batch of b training rows, per sub-space m (coarse k-means is the case M = 1):
//   D_m = −2 · C_m · X_mᵀ                   one cublasSgemmStridedBatched for all M sub-spaces
//   a(i,m) = argmin_c ‖c‖² + D_m[c, i]      one warp per (row, sub-space)
//   dist  = ‖x_m‖² + that minimum           (‖x − c‖² = ‖x‖² − 2⟨x,c⟩ + ‖c‖²), summed into the objective
//   sums[m][a] += x_m (double atomics), counts[m][a] += 1
// then centroids = sums / counts on the device; empty clusters are repaired on the host with
// repair_empty_clusters() (kmeans_host_steps.hpp), the same function a CPU reference uses. After the last
// update one more assignment pass computes the objective of the returned centroids.
// Device memory is checked with cudaMemGetInfo before allocating: the training set stays resident when it
// fits, otherwise it is streamed from host memory in batches every iteration (same result).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/cuda/device_status.hpp"

namespace ivfstream::kernels {

/// Options of gpu_kmeans / gpu_train_pq.
struct gpu_kmeans_options {
  std::size_t max_iterations = 25;      ///< Lloyd iterations, ≥ 1
  double tolerance = 0.0;               ///< stop once (previous − current objective) / previous < tolerance; 0 runs all
  std::uint64_t seed = 42;              ///< seeds empty-cluster repair (repair_seed(seed, iteration, m))
  std::size_t device_memory_limit = 0;  ///< bytes this call may allocate; 0 = free memory minus a reserve
  int device = 0;                       ///< CUDA device ordinal (made current on the calling thread)
  bool spherical = false;               ///< renormalise every centroid (sub-vector) to unit length after each update
};

/// What a training call did.
struct gpu_kmeans_stats {
  double objective = 0.0;        ///< Σ over rows (and sub-spaces) of ‖x − nearest returned centroid‖² (final assignment pass)
  std::size_t iterations = 0;    ///< Lloyd iterations run
  std::size_t batch_rows = 0;    ///< rows per device batch
  bool streamed = false;         ///< true when the training set was streamed from the host each iteration
  std::size_t empty_cluster_repairs = 0;  ///< clusters repaired over all iterations and sub-spaces
};

/// Number of CUDA devices. No driver or no device is `unavailable` (count = 0) with the runtime's reason.
/// Thread-safe.
device_status gpu_device_count(int* count);

/// Lloyd k-means of n rows into k clusters on the GPU.
/// x: n × d floats, row-major, host memory. initial_centroids, centroids (output): k × d floats, row-major,
/// host memory (may alias). stats may be null. Sizes outside n ≥ k ≥ 1, d ≥ 1 are `invalid_argument`;
/// no device is `unavailable`; never aborts on a CUDA failure. Uses options.device; callers on different
/// threads must use different devices or serialize.
device_status gpu_kmeans(const float* x, std::size_t n, std::size_t d, std::size_t k,
                         const float* initial_centroids, const gpu_kmeans_options& options,
                         float* centroids, gpu_kmeans_stats* stats);

/// PQ codebook training: M independent k-means (ksub centroids each) over the M sub-spaces of x, all M
/// trained together (one batched GEMM per batch of rows). x: n × d floats, row-major, host; dsub = d / M.
/// initial_codebooks, codebooks (output): M × ksub × dsub floats, row-major, host (may alias).
/// @pre none: M ∤ d, n < ksub, ksub = 0 are `invalid_argument`. Thread-safety as gpu_kmeans.
device_status gpu_train_pq(const float* x, std::size_t n, std::size_t d, std::size_t M,
                           std::size_t ksub, const float* initial_codebooks,
                           const gpu_kmeans_options& options, float* codebooks,
                           gpu_kmeans_stats* stats);

/// k-means++'s distance passes on the GPU (kernels::kmeanspp_device's contract, kernels/kmeans.hpp): the
/// seeding rows stay on the device, transposed (d × n, so that a warp reads consecutive rows); each
/// update() computes, for every row i, Σ_t (x_it − x_seed,t)² in t order with round-to-nearest adds and
/// multiplies (no FMA: bit-identical to the CPU's definition), lowers min_d[i] to it, sums min_d per
/// 256-row block, and copies min_d (n floats) and the block sums (⌈n/256⌉ floats) to the host.
/// One object per seeding; not thread-safe.
class gpu_kmeanspp_passes {
 public:
  explicit gpu_kmeanspp_passes(int device = 0);
  ~gpu_kmeanspp_passes();
  gpu_kmeanspp_passes(const gpu_kmeanspp_passes&) = delete;
  gpu_kmeanspp_passes& operator=(const gpu_kmeanspp_passes&) = delete;

  /// Uploads the n × d rows (host, row-major) and sets min_d to +inf. Checks free device memory first
  /// (out_of_memory when the rows do not fit with the reserve); invalid_argument for n = 0 or d = 0.
  device_status load(const float* rows, std::size_t n, std::size_t d);
  /// One pass for the seed at row `seed` (< n) of the loaded rows. min_d: n floats, block_sums: ⌈n/256⌉
  /// floats, host memory, overwritten with the device's values.
  device_status update(std::size_t seed, float* min_d, float* block_sums);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace ivfstream::kernels
