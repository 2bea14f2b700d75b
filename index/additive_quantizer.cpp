#include "index/additive_quantizer.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "kernels/gemm.hpp"
#include "kernels/kmeans.hpp"
#include "kernels/parallel_for.hpp"

namespace ivfstream {

namespace {

constexpr std::size_t K = k_additive_ksub;
/// Rows per encoding block: bounds the scratch (block × M·K floats of base terms).
constexpr std::size_t k_block = 256;

using row_matrix_f = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::size_t argmin(const float* t, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t k = 1; k < n; ++k)
    if (t[k] < t[best]) best = k;
  return best;
}

}  // namespace

additive_codec::additive_codec(std::vector<float> codebooks, std::size_t num_codebooks, std::size_t d,
                               std::size_t beam, std::size_t icm_iterations, int threads)
    : M_(num_codebooks), d_(d), beam_(std::max<std::size_t>(1, beam)), icm_(icm_iterations), threads_(threads),
      cb_(std::move(codebooks)) {
  const std::size_t MK = M_ * K;
  norms_.resize(MK);
  for (std::size_t j = 0; j < MK; ++j) {
    double s = 0;
    for (std::size_t t = 0; t < d_; ++t) s += double(cb_[j * d_ + t]) * cb_[j * d_ + t];
    norms_[j] = static_cast<float>(s);
  }
  gram_.resize(MK * MK);
  kernels::matmul_nt(cb_.data(), MK, cb_.data(), MK, d_, gram_.data(), threads_);
}

std::size_t additive_codec::memory_bytes() const noexcept {
  return sizeof(float) * (cb_.capacity() + norms_.capacity() + gram_.capacity());
}

void additive_codec::base_terms(const float* x, std::size_t nb, float* base) const {
  const std::size_t MK = M_ * K;
  kernels::matmul_nt(x, nb, cb_.data(), MK, d_, base);
  for (std::size_t i = 0; i < nb; ++i)
    for (std::size_t j = 0; j < MK; ++j) base[i * MK + j] = norms_[j] - 2.0f * base[i * MK + j];
}

void additive_codec::beam_search(const float* base, std::uint8_t* codes) const {
  const std::size_t MK = M_ * K, B = beam_;
  std::vector<float> scores(1, 0.0f), next_scores, cand(B * K);
  std::vector<std::uint8_t> beams(M_, 0), next_beams;
  std::vector<std::uint32_t> order;
  std::size_t nb = 1;
  for (std::size_t m = 0; m < M_; ++m) {
    // candidate (b, k): partial error of beam b plus codeword k of codebook m
    for (std::size_t b = 0; b < nb; ++b) {
      float* t = &cand[b * K];
      const float* bm = base + m * K;
      for (std::size_t k = 0; k < K; ++k) t[k] = scores[b] + bm[k];
      for (std::size_t j = 0; j < m; ++j) {
        const float* g = &gram_[(j * K + beams[b * M_ + j]) * MK + m * K];
        for (std::size_t k = 0; k < K; ++k) t[k] += 2.0f * g[k];
      }
    }
    const std::size_t total = nb * K, keep = std::min(B, total);
    order.resize(total);
    std::iota(order.begin(), order.end(), 0u);
    auto better = [&](std::uint32_t a, std::uint32_t c) { return cand[a] != cand[c] ? cand[a] < cand[c] : a < c; };
    if (keep == 1) {
      order[0] = static_cast<std::uint32_t>(argmin(cand.data(), total));
    } else {
      std::partial_sort(order.begin(), order.begin() + keep, order.end(), better);
    }
    next_scores.resize(keep);
    next_beams.assign(keep * M_, 0);
    for (std::size_t s = 0; s < keep; ++s) {
      const std::size_t b = order[s] / K, k = order[s] % K;
      std::copy_n(&beams[b * M_], m, &next_beams[s * M_]);
      next_beams[s * M_ + m] = static_cast<std::uint8_t>(k);
      next_scores[s] = cand[order[s]];
    }
    scores.swap(next_scores);
    beams.swap(next_beams);
    nb = keep;
  }
  std::copy_n(beams.data(), M_, codes);  // beam 0: the best complete code
}

