#pragma once
// Build and search parameters, named as LanceDB names them, with validation that names the bad value
// and the allowed set.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "index/error.hpp"
#include "index/metric.hpp"
#include "kernels/accelerator.hpp"

namespace ivfstream {

/// Coarse quantizer of the IVF (index/multi_index_quantizer.hpp for imi).
enum class coarse_quantizer_kind : std::uint8_t {
  flat = 0,  ///< num_partitions k-means centroids over the whole vector
  imi = 1,   ///< inverted multi-index: two half-vector codebooks of 2^imi_bits centroids, cell (i, j)
};

/// Residual quantizer of the IVF (index/additive_quantizer.hpp for rq and lsq).
enum class quantizer_kind : std::uint8_t {
  pq = 0,   ///< product quantizer: M sub-spaces of d / M, one 2^num_bits codebook each
  rq = 1,   ///< residual (additive) quantizer: num_sub_vectors − 1 full-dimension codebooks + 1 norm byte
  lsq = 2,  ///< local search quantization: rq's decoder, codebooks by least squares, codes by ICM
};

/// What the polysemous annealing fits (index/polysemous.hpp; index_params::polysemous_objective).
enum class polysemous_objective_kind : std::uint8_t {
  /// L(p) of index/polysemous.hpp: linear target s·‖c_i − c_j‖, weights exp(−2‖c_i − c_j‖ / mean), uphill moves accepted
  /// with probability exp(−ΔL / T), T falling geometrically from a measured start to 1/1000 of it.
  close_pairs = 0,
  /// FAISS's PolysemousTraining (ReproduceWithHammingObjective + SimulatedAnnealingOptimizer, as
  /// published): target t_ij = (‖c_i − c_j‖² − μ) / σ · √(nbits / 4) + nbits / 2 (μ, σ over all ksub²
  /// pairs: the mean and spread of the Hamming distance between random codes), weight w_ij = 2^(−t_ij),
  /// L(p) = Σ_{i,j} w_ij (popcount(p[i] ⊕ p[j]) − t_ij)²; an uphill swap is accepted with probability T
  /// (not exp(−ΔL/T)), T = 0.7 · 0.9^(it / 500).
  faiss = 1,
};

/// "flat" / "imi" (config files, CLI flags).
const char* to_string(coarse_quantizer_kind k) noexcept;
/// Parses "flat" or "imi". Error: "coarse_quantizer='x': must be one of flat, imi".
result<coarse_quantizer_kind> parse_coarse_quantizer(std::string_view text);
/// "pq" / "rq" / "lsq".
const char* to_string(quantizer_kind k) noexcept;
/// Parses "pq", "rq" or "lsq". Error: "quantizer='x': must be one of pq, rq, lsq".
result<quantizer_kind> parse_quantizer(std::string_view text);

/// How an IVF-PQ index is built (LanceDB create_index(index_type="IVF_PQ", ...)).
struct index_params {
  std::size_t dimension = 0;           ///< vector length d; ≥ 1
  ivfstream::metric metric = metric::l2;
  std::size_t num_partitions = 256;    ///< IVF lists; 1 ≤ num_partitions ≤ training vectors
  std::size_t num_sub_vectors = 16;    ///< PQ sub-quantizers M; must divide dimension
  unsigned num_bits = 8;               ///< bits per sub-code: 4, 6, 8, 10 or 12
  std::size_t max_iterations = 50;     ///< k-means iterations (coarse and PQ); ≥ 1
  std::size_t sample_rate = 256;       ///< k-means samples per centroid (LanceDB default 256)
  std::uint64_t seed = 42;             ///< makes training reproducible
  bool keep_raw_vectors = true;        ///< keep raw vectors in the vector store (refine, re-encoding)
  bool opq = false;                    ///< learn an OPQ rotation of the residuals before PQ (index/opq_rotation.hpp)
  std::size_t opq_iterations = 10;     ///< OPQ Procrustes alternations; 0 ≤ opq_iterations ≤ 100 (0 = parametric only)
  /// Training threads (coarse k-means GEMM, PQ sub-spaces trained side by side); 0 = all hardware
  /// threads (offline create/train). The actors set 1: inside an actor training stays on its own thread.
  /// 0 ≤ train_threads ≤ 1024. Runtime only: not saved (a loaded index has the default).
  std::size_t train_threads = 0;
  /// Where training runs (LanceDB create_index(accelerator=...)): cpu, cuda, or automatic ("auto": the
  /// GPU when one is present, else the CPU after one log line). Runtime only: not saved, since a
  /// snapshot may be loaded on a machine without a GPU (a loaded index has the default, cpu).
  kernels::accelerator accelerator = kernels::accelerator::cpu;
  bool polysemous = false;             ///< permute PQ code indices so Hamming tracks distance (index/polysemous.hpp); needs num_bits=8, metric l2/cosine
  std::size_t polysemous_iterations = 20000;  ///< annealing swap proposals per sub-quantizer; 1 ≤ … ≤ 10^7
  /// What the annealing fits (close_pairs or faiss). Runtime only, like train_threads: not saved (the
  /// permutation it chose is baked into the saved codebooks; a loaded index retrains with the default).
  polysemous_objective_kind polysemous_objective = polysemous_objective_kind::close_pairs;
  /// flat (default) or imi: then num_partitions must be 2^(2·imi_bits) (cell (i, j) = list i·2^imi_bits + j),
  /// dimension ≥ 2 (opq allowed: the rotation acts on the cell residuals). imi_bits: 1 ≤ … ≤ 10 with imi (2^20 cells at most); ignored with flat.
  coarse_quantizer_kind coarse_quantizer = coarse_quantizer_kind::flat;
  unsigned imi_bits = 0;

