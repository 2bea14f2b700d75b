#pragma once
// Optimized product quantisation (OPQ, Ge et al., "Optimized Product Quantization", TPAMI 2014): a
// learned orthogonal d × d rotation R applied before the residual PQ, so that PQ's axis-aligned split
// into M sub-spaces of d/M components fits the data's correlations and variance.
//
// Where R applies: to the IVF residuals r = x − c_list, not to the vectors before IVF. Rotating the
// residual space leaves the coarse quantiser (centroids, list assignment, probing) unchanged, so OPQ is
// a property of the PQ half only. R is orthogonal, so every L2 distance and inner product is preserved:
//   ‖q − c − r‖² = ‖q − c‖² + Σ_m (‖(Rr)_m‖² + 2⟨(Rc)_m, (Rr)_m⟩) − 2 Σ_m ⟨(Rq)_m, (Rr)_m⟩
// i.e. the ADC decomposition of codebook_set.hpp holds with rotated centroid and query components; PQ
// codebooks live in the rotated space. Decoding rotates back: x̂ = c + Rᵀ·(Rr)̂.
//
// Layout of R: d × d floats, row-major; the rotated vector is y = R x (y_i = Σ_j R[i·d + j] x_j).
// For n row vectors X (n × d, row-major) the rotated rows are Y = X Rᵀ, which is exactly
// kernels::matmul_nt(X, n, R, d, d, Y).
//
// Training (train_opq_rotation):
//  1. Parametric initialisation (OPQ-P, "eigenvalue allocation"): eigen-decompose the sample
//     covariance; walk the eigenvectors by decreasing eigenvalue and give each to the not-yet-full
//     sub-space whose product of eigenvalues so far is smallest, so every sub-space gets a similar
//     share of the variance (balanced products minimise the Gaussian PQ distortion bound). The rows
//     of R are those eigenvectors, sub-space m in rows m·dsub … m·dsub + dsub − 1.
//  2. Non-parametric refinement (OPQ-NP), `iterations` alternations: with R fixed, PQ on Y = X Rᵀ
//     (k-means per sub-space, warm-started and refreshed by a few Lloyd steps per alternation); with
//     the codes fixed, R by orthogonal Procrustes: min ‖X Rᵀ − Ŷ‖_F over orthogonal R, solved by the
//     SVD Xᵀ Ŷ = U S Vᵀ, Rᵀ = U Vᵀ (Eigen BDCSVD, in double).
// The sample is bounded (opq_options::max_sample rows, seeded), so the cost does not grow with n.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivfstream {

/// How train_opq_rotation learns R.
struct opq_options {
  std::size_t num_sub_vectors = 16;   ///< M; must divide d
  unsigned num_bits = 8;              ///< bits per sub-code (2^num_bits centroids per sub-space)
  std::size_t iterations = 10;        ///< Procrustes alternations after the parametric start; 0 = OPQ-P only
  std::size_t kmeans_iterations = 20; ///< Lloyd iterations of the first PQ k-means in the alternation
  std::size_t lloyd_steps = 2;        ///< Lloyd steps refreshing the PQ codebooks in each alternation
  std::size_t max_sample = 16384;     ///< rows used at most (seeded sample); raised to 16 · 2^num_bits if smaller
  std::uint64_t seed = 42;            ///< sample and k-means seeds
};

/// Learns an orthogonal rotation for PQ from n training rows x (n × d, row-major; IVF residuals in
/// codebook_set). Returns R, d × d row-major (layout above).
/// @pre d ≥ 1, d % num_sub_vectors == 0, n ≥ 1, values finite.
/// Thread-safety: reentrant (no shared state); runs on the calling thread.
std::vector<float> train_opq_rotation(const float* x, std::size_t n, std::size_t d, const opq_options& opt);

/// Rotates n rows: y = x Rᵀ (each row y_i = R x_i). x, y: n × d; r: d × d. x and y must not overlap.
/// Thread-safety: reentrant.
void rotate_rows(const float* r, std::size_t d, const float* x, std::size_t n, float* y);

/// Rotates n rows back: x = y R (each row x_i = Rᵀ y_i). y, x: n × d; r: d × d. Must not overlap.
/// Thread-safety: reentrant.
void unrotate_rows(const float* r, std::size_t d, const float* y, std::size_t n, float* x);

/// max_ij |(Rᵀ R − I)_ij| of a d × d row-major matrix (0 for an exact rotation). Thread-safety: reentrant.
double orthogonality_error(const float* r, std::size_t d);

}  // namespace ivfstream
