#pragma once
// Additive quantizers of IVF residuals (index_params::quantizer = rq | lsq): a residual r is approximated
// by a sum of one codeword per codebook, r̂ = Σ_m a_m(code_m), every codebook spanning the FULL
// dimension (unlike PQ's sub-spaces). 8-bit codes only: 256 codewords per codebook.
//
//  - RQ (residual quantizer): codebook m is k-means on what stages 0..m−1 left (greedy, stage by stage);
//    codes by beam search over the stages (beam B keeps the B best partial sums; B = 1 is greedy).
//  - LSQ (local search quantization): RQ's start, then rounds of (a) all codebooks at once by least
//    squares given the codes (ridge-pulled towards the previous codebooks so unused codewords stay put),
//    (b) codes by ICM (one codebook at a time to its best codeword given the others) from the current
//    codes and from a randomly perturbed copy, keeping the better.
//
// Encoding works on inner products only: with G the Gram matrix of all codewords and ⟨x, a_mk⟩ from one
// product per block of rows,
//   ‖x − Σ_m a_m(c_m)‖² = ‖x‖² + Σ_m (‖a_m(c_m)‖² − 2⟨x, a_m(c_m)⟩) + 2 Σ_{j<m} ⟨a_j(c_j), a_m(c_m)⟩,
// so a beam step or an ICM update costs table additions, not d-dimensional distances.
//
// Stored code of a vector in an IVF list (codebook_set, quantizer rq/lsq), num_sub_vectors = M bytes:
//   byte m, 0 ≤ m < M − 1 : codeword index of additive codebook m
//   byte M − 1            : norm byte, index of the level (of 256, ascending) nearest to ‖r̂‖²
//                           (l2/cosine; 0 under dot)
// With c the list's centroid,
//   ‖q − c − r̂‖² = ‖q − c‖² + Σ_m (−2⟨q, a_m(code_m)⟩ + 2⟨c, a_m(code_m)⟩) + ‖r̂‖²,
// scanned by the 8-bit ADC kernels as M sub-codes: rows m < M − 1 of a probe's table are the
// list-independent query table −2⟨q, a_mk⟩ (one product per query block) plus the per-list term
// T[list][m][k] = 2⟨c, a_mk⟩ (precomputed as PQ's, codebook_set), and the last row is the
// query-independent level table. Only ‖r̂‖² is quantised: putting the cross term 2⟨c, r̂⟩ in the byte
// as well (list-independent tables) lost recall on Fashion-MNIST, whose centroids are long (0.489
// against 0.562 for PQ at 16 B; bench/README.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "index/index_params.hpp"

namespace ivfstream {

/// Codewords per additive codebook (8-bit codes).
inline constexpr std::size_t k_additive_ksub = 256;

/// How train_additive_codebooks() trains.
struct additive_train_options {
  std::size_t num_codebooks = 15;      ///< M_c ≥ 1
  std::size_t beam_size = 4;           ///< encoding beam while training (LSQ start), ≥ 1
  bool lsq = false;                    ///< refine the RQ start by LSQ rounds
  std::size_t lsq_iterations = 4;      ///< LSQ rounds
  std::size_t icm_iterations = 2;      ///< ICM sweeps per LSQ encoding
  std::size_t kmeans_iterations = 20;  ///< Lloyd updates per RQ stage
  std::size_t max_points_per_centroid = 256;  ///< k-means subsample per stage (k × this rows)
  std::uint64_t seed = 42;
  int threads = 1;                     ///< training threads (0 = all)
};

/// Encoder and decoder over fixed codebooks (M_c × 256 × d floats, row-major). Immutable: every const
/// member is safe from any number of threads at once. Memory: the codebooks plus the Gram matrix of all
/// codewords, (256·M_c)² floats (M_c = 15: 59 MB; 32: 268 MB).
class additive_codec {
public:
  /// beam ≥ 1: beam search width; icm_iterations: ICM sweeps after the beam search (0 = none).
  additive_codec(std::vector<float> codebooks, std::size_t num_codebooks, std::size_t d, std::size_t beam,
                 std::size_t icm_iterations, int threads = 1);

  std::size_t num_codebooks() const noexcept { return M_; }
  std::size_t dimension() const noexcept { return d_; }
  /// M_c × 256 × d, row-major.
  const std::vector<float>& codebooks() const noexcept { return cb_; }

