#pragma once
// Nearest-centroid assignment and Lloyd k-means (coarse quantiser and PQ codebook training).
// All arrays row-major float, no padding. Single-threaded unless max_threads > 1 (see kernels/gemm.hpp).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream::kernels {

/// For each of the n rows of x (n × d), the nearest of the k centroids (k × d) by squared L2:
/// labels[i] in [0,k), dists[i] = ‖x_i − c‖². Computed as ‖x‖² − 2⟨x,c⟩ + ‖c‖² through matmul_nt in row
/// blocks (scratch bounded to ~4 MiB + k floats), clamped at 0. Ties go to the lower centroid index.
///   labels : n uint32      dists : n floats (may be nullptr when not needed)
/// max_threads: see matmul_nt. @pre k >= 1. Thread-safety: reentrant (no shared state).
void assign_nearest(const float* x, std::size_t n, const float* centroids, std::size_t k, std::size_t d,
                    std::uint32_t* labels, float* dists, int max_threads = 1);

/// For each of the n rows, the `count` nearest centroids ascending by (distance, index):
///   out_labels : n × count uint32      out_dists : n × count floats (squared L2, clamped at 0)
/// @pre 1 <= count <= k (the caller clamps count to k). Thread-safety: reentrant.
void nearest_centroids(const float* x, std::size_t n, const float* centroids, std::size_t k, std::size_t d,
                       std::size_t count, std::uint32_t* out_labels, float* out_dists, int max_threads = 1);

/// How kmeans() picks its initial centroids.
enum class kmeans_init : std::uint8_t {
  plus_plus,    ///< k-means++ (D² sampling, seeded) on at most 16·k rows of the training set
  random_rows,  ///< k distinct training rows drawn uniformly (seeded), as FAISS does. For PQ sub-spaces
                ///< it gave better recall: k-means++ spends codewords on outliers (bench/README.md)
};

/// Options of kmeans().
struct kmeans_options {
  std::size_t max_iterations = 50;            ///< maximum number of Lloyd updates
  std::uint64_t seed = 42;                    ///< seeds subsampling and k-means++
  std::size_t max_points_per_centroid = 256;  ///< subsample to k × this (LanceDB sample_rate), seeded
  bool spherical = false;                     ///< renormalise centroids to unit length each step
  int max_threads = 1;                        ///< threads for the matrix products (matmul_nt, OpenMP) and the
                                              ///< k-means++ passes (0 = all); the result does not depend on it
  kmeans_init init = kmeans_init::plus_plus;  ///< initial centroids
};

/// Result of kmeans().
struct kmeans_result {
  std::vector<float> centroids;  ///< k × d row-major
  double objective = 0;          ///< Σ squared distance of the (sampled) training points to their centroid
  std::size_t iterations = 0;    ///< Lloyd updates performed (≤ max_iterations)
};

/// Where kmeans() starts: its training rows and its initial centroids. The same for a given input, seed
/// and options whatever then runs the iterations (kmeans() here, or the GPU trainer: kernels/accelerator).
struct kmeans_start {
  std::vector<float> sampled;   ///< the training rows (rows × d) when x was subsampled; empty otherwise
  const float* source = nullptr;  ///< x itself
  std::size_t rows = 0;         ///< number of training rows
  std::vector<float> centroids;   ///< k × d initial centroids (unit length when spherical)
  /// The training rows: `sampled` when x was subsampled, else x (rows × d, row-major).
  const float* train() const noexcept { return sampled.empty() ? source : sampled.data(); }
};

/// Another device for k-means++'s distance passes (kernels/accelerator.cpp passes the GPU's). For the
/// n seeding rows given to load(), update(seed, …) must leave in host memory
///   min_d[i] = min(min_d[i], Σ_t (row_i[t] − row_seed[t])²)   terms added in t order, no FMA (the
///                                                           definition of kernel_table::kmeanspp_update)
///   block_sums[b] = Σ min_d[i] over i in [256·b, 256·b + 256) ∩ [0, n)   (float, any order)
/// with min_d all +inf before the first update. The picks then equal the CPU's up to the float order of
/// the block sums. Used from one thread at a time.
class kmeanspp_device {
 public:
  virtual ~kmeanspp_device() = default;
  /// Takes the n × d seeding rows (row-major, host). false: the CPU does every pass.
  virtual bool load(const float* rows, std::size_t n, std::size_t d) = 0;
  /// One pass for the seed at row `seed` of the loaded rows. false: the CPU replays the seeds placed so
  /// far and does the remaining passes (the picks are unaffected).
  virtual bool update(std::size_t seed, float* min_d, float* block_sums) = 0;
};

/// kmeans()'s first two steps (training-set subsampling, then k-means++ or random rows), seeded by
/// opt.seed. k-means++'s passes run on `device` when given, else on resolve_threads(opt.max_threads)
/// threads, with the same picks on any thread count. @pre 1 <= k <= n, d >= 1. Thread-safety: reentrant.
kmeans_start kmeans_initialise(const float* x, std::size_t n, std::size_t d, std::size_t k,
                               const kmeans_options& opt, kmeanspp_device* device = nullptr);

/// Lloyd k-means on the rows of x (n × d):
///  - training set: all n rows, or a seeded uniform subsample of k × max_points_per_centroid rows;
///  - initialisation (seeded): k-means++ on a further subsample of at most 16·k training rows, or k
///    distinct training rows (opt.init);
///  - per iteration: assignment through assign_nearest (matmul_nt), centroid update, empty-cluster
///    repair (an empty centroid takes the point of the largest cluster farthest from that cluster's
///    centroid), optional renormalisation (spherical);
///  - stops after max_iterations updates, at objective 0, or when the objective improves by < 1e-4
///    relatively (after an empty-cluster repair: when it does not improve at all).
/// `objective` is that of a final assignment to the returned centroids.
/// Deterministic for a given seed, input, machine and SIMD level (the float summation order of the
/// kernels differs between levels). @pre 1 <= k <= n, d >= 1.
/// Thread-safety: reentrant. Cost per iteration ≈ n_train·k·d multiply-adds on one thread.
kmeans_result kmeans(const float* x, std::size_t n, std::size_t d, std::size_t k, const kmeans_options& opt);

}  // namespace ivfstream::kernels
