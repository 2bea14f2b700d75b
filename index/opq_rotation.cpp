#include "index/opq_rotation.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "kernels/assert.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kmeans.hpp"

namespace ivfstream {

namespace {

using row_matrix_f = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Copies sub-space m (dsub columns from m·dsub) of n rows of width d into out (n × dsub).
void gather_sub(const float* x, std::size_t n, std::size_t d, std::size_t m, std::size_t dsub, float* out) {
  for (std::size_t i = 0; i < n; ++i) std::copy_n(x + i * d + m * dsub, dsub, out + i * dsub);
}

/// OPQ-P: eigenvectors of the covariance of x (n × d), allocated to M sub-spaces by balancing the
/// product of their eigenvalues. Returns R (d × d row-major), sub-space m in rows m·dsub … .
std::vector<float> parametric_rotation(const float* x, std::size_t n, std::size_t d, std::size_t M) {
  const std::size_t dsub = d / M;
  Eigen::Map<const row_matrix_f> xm(x, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  const Eigen::RowVectorXd mean = xm.cast<double>().colwise().mean();
  const Eigen::MatrixXd centred = xm.cast<double>().rowwise() - mean;
  const Eigen::MatrixXd cov = (centred.transpose() * centred) / static_cast<double>(std::max<std::size_t>(n, 1));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);  // ascending eigenvalues
  const Eigen::VectorXd& values = eig.eigenvalues();
  const Eigen::MatrixXd& vectors = eig.eigenvectors();
  // Eigenvalues are measured against a floor far below the largest (also the value of a zero one),
  // so every log(λ / floor) is ≥ 0 whatever the data's scale: adding an eigenvalue never lowers a
  // sub-space's product, an empty sub-space (product 1) is always the smallest, and the greedy walk
  // gives every sub-space one eigenvector per round, the next largest to the poorest. (Raw log λ is
  // negative for λ < 1: the poorest sub-space then kept getting more of the consecutive eigenvalues,
  // piling the largest ones into a few sub-spaces, which made PQ worse than no rotation at all.)
  const double floor = std::max(values.maxCoeff(), 1e-30) * 1e-12;

  std::vector<double> log_product(M, 0.0);
  std::vector<std::size_t> filled(M, 0);
  std::vector<float> r(d * d);
  for (std::size_t k = d; k-- > 0;) {  // decreasing eigenvalue
    std::size_t best = M;
    for (std::size_t m = 0; m < M; ++m)
      if (filled[m] < dsub && (best == M || log_product[m] < log_product[best])) best = m;
    const std::size_t row = best * dsub + filled[best]++;
    log_product[best] += std::log(std::max(values(static_cast<Eigen::Index>(k)), floor) / floor);
    for (std::size_t j = 0; j < d; ++j)
      r[row * d + j] = static_cast<float>(vectors(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(k)));
  }
  return r;
}

/// Assigns every row of y (n × d) to its nearest code per sub-space. codes: n × M.
void assign_codes(const float* y, std::size_t n, std::size_t d, std::size_t M, std::size_t ksub,
                  const std::vector<float>& pq, std::vector<std::uint32_t>& codes) {
  const std::size_t dsub = d / M;
  std::vector<float> sub(n * dsub);
  std::vector<std::uint32_t> labels(n);
  for (std::size_t m = 0; m < M; ++m) {
    gather_sub(y, n, d, m, dsub, sub.data());
    kernels::assign_nearest(sub.data(), n, &pq[m * ksub * dsub], ksub, dsub, labels.data(), nullptr);
    for (std::size_t i = 0; i < n; ++i) codes[i * M + m] = labels[i];
  }
}

/// One Lloyd update of the PQ codebooks from the codes: each centroid becomes the mean of its rows
/// (a centroid with no rows keeps its value).
void update_codebooks(const float* y, std::size_t n, std::size_t d, std::size_t M, std::size_t ksub,
                      const std::vector<std::uint32_t>& codes, std::vector<float>& pq) {
  const std::size_t dsub = d / M;
  std::vector<double> sum(M * ksub * dsub, 0.0);
  std::vector<std::size_t> count(M * ksub, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t m = 0; m < M; ++m) {
      const std::size_t c = m * ksub + codes[i * M + m];
      ++count[c];
      for (std::size_t j = 0; j < dsub; ++j) sum[c * dsub + j] += y[i * d + m * dsub + j];
    }
  for (std::size_t c = 0; c < M * ksub; ++c)
    if (count[c] > 0)
      for (std::size_t j = 0; j < dsub; ++j) pq[c * dsub + j] = static_cast<float>(sum[c * dsub + j] / count[c]);
}

}  // namespace

void rotate_rows(const float* r, std::size_t d, const float* x, std::size_t n, float* y) {
  if (n == 0) return;
  kernels::matmul_nt(x, n, r, d, d, y);  // y_i = R x_i  ⇔  Y = X Rᵀ
}

void unrotate_rows(const float* r, std::size_t d, const float* y, std::size_t n, float* x) {
  if (n == 0) return;
  Eigen::Map<const row_matrix_f> rm(r, static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
  Eigen::Map<const row_matrix_f> ym(y, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  Eigen::Map<row_matrix_f> xm(x, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  xm.noalias() = ym * rm;  // x_i = Rᵀ y_i  ⇔  X = Y R
}

double orthogonality_error(const float* r, std::size_t d) {
  Eigen::Map<const row_matrix_f> rm(r, static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
  const Eigen::MatrixXd rd = rm.cast<double>();
  const Eigen::MatrixXd e = rd.transpose() * rd - Eigen::MatrixXd::Identity(rd.rows(), rd.cols());
  return e.cwiseAbs().maxCoeff();
}

std::vector<float> train_opq_rotation(const float* x, std::size_t n, std::size_t d, const opq_options& opt) {
  IVF_ASSERT(d >= 1 && opt.num_sub_vectors >= 1 && d % opt.num_sub_vectors == 0 && n >= 1);
  const std::size_t M = opt.num_sub_vectors, dsub = d / M, ksub = std::size_t{1} << opt.num_bits;

  // Bounded seeded sample (partial Fisher–Yates), rows kept in ascending order.
  const std::size_t want = std::max(opt.max_sample, 16 * ksub);
  std::vector<float> xs;
  std::size_t ns = n;
  if (n > want) {
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::mt19937_64 rng(opt.seed ^ 0x6f7071u);
    for (std::size_t i = 0; i < want; ++i) {
      std::uniform_int_distribution<std::size_t> pick(i, n - 1);
      std::swap(idx[i], idx[pick(rng)]);
    }
    idx.resize(want);
    std::sort(idx.begin(), idx.end());
    ns = want;
    xs.resize(ns * d);
    for (std::size_t i = 0; i < ns; ++i) std::copy_n(x + idx[i] * d, d, &xs[i * d]);
  } else {
    xs.assign(x, x + n * d);
  }

  std::vector<float> r = parametric_rotation(xs.data(), ns, d, M);
  if (opt.iterations == 0) return r;

  std::vector<float> y(ns * d);
  rotate_rows(r.data(), d, xs.data(), ns, y.data());
  // Initial PQ on the parametric rotation: k-means per sub-space (k-means++ seeded).
  const std::size_t k = std::min(ksub, ns);
  std::vector<float> pq(M * ksub * dsub, 0.0f);
  {
    std::vector<float> sub(ns * dsub);
    for (std::size_t m = 0; m < M; ++m) {
      gather_sub(y.data(), ns, d, m, dsub, sub.data());
      kernels::kmeans_options ko;
      ko.max_iterations = std::max<std::size_t>(opt.kmeans_iterations, 1);
      ko.seed = opt.seed + 1000 + m;
      ko.max_points_per_centroid = ns;  // no further subsampling
      const kernels::kmeans_result km = kernels::kmeans(sub.data(), ns, dsub, k, ko);
      std::copy(km.centroids.begin(), km.centroids.end(), pq.begin() + m * ksub * dsub);
    }
  }

  std::vector<std::uint32_t> codes(ns * M);
  std::vector<float> recon(ns * d);
  Eigen::Map<const row_matrix_f> xm(xs.data(), static_cast<Eigen::Index>(ns), static_cast<Eigen::Index>(d));
  for (std::size_t it = 0; it < opt.iterations; ++it) {
    // PQ step: a few Lloyd updates of the codebooks on the current rotation, then the codes.
    assign_codes(y.data(), ns, d, M, ksub, pq, codes);
    for (std::size_t s = 0; s < opt.lloyd_steps; ++s) {
      update_codebooks(y.data(), ns, d, M, ksub, codes, pq);
      assign_codes(y.data(), ns, d, M, ksub, pq, codes);
    }
    // Ŷ: reconstruction of every row from its codes (rotated space).
    for (std::size_t i = 0; i < ns; ++i)
      for (std::size_t m = 0; m < M; ++m)
        std::copy_n(&pq[(m * ksub + codes[i * M + m]) * dsub], dsub, &recon[i * d + m * dsub]);
    // Procrustes: min over orthogonal W = Rᵀ of ‖X W − Ŷ‖_F: Xᵀ Ŷ = U S Vᵀ, W = U Vᵀ, R = V Uᵀ.
    Eigen::Map<const row_matrix_f> ym(recon.data(), static_cast<Eigen::Index>(ns), static_cast<Eigen::Index>(d));
    const Eigen::MatrixXd c = xm.cast<double>().transpose() * ym.cast<double>();
    Eigen::BDCSVD<Eigen::MatrixXd> svd(c, Eigen::ComputeFullU | Eigen::ComputeFullV);
    const Eigen::MatrixXd rot = svd.matrixV() * svd.matrixU().transpose();
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j)
        r[i * d + j] = static_cast<float>(rot(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)));
    rotate_rows(r.data(), d, xs.data(), ns, y.data());
  }
  return r;
}

}  // namespace ivfstream