  /// Encodes n rows of x (n × d). codes: n × M_c bytes (byte m = codeword of codebook m).
  /// recon (optional, may be nullptr): n × d reconstructions Σ_m a_m(code_m).
  void encode(const float* x, std::size_t n, std::uint8_t* codes, float* recon) const;
  /// ICM sweeps only, starting from the given codes (updated in place); the error never increases.
  /// sq_err (optional): n squared errors after the sweeps.
  void refine_icm(const float* x, std::size_t n, std::size_t sweeps, std::uint8_t* codes, float* sq_err) const;
  /// out (d floats) = Σ_m a_m(codes[m]).
  void decode(const std::uint8_t* codes, float* out) const;
  /// Mean squared error ‖x − x̂‖² of encode() over n rows.
  double mean_squared_error(const float* x, std::size_t n) const;
  std::size_t memory_bytes() const noexcept;

private:
  /// base (nb × M·K): ‖a_mk‖² − 2⟨x_i, a_mk⟩ for a block of rows.
  void base_terms(const float* x, std::size_t nb, float* base) const;
  void beam_search(const float* base, std::uint8_t* codes) const;
  void icm(const float* base, std::size_t sweeps, std::uint8_t* codes, float* t) const;
  float code_error(const float* base, const std::uint8_t* codes) const;  // ‖x − x̂‖² − ‖x‖²

  std::size_t M_, d_, beam_, icm_;
  int threads_;
  std::vector<float> cb_;     // M × K × d
  std::vector<float> norms_;  // M × K: ‖a_mk‖²
  std::vector<float> gram_;   // (M·K) × (M·K): gram_[(j·K + c)·M·K + m·K + k] = ⟨a_jc, a_mk⟩
};

/// Trains M_c × 256 × d codebooks on the n × d rows of x (residuals). @pre n ≥ 256.
std::vector<float> train_additive_codebooks(const float* x, std::size_t n, std::size_t d,
                                            const additive_train_options& o);

/// A non-uniform scalar quantizer with 256 levels: 1-D k-means (Lloyd from the quantiles) of the values.
/// Returns 256 ascending levels (repeated values when fewer than 256 distinct ones). @pre !values.empty().
std::vector<float> train_norm_levels(std::vector<float> values);
/// Index of the level nearest to v (levels: 256 ascending floats).
std::uint8_t nearest_level(const float* levels, float v) noexcept;

// ---- codebook_set glue (quantizer rq/lsq). `parts` is codebook_set::pq_codebooks()'s layout:
// (M − 1) × 256 × d codebooks, then 256 ascending norm levels, M = p.num_sub_vectors.

/// Floats of `parts` for p: 256 · ((M − 1) · d + 1).
std::size_t additive_parts_size(const index_params& p) noexcept;
/// Trains the codebooks (RQ, then LSQ rounds for lsq) on n residuals r_i = x_i − c_i and the norm levels
/// on their reconstructions' ‖r̂_i‖² (l2/cosine; dot: all levels 0). @pre n ≥ 256.
std::vector<float> train_additive_parts(const index_params& p, const float* residuals, std::size_t n, int threads);
/// The encoder over parts' codebooks (beam p.rq_beam_size; ICM sweeps p.lsq_icm_iterations under lsq).
std::shared_ptr<const additive_codec> make_additive_codec(const index_params& p, const std::vector<float>& parts);
/// Stored codes (layout above, M bytes each) of n residuals (n × d).
void encode_additive(const additive_codec& ac, const index_params& p, const float* levels, const float* residuals,
                     std::size_t n, std::uint8_t* codes);
/// Per-list terms of nlist centroids (nlist × d): out + l·M·256 receives rows m < M − 1 =
/// scale · 2⟨c_l, a_mk⟩ and a last (norm) row of zeros; nlist × M × 256 floats.
void additive_list_tables(const additive_codec& ac, const float* centroids, std::size_t nlist, float scale,
                          float* out);
/// Query tables of nb prepared queries (nb × d): tables + i·M·256 receives rows 0..M−2 = −2⟨q_i, a_mk⟩
/// (⟨q_i, a_mk⟩ under dot) and row M − 1 = the levels (zeros under dot).
void additive_query_tables(const additive_codec& ac, const index_params& p, const float* levels,
                           const float* queries, std::size_t nb, float* const* tables);

}  // namespace ivfstream