void additive_codec::icm(const float* base, std::size_t sweeps, std::uint8_t* codes, float* t) const {
  const std::size_t MK = M_ * K;
  for (std::size_t s = 0; s < sweeps; ++s) {
    bool changed = false;
    for (std::size_t m = 0; m < M_; ++m) {
      std::copy_n(base + m * K, K, t);
      for (std::size_t j = 0; j < M_; ++j) {
        if (j == m) continue;
        const float* g = &gram_[(j * K + codes[j]) * MK + m * K];
        for (std::size_t k = 0; k < K; ++k) t[k] += 2.0f * g[k];
      }
      const std::size_t best = argmin(t, K);
      // keep the current codeword on ties: the error never increases
      if (t[best] < t[codes[m]]) {
        codes[m] = static_cast<std::uint8_t>(best);
        changed = true;
      }
    }
    if (!changed) break;
  }
}

float additive_codec::code_error(const float* base, const std::uint8_t* codes) const {
  const std::size_t MK = M_ * K;
  float e = 0;
  for (std::size_t m = 0; m < M_; ++m) {
    e += base[m * K + codes[m]];
    for (std::size_t j = 0; j < m; ++j) e += 2.0f * gram_[(j * K + codes[j]) * MK + m * K + codes[m]];
  }
  return e;
}

void additive_codec::encode(const float* x, std::size_t n, std::uint8_t* codes, float* recon) const {
  const std::size_t MK = M_ * K, blocks = (n + k_block - 1) / k_block;
  kernels::parallel_for(blocks, threads_, [&](std::size_t blk) {
    const std::size_t b0 = blk * k_block, nb = std::min(k_block, n - b0);
    std::vector<float> base(nb * MK), t(K);
    base_terms(x + b0 * d_, nb, base.data());
    for (std::size_t i = 0; i < nb; ++i) {
      std::uint8_t* c = codes + (b0 + i) * M_;
      beam_search(&base[i * MK], c);
      if (icm_ > 0) icm(&base[i * MK], icm_, c, t.data());
      if (recon) decode(c, recon + (b0 + i) * d_);
    }
  });
}

void additive_codec::refine_icm(const float* x, std::size_t n, std::size_t sweeps, std::uint8_t* codes,
                                float* sq_err) const {
  const std::size_t MK = M_ * K, blocks = (n + k_block - 1) / k_block;
  kernels::parallel_for(blocks, threads_, [&](std::size_t blk) {
    const std::size_t b0 = blk * k_block, nb = std::min(k_block, n - b0);
    std::vector<float> base(nb * MK), t(K);
    base_terms(x + b0 * d_, nb, base.data());
    for (std::size_t i = 0; i < nb; ++i) {
      std::uint8_t* c = codes + (b0 + i) * M_;
      icm(&base[i * MK], sweeps, c, t.data());
      if (sq_err) {
        const float* xi = x + (b0 + i) * d_;
        float xn = 0;
        for (std::size_t j = 0; j < d_; ++j) xn += xi[j] * xi[j];
        sq_err[b0 + i] = xn + code_error(&base[i * MK], c);
      }
    }
  });
}

void additive_codec::decode(const std::uint8_t* codes, float* out) const {
  std::fill_n(out, d_, 0.0f);
  for (std::size_t m = 0; m < M_; ++m) {
    const float* a = &cb_[(m * K + codes[m]) * d_];
    for (std::size_t j = 0; j < d_; ++j) out[j] += a[j];
  }
}

double additive_codec::mean_squared_error(const float* x, std::size_t n) const {
  if (n == 0) return 0;
  std::vector<std::uint8_t> codes(n * M_);
  std::vector<float> rec(n * d_);
  encode(x, n, codes.data(), rec.data());
  double s = 0;
  for (std::size_t i = 0; i < n * d_; ++i) s += double(x[i] - rec[i]) * (x[i] - rec[i]);
  return s / double(n);
}