  /// pq (default), rq or lsq. With rq/lsq, num_sub_vectors counts the 8-bit sub-codes of a stored code:
  /// num_sub_vectors − 1 additive codebooks of 256 full-dimension codewords plus one norm byte, so the code
  /// is num_sub_vectors bytes as for pq; 2 ≤ num_sub_vectors ≤ 33, need not divide dimension; num_bits
  /// must be 8; opq and polysemous false (index/additive_quantizer.hpp).
  quantizer_kind quantizer = quantizer_kind::pq;
  std::size_t rq_beam_size = 4;        ///< rq/lsq encoding beam (1 = greedy); 1 ≤ … ≤ 64
  std::size_t lsq_iterations = 4;      ///< lsq training rounds (least-squares codebooks + ICM codes); 1 ≤ … ≤ 100
  std::size_t lsq_icm_iterations = 2;  ///< lsq ICM sweeps per encode (after the beam search); 0 ≤ … ≤ 32
  /// LOPQ (index/local_codebooks.hpp): lists grouped into lopq_groups groups of nearby lists (k-means over
  /// the centroids; = num_partitions: one per list), each with its own OPQ rotation and PQ codebooks from
  /// its own residuals; same code size. With lopq: 1 ≤ lopq_groups ≤ num_partitions; quantizer pq, flat
  /// coarse quantizer, polysemous false. A group with < lopq_min_points × 2^num_bits training vectors
  /// keeps the global codebooks (1 ≤ lopq_min_points ≤ 10^6). lopq_iterations: Procrustes alternations of
  /// each group's rotation, 0 ≤ … ≤ 100 (0 = eigenvalue allocation only).
  bool lopq = false;
  std::size_t lopq_groups = 16;
  std::size_t lopq_iterations = 0;
  std::size_t lopq_min_points = 8;

  /// Checks everything that does not depend on the training data.
  status validate() const;
  /// Also checks num_partitions against the number of training vectors.
  status validate_for_training(std::size_t num_training_vectors) const;
  /// Bytes of one packed PQ code: ceil(M · nbits / 8).
  std::size_t code_size() const { return (num_sub_vectors * num_bits + 7) / 8; }
  /// 2^nbits centroids per sub-space.
  std::size_t ksub() const { return std::size_t{1} << num_bits; }
  std::size_t dsub() const { return dimension / num_sub_vectors; }
  /// True for quantizer rq or lsq (additive codebooks + norm byte).
  bool additive() const { return quantizer == quantizer_kind::rq || quantizer == quantizer_kind::lsq; }
  bool imi() const { return coarse_quantizer == coarse_quantizer_kind::imi; }
  /// Floats of the trained coarse quantizer (codebook_set::centroids()): num_partitions × d (flat), or
  /// the two half codebooks 2^imi_bits × d in all (imi).
  std::size_t coarse_floats() const { return (imi() ? std::size_t{1} << imi_bits : num_partitions) * dimension; }
};

/// The one comparison of the parameters that codebooks were trained with (`trained`, codebook_set::params())
/// against an index's own (`index`): codebooks serve an index only if every field that fixes the code
/// layout, the encoding of new vectors or the search agrees. Compared:
///   dimension, metric, num_sub_vectors, num_bits, keep_raw_vectors (refine), quantizer,
///   rq_beam_size (both rq/lsq), lsq_icm_iterations (both lsq), coarse_quantizer, imi_bits (both imi), opq,
///   lopq, lopq_groups (both lopq), polysemous; num_partitions when either side is imi or lopq.
/// With flat lists (neither imi nor lopq) num_partitions is the list count the index was created with, not
/// part of the layout: list rebalancing (index/centroid_rebalance.hpp) splits and merges lists, so a
/// rebalanced version, its checkpoint and its copies on the codebooks topic have another count.
/// Not compared (training only, the result is in the codebooks; or runtime only): max_iterations,
/// sample_rate, seed, opq_iterations, polysemous_iterations, lsq_iterations, lopq_iterations,
/// lopq_min_points, train_threads, accelerator, polysemous_objective.
/// A new index_params field must be placed in one of the two lists (a static_assert on the struct's size in
/// index_params.cpp stops the build until it is) and round-trip through index/codebook_codec.cpp.
/// Error: invalid_argument "<what>: they were trained with quantizer=rq rq_beam_size=4, the index has
/// quantizer=pq", naming every differing field on both sides.
status check_codebook_layout(const index_params& trained, const index_params& index, std::string_view what);

/// What a search did (filled when search_params::counters is set; values are added to).
struct scan_counters {
  std::size_t scanned = 0;  ///< live codes whose ADC distance was computed
  std::size_t skipped = 0;  ///< codes the polysemous Hamming filter rejected before any table lookup
};

/// How one query is answered (LanceDB search(q).nprobes(..).limit(..).refine_factor(..)).
struct search_params {
  std::size_t limit = 10;          ///< k ≥ 1; more than the index holds returns all it has
  std::size_t nprobes = 20;        ///< lists probed; > num_partitions probes all
  std::size_t refine_factor = 0;   ///< 0 = none; else re-rank k × refine_factor candidates exactly
  /// Polysemous filter (index built with polysemous=true): 0 = off; else only codes within this many
  /// bits (Hamming) of the query's own code get their ADC distance. 1 ≤ … ≤ 8 · code_size (keeps all).
  std::size_t polysemous_ht = 0;
  scan_counters* counters = nullptr;  ///< optional, not owned: search adds what it scanned and skipped

  status validate() const;
};

}  // namespace ivfstream