std::vector<float> train_additive_codebooks(const float* x, std::size_t n, std::size_t d,
                                            const additive_train_options& o) {
  const std::size_t M = o.num_codebooks;
  const int threads = kernels::resolve_threads(o.threads);
  // RQ: stage m is k-means on the residual the stages before it left (greedy assignment).
  std::vector<float> residual(x, x + n * d), cb(M * K * d);
  std::vector<std::uint32_t> labels(n);
  for (std::size_t m = 0; m < M; ++m) {
    kernels::kmeans_options ko;
    ko.max_iterations = o.kmeans_iterations;
    ko.seed = o.seed + 1 + m;
    ko.max_points_per_centroid = o.max_points_per_centroid;
    ko.max_threads = threads;
    ko.init = kernels::kmeans_init::random_rows;
    kernels::kmeans_result r = kernels::kmeans(residual.data(), n, d, K, ko);
    std::copy_n(r.centroids.data(), K * d, &cb[m * K * d]);
    kernels::assign_nearest(residual.data(), n, r.centroids.data(), K, d, labels.data(), nullptr, threads);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) residual[i * d + j] -= r.centroids[labels[i] * d + j];
  }
  if (!o.lsq) return cb;

  // LSQ rounds from the RQ codebooks and their beam-search codes.
  const std::size_t MK = M * K;
  std::vector<std::uint8_t> codes(n * M), perturbed(n * M);
  additive_codec(cb, M, d, o.beam_size, 0, threads).encode(x, n, codes.data(), nullptr);
  std::mt19937_64 rng(o.seed ^ 0x6c7371ull);
  const std::size_t nperturb = 1 + M / 8;
  std::vector<float> err_a(n), err_b(n);
  // Ridge towards the previous codebooks (weight lambda, in units of one training row): keeps codewords
  // no row uses where they were, and removes the null space of the one-hot design (a vector added to
  // every codeword of one codebook and subtracted from another's changes no reconstruction).
  const float lambda = 1.0f;
  for (std::size_t it = 0; it < o.lsq_iterations; ++it) {
    row_matrix_f A = row_matrix_f::Zero(static_cast<Eigen::Index>(MK), static_cast<Eigen::Index>(MK));
    row_matrix_f R = lambda * Eigen::Map<const row_matrix_f>(cb.data(), static_cast<Eigen::Index>(MK),
                                                             static_cast<Eigen::Index>(d));
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* c = &codes[i * M];
      for (std::size_t j = 0; j < M; ++j) {
        const std::size_t rj = j * K + c[j];
        for (std::size_t m = 0; m < M; ++m) A(static_cast<Eigen::Index>(rj), static_cast<Eigen::Index>(m * K + c[m])) += 1.0f;
        float* rrow = R.data() + rj * d;
        for (std::size_t t = 0; t < d; ++t) rrow[t] += x[i * d + t];
      }
    }
    A.diagonal().array() += lambda;
    row_matrix_f C = A.llt().solve(R);
    bool finite = C.allFinite();
    if (!finite) break;  // keep the last good codebooks (cannot happen for lambda > 0 but be safe)
    std::copy_n(C.data(), MK * d, cb.data());
    additive_codec codec(cb, M, d, o.beam_size, 0, threads);
    codec.refine_icm(x, n, std::max<std::size_t>(1, o.icm_iterations), codes.data(), err_a.data());
    perturbed = codes;
    std::uniform_int_distribution<std::size_t> pick_m(0, M - 1), pick_k(0, K - 1);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t p = 0; p < nperturb; ++p) perturbed[i * M + pick_m(rng)] = static_cast<std::uint8_t>(pick_k(rng));
    codec.refine_icm(x, n, std::max<std::size_t>(1, o.icm_iterations), perturbed.data(), err_b.data());
    for (std::size_t i = 0; i < n; ++i)
      if (err_b[i] < err_a[i]) std::copy_n(&perturbed[i * M], M, &codes[i * M]);
  }
  return cb;
}

std::vector<float> train_norm_levels(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size(), L = K;
  std::vector<float> lev(L);
  for (std::size_t l = 0; l < L; ++l) lev[l] = v[std::min(n - 1, ((2 * l + 1) * n) / (2 * L))];
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + v[i];
  for (int it = 0; it < 30; ++it) {
    std::size_t lo = 0;
    bool moved = false;
    for (std::size_t l = 0; l < L; ++l) {
      // values nearer to level l than to level l + 1 (levels ascending): [lo, hi)
      const std::size_t hi = l + 1 < L ? static_cast<std::size_t>(
                                             std::upper_bound(v.begin() + static_cast<std::ptrdiff_t>(lo), v.end(),
                                                              0.5f * (lev[l] + lev[l + 1])) - v.begin())
                                       : n;
      if (hi > lo) {
        const float mean = static_cast<float>((prefix[hi] - prefix[lo]) / double(hi - lo));
        moved |= mean != lev[l];
        lev[l] = mean;
      }
      lo = std::max(lo, hi);
    }
    std::sort(lev.begin(), lev.end());
    if (!moved) break;
  }
  return lev;
}

std::uint8_t nearest_level(const float* levels, float v) noexcept {
  const float* it = std::lower_bound(levels, levels + K, v);
  if (it == levels + K) return static_cast<std::uint8_t>(K - 1);
  if (it == levels) return 0;
  const std::size_t hi = static_cast<std::size_t>(it - levels);
  return static_cast<std::uint8_t>(v - levels[hi - 1] <= levels[hi] - v ? hi - 1 : hi);
}

std::size_t additive_parts_size(const index_params& p) noexcept {
  return K * ((p.num_sub_vectors - 1) * p.dimension + 1);
}

std::vector<float> train_additive_parts(const index_params& p, const float* residuals, std::size_t n, int threads) {
  const std::size_t d = p.dimension, Mc = p.num_sub_vectors - 1;
  additive_train_options o;
  o.num_codebooks = Mc;
  o.beam_size = p.rq_beam_size;
  o.lsq = p.quantizer == quantizer_kind::lsq;
  o.lsq_iterations = p.lsq_iterations;
  o.icm_iterations = p.lsq_icm_iterations;
  o.kmeans_iterations = p.max_iterations;
  o.max_points_per_centroid = p.sample_rate;
  o.seed = p.seed;
  o.threads = threads;
  std::vector<float> parts = train_additive_codebooks(residuals, n, d, o);
  std::vector<float> levels(K, 0.0f);
  if (p.metric != metric::dot) {
    const additive_codec ac(parts, Mc, d, p.rq_beam_size, o.lsq ? p.lsq_icm_iterations : 0, threads);
    std::vector<std::uint8_t> codes(n * Mc);
    std::vector<float> rec(n * d), e(n);
    ac.encode(residuals, n, codes.data(), rec.data());
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += double(rec[i * d + j]) * rec[i * d + j];
      e[i] = static_cast<float>(s);
    }
    levels = train_norm_levels(std::move(e));
  }
  parts.insert(parts.end(), levels.begin(), levels.end());
  return parts;
}

std::shared_ptr<const additive_codec> make_additive_codec(const index_params& p, const std::vector<float>& parts) {
  const std::size_t Mc = p.num_sub_vectors - 1, d = p.dimension;
  std::vector<float> cb(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(Mc * K * d));
  return std::make_shared<const additive_codec>(std::move(cb), Mc, d, p.rq_beam_size,
                                                p.quantizer == quantizer_kind::lsq ? p.lsq_icm_iterations : 0);
}

void encode_additive(const additive_codec& ac, const index_params& p, const float* levels, const float* residuals,
                     std::size_t n, std::uint8_t* codes) {
  const std::size_t Mc = ac.num_codebooks(), M = Mc + 1, d = p.dimension;
  std::vector<std::uint8_t> sub(n * Mc);
  std::vector<float> rec(n * d);
  ac.encode(residuals, n, sub.data(), rec.data());
  for (std::size_t i = 0; i < n; ++i) {
    std::copy_n(&sub[i * Mc], Mc, codes + i * M);
    std::uint8_t norm_byte = 0;
    if (p.metric != metric::dot) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += double(rec[i * d + j]) * rec[i * d + j];
      norm_byte = nearest_level(levels, static_cast<float>(s));
    }
    codes[i * M + Mc] = norm_byte;
  }
}

void additive_list_tables(const additive_codec& ac, const float* centroids, std::size_t nlist, float scale,
                          float* out) {
  const std::size_t MK = ac.num_codebooks() * K, n = MK + K;
  std::vector<float> ip(MK);
  for (std::size_t l = 0; l < nlist; ++l) {
    // one row at a time: a list's table does not depend on how many lists are computed with it
    kernels::matmul_nt(centroids + l * ac.dimension(), 1, ac.codebooks().data(), MK, ac.dimension(), ip.data());
    float* t = out + l * n;
    for (std::size_t j = 0; j < MK; ++j) t[j] = scale * 2.0f * ip[j];
    std::fill_n(t + MK, K, 0.0f);
  }
}

void additive_query_tables(const additive_codec& ac, const index_params& p, const float* levels,
                           const float* queries, std::size_t nb, float* const* tables) {
  const std::size_t Mc = ac.num_codebooks(), MK = Mc * K;
  std::vector<float> ip(nb * MK);
  // row i depends on query i only (matmul_nt's path depends on the codebook shape): batch-independent
  kernels::matmul_nt(queries, nb, ac.codebooks().data(), MK, p.dimension, ip.data());
  const bool dot = p.metric == metric::dot;
  for (std::size_t i = 0; i < nb; ++i) {
    float* t = tables[i];
    const float* row = &ip[i * MK];
    if (dot) {
      std::copy_n(row, MK, t);
      std::fill_n(t + MK, K, 0.0f);
    } else {
      for (std::size_t j = 0; j < MK; ++j) t[j] = -2.0f * row[j];
      std::copy_n(levels, K, t + MK);
    }
  }
}

}  // namespace ivfstream
