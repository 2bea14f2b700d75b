#include "index/codebook_set.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "kernels/accelerator.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kmeans.hpp"
#include "kernels/parallel_for.hpp"
#include "kernels/pq_codes.hpp"
#include "kernels/pq_encode.hpp"
#include "index/multi_index_quantizer.hpp"
#include "index/additive_quantizer.hpp"
#include "index/local_codebooks.hpp"
#include "index/opq_rotation.hpp"
#include "index/polysemous.hpp"

namespace ivfstream {

namespace {

/// Rows processed per block by encode/plan_queries: bounds scratch memory whatever n is.
constexpr std::size_t k_block_rows = 1024;

std::string str(std::size_t v) { return std::to_string(v); }

/// Indices of a seeded uniform sample of min(count, n) rows of [0, n), ascending.
std::vector<std::size_t> sample_rows(std::size_t n, std::size_t count, std::uint64_t seed) {
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  if (count >= n) return idx;
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < count; ++i) {  // partial Fisher–Yates
    std::uniform_int_distribution<std::size_t> pick(i, n - 1);
    std::swap(idx[i], idx[pick(rng)]);
  }
  idx.resize(count);
  std::sort(idx.begin(), idx.end());
  return idx;
}

/// A training device error as the index's status (unavailable: no CUDA build or no GPU for cuda).
status device_result(const kernels::device_status& s) {
  if (s) return {};
  const errc code = s.code() == kernels::device_errc::invalid_argument ? errc::invalid_argument
                    : s.code() == kernels::device_errc::out_of_memory   ? errc::resource_exhausted
                                                                        : errc::unavailable;
  return fail(code, s.message());
}

/// Copies sub-space m (dsub columns starting at m·dsub) of n rows of width d into out (n × dsub).
void gather_sub(const float* x, std::size_t n, std::size_t d, std::size_t m, std::size_t dsub, float* out) {
  for (std::size_t i = 0; i < n; ++i) std::copy_n(x + i * d + m * dsub, dsub, out + i * dsub);
}

/// Checks n rows (NaN/Inf; zero norm under cosine) and writes them prepared into out (normalised
/// for cosine). `what` and `first` name the offending row in the message ("query 3 component 5 ...").
status prepare_rows(const index_params& p, const float* x, std::size_t n, float* out, const char* what,
                    std::size_t first) {
  const std::size_t d = p.dimension;
  for (std::size_t i = 0; i < n; ++i) {
    const float* v = x + i * d;
    double norm2 = 0;
    for (std::size_t j = 0; j < d; ++j) {
      if (!std::isfinite(v[j]))
        return fail(errc::non_finite, std::string(what) + " " + str(first + i) + " component " + str(j) + " is " +
                                          (std::isnan(v[j]) ? "NaN" : "Inf") + ": values must be finite");
      norm2 += double(v[j]) * v[j];
    }
    float* o = out + i * d;
    if (p.metric == metric::cosine) {
      if (!(norm2 > 0) || !std::isfinite(norm2))
        return fail(errc::invalid_argument, std::string(what) + " " + str(first + i) + " has norm " +
                                                std::to_string(std::sqrt(norm2)) +
                                                ": metric=cosine needs a non-zero finite norm");
      const double inv = 1.0 / std::sqrt(norm2);
      for (std::size_t j = 0; j < d; ++j) o[j] = static_cast<float>(v[j] * inv);
    } else if (o != v) {
      std::copy_n(v, d, o);
    }
  }
  return {};
}

}  // namespace

codebook_set::codebook_set(const index_params& p, std::uint64_t version, std::vector<float> centroids,
                           std::vector<float> pq_codebooks, std::vector<float> rotation,
                           std::shared_ptr<const local_codebooks> local)
    : params_(p),
      version_(version),
      code_size_(p.code_size()),
      kt_(&kernels::default_kernels()),
      centroids_(std::move(centroids)),
      pq_(std::move(pq_codebooks)),
      rotation_(std::move(rotation)),
      local_(std::move(local)) {
  if (p.imi()) imi_ = std::make_shared<const multi_index_quantizer>(p.dimension, p.imi_bits, centroids_);
  if (!rotation_.empty() && imi_) {  // IMI + OPQ: the rotated halves R (c1_i ‖ 0), R (0 ‖ c2_j) (codebook_set.hpp)
    const std::size_t K = imi_->half_size(), d = p.dimension, d1 = imi_->d1(), d2 = imi_->d2();
    std::vector<float> padded(K * d, 0.0f);
    for (std::size_t i = 0; i < K; ++i) std::copy_n(imi_->half1() + i * d1, d1, &padded[i * d]);
    imi_rot1_.resize(K * d);
    rotate_rows(rotation_.data(), d, padded.data(), K, imi_rot1_.data());
    std::fill(padded.begin(), padded.end(), 0.0f);
    for (std::size_t i = 0; i < K; ++i) std::copy_n(imi_->half2() + i * d2, d2, &padded[i * d + d1]);
    imi_rot2_.resize(K * d);
    rotate_rows(rotation_.data(), d, padded.data(), K, imi_rot2_.data());
  } else if (!rotation_.empty()) {  // OPQ: R c_l for the per-list term T (see codebook_set.hpp)
    rotated_centroids_.resize(centroids_.size());
    rotate_rows(rotation_.data(), p.dimension, centroids_.data(), p.num_partitions, rotated_centroids_.data());
  }
  if (p.additive()) additive_ = make_additive_codec(p, pq_);  // rq/lsq: index/additive_quantizer.hpp
  if (!additive_) encode_table_ = kernels::pq_encode_table(pq_.data(), p.num_sub_vectors, p.ksub(), p.dsub());
  build_tables();
}

void codebook_set::build_tables() {
  const std::size_t nlist = params_.num_partitions, d = params_.dimension, M = params_.num_sub_vectors;
  const std::size_t ksub = params_.ksub(), dsub = params_.dsub();
  if (additive_) {  // rq/lsq: T[l][m][k] = s·2⟨c_l, a_mk⟩, last row 0 (additive_quantizer.hpp)
    centroid_norms_.resize(nlist);
    for (std::size_t l = 0; l < nlist; ++l)
      centroid_norms_[l] = kt_->inner_product(&centroids_[l * d], &centroids_[l * d], d);
    precomputed_.clear();
    if (params_.metric == metric::dot || nlist * M * ksub * sizeof(float) > k_max_precomputed_bytes) return;
    precomputed_.resize(nlist * M * ksub);
    additive_list_tables(*additive_, centroids_.data(), nlist, params_.metric == metric::cosine ? 0.5f : 1.0f,
                         precomputed_.data());
    return;
  }
  code_norms_.resize(M * ksub);
  for (std::size_t j = 0; j < M * ksub; ++j) code_norms_[j] = kt_->inner_product(&pq_[j * dsub], &pq_[j * dsub], dsub);
  pq_t_.resize(M * dsub * ksub);
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t c = 0; c < ksub; ++c)
      for (std::size_t t = 0; t < dsub; ++t) pq_t_[(m * dsub + t) * ksub + c] = pq_[(m * ksub + c) * dsub + t];
  precomputed_.clear();
  if (imi_) {
    build_imi_tables();
    return;
  }
  centroid_norms_.resize(nlist);
  for (std::size_t l = 0; l < nlist; ++l)
    centroid_norms_[l] = kt_->inner_product(&centroids_[l * d], &centroids_[l * d], d);
  if (params_.metric == metric::dot) return;  // dot needs no per-list term (bias is ⟨q, c⟩)
  if (nlist * M * ksub * sizeof(float) > k_max_precomputed_bytes) return;
  // T[l][m][c] = ‖r_mc‖² + 2⟨c_l,m, r_mc⟩: one product (nlist × dsub)·(ksub × dsub)ᵀ per sub-space.
  // Stored pre-multiplied by the metric's scale (½ for cosine, see list_table).
  const float scale = params_.metric == metric::cosine ? 0.5f : 1.0f;
  precomputed_.resize(nlist * M * ksub);
  std::vector<float> cm(nlist * dsub), ip(nlist * ksub);
  for (std::size_t m = 0; m < M; ++m) {
    gather_sub(pq_space_centroids(), nlist, d, m, dsub, cm.data());
    kernels::matmul_nt(cm.data(), nlist, &pq_[m * ksub * dsub], ksub, dsub, ip.data());
    for (std::size_t l = 0; l < nlist; ++l) {
      float* t = &precomputed_[(l * M + m) * ksub];
      const float* row = &ip[l * ksub];
      for (std::size_t c = 0; c < ksub; ++c) t[c] = scale * (code_norms_[m * ksub + c] + 2.0f * row[c]);
    }
  }
  if (local_) local_->fill_list_terms(scale, precomputed_.data());  // LOPQ: the lists of local groups
}

void codebook_set::build_imi_tables() {
  // Layout and derivation: codebook_set.hpp (imi_t1_, imi_t2_).
  imi_t1_.clear();
  imi_t2_.clear();
  const std::size_t M = params_.num_sub_vectors, ksub = params_.ksub(), dsub = params_.dsub();
  const std::size_t K = imi_->half_size(), d1 = imi_->d1(), d2 = imi_->d2();
  const bool rotated = !imi_rot1_.empty();  // OPQ: every sub-space has a share of both rotated halves
  imi_m_lo_ = rotated ? 0 : d1 / dsub;
  if (params_.metric == metric::dot) return;
  if (K * (2 * M - imi_m_lo_) * ksub * sizeof(float) > k_max_precomputed_bytes) return;
  const float scale = params_.metric == metric::cosine ? 0.5f : 1.0f;
  if (rotated) {
    // t1[i][m][c] = s·(‖r_mc‖² + 2⟨(R (c1_i ‖ 0))_m, r_mc⟩), t2[j][m][c] = s·2⟨(R (0 ‖ c2_j))_m, r_mc⟩
    const std::size_t d = params_.dimension;
    imi_t1_.assign(K * M * ksub, 0.0f);
    imi_t2_.assign(K * M * ksub, 0.0f);
    std::vector<float> sub(K * dsub), ip(K * ksub);
    for (int half = 0; half < 2; ++half) {
      const std::vector<float>& rows = half == 0 ? imi_rot1_ : imi_rot2_;
      std::vector<float>& t = half == 0 ? imi_t1_ : imi_t2_;
      for (std::size_t m = 0; m < M; ++m) {
        gather_sub(rows.data(), K, d, m, dsub, sub.data());
        kernels::matmul_nt(sub.data(), K, &pq_[m * ksub * dsub], ksub, dsub, ip.data());
        for (std::size_t i = 0; i < K; ++i)
          for (std::size_t c = 0; c < ksub; ++c)
            t[(i * M + m) * ksub + c] =
                scale * ((half == 0 ? code_norms_[m * ksub + c] : 0.0f) + 2.0f * ip[i * ksub + c]);
      }
    }
    return;
  }
  imi_t1_.assign(K * M * ksub, 0.0f);
  imi_t2_.assign(K * (M - imi_m_lo_) * ksub, 0.0f);
  std::vector<float> ip(ksub);
  for (std::size_t i = 0; i < K; ++i) {
    for (std::size_t m = 0; m < M; ++m) {
      float* t1 = &imi_t1_[(i * M + m) * ksub];
      for (std::size_t c = 0; c < ksub; ++c) t1[c] = scale * code_norms_[m * ksub + c];
      // Columns [lo, hi) of sub-space m inside half 1, then inside half 2.
      const std::size_t lo = m * dsub, hi = lo + dsub;
      if (lo < d1) {
        const std::size_t w = std::min(hi, d1) - lo;
        for (std::size_t c = 0; c < ksub; ++c)
          ip[c] = kt_->inner_product(imi_->half1() + i * d1 + lo, &pq_[(m * ksub + c) * dsub], w);
        for (std::size_t c = 0; c < ksub; ++c) t1[c] += scale * 2.0f * ip[c];
      }
      if (hi > d1) {
        const std::size_t from = std::max(lo, d1), w = hi - from;
        float* t2 = &imi_t2_[(i * (M - imi_m_lo_) + (m - imi_m_lo_)) * ksub];
        for (std::size_t c = 0; c < ksub; ++c)
          t2[c] = scale * 2.0f *
                  kt_->inner_product(imi_->half2() + i * d2 + (from - d1), &pq_[(m * ksub + c) * dsub + (from - lo)], w);
      }
    }
  }
}

void codebook_set::list_centroid(std::uint32_t list, float* out) const noexcept {
  if (imi_)
    imi_->cell_centroid(list, out);
  else
    std::copy_n(&centroids_[std::size_t{list} * params_.dimension], params_.dimension, out);
}

std::size_t codebook_set::memory_bytes() const noexcept {
  const std::size_t imi_floats = imi_ ? imi_->codebooks().capacity() + 2 * imi_->half_size() : 0;
  return sizeof(float) * (centroids_.capacity() + centroid_norms_.capacity() + pq_.capacity() +
                          code_norms_.capacity() + pq_t_.capacity() + precomputed_.capacity() + rotation_.capacity() +
                          rotated_centroids_.capacity() + imi_t1_.capacity() + imi_t2_.capacity() + imi_floats +
                          imi_rot1_.capacity() + imi_rot2_.capacity() +
                          encode_table_.capacity()) +
         (additive_ ? additive_->memory_bytes() : 0) + (local_ ? local_->memory_bytes() : 0);
}

status codebook_set::prepare_vectors(const float* x, std::size_t n, float* out) const {
  return prepare_rows(params_, x, n, out, "vector", 0);
}

status codebook_set::prepare_vectors(const index_params& p, const float* x, std::size_t n, float* out) {
  return prepare_rows(p, x, n, out, "vector", 0);
}

result<std::shared_ptr<const codebook_set>> codebook_set::train(const index_params& p, const float* x, std::size_t n,
                                                                std::uint64_t version) {
  return train_impl(p, x, n, version, nullptr);
}

result<std::shared_ptr<const codebook_set>> codebook_set::train_with_centroids(const index_params& p, const float* x,
                                                                               std::size_t n,
                                                                               std::vector<float> centroids,
                                                                               std::uint64_t version) {
  if (centroids.size() != p.coarse_floats())
    return fail(errc::invalid_argument, "centroids hold " + str(centroids.size()) + " floats, expected " +
                                            (p.imi() ? "2^imi_bits × dimension = " : "num_partitions × dimension = ") +
                                            str(p.coarse_floats()));
  for (float v : centroids)
    if (!std::isfinite(v)) return fail(errc::invalid_argument, "centroids: a value is not finite");
  return train_impl(p, x, n, version, &centroids);
}

result<std::shared_ptr<const codebook_set>> codebook_set::train_impl(const index_params& p, const float* x,
                                                                     std::size_t n, std::uint64_t version,
                                                                     std::vector<float>* keep_centroids) {
  IVF_TRY(p.validate_for_training(n));
  const std::size_t ksub = p.ksub();
  if (n < ksub)
    return fail(errc::invalid_argument, "num_bits=" + str(p.num_bits) + ": PQ training needs at least 2^" +
                                            str(p.num_bits) + "=" + str(ksub) + " training vectors, got " + str(n));
  const std::size_t d = p.dimension, M = p.num_sub_vectors, dsub = p.dsub(), nlist = p.num_partitions;

  std::vector<float> prepared(n * d);
  IVF_TRY(prepare_rows(p, x, n, prepared.data(), "training vector", 0));

  // Where training runs (cpu | cuda | auto, resolved once) and on how many threads.
  kernels::accelerator_choice device;
  // Under accelerator=auto a GPU stage that fails falls back to the CPU after one log line
  // (kernels/accelerator.cpp: "accelerator=auto: GPU ... failed (...); training on the CPU"); the
  // line is also how training_device() learns that the stage ran on the CPU.
  bool fell_back = false;
  const kernels::log_sink to_stderr = kernels::stderr_log_sink();
  const kernels::log_sink log = [&fell_back, &to_stderr](const std::string& line) {
    if (line.rfind("accelerator=auto: GPU ", 0) == 0 && line.find("; training on the CPU") != std::string::npos)
      fell_back = true;
    to_stderr(line);
  };
  IVF_TRY(device_result(kernels::resolve_accelerator(p.accelerator, log, &device)));
  const char* const resolved = kernels::to_string(device.used);
  std::string coarse_device;  // empty: the coarse quantizer was kept
  const int threads = kernels::resolve_threads(static_cast<int>(p.train_threads));

  // Coarse quantizer: k-means subsamples sample_rate × num_partitions rows itself (seeded).
  kernels::kmeans_options coarse_opt;
  coarse_opt.max_iterations = p.max_iterations;
  coarse_opt.seed = p.seed;
  coarse_opt.max_points_per_centroid = p.sample_rate;
  coarse_opt.max_threads = threads;
  kernels::kmeans_result coarse;
  if (keep_centroids)
    coarse.centroids = std::move(*keep_centroids);
  else if (p.imi())  // two half codebooks (index/multi_index_quantizer.hpp)
    IVF_TRY(device_result(
        multi_index_quantizer::train(device, prepared.data(), n, d, p.imi_bits, coarse_opt, log, &coarse.centroids)));
  else
    IVF_TRY(device_result(kernels::train_kmeans(device, prepared.data(), n, d, nlist, coarse_opt, log, &coarse)));
  if (!keep_centroids) coarse_device = fell_back ? "cpu" : resolved;
  fell_back = false;
  // "cpu" / "cuda" when every stage that ran used it, else per stage (training_device()).
  const auto device_text = [&coarse_device](const std::string& codebooks_device) {
    if (coarse_device.empty() || coarse_device == codebooks_device) return codebooks_device;
    return "coarse " + coarse_device + ", codebooks " + codebooks_device;
  };

  // PQ: residuals of a seeded sample of sample_rate × ksub rows, k-means per sub-space.
  const std::size_t pq_n = std::min(n, p.sample_rate * ksub);  // ≥ ksub since sample_rate ≥ 1 and n ≥ ksub
  const std::vector<std::size_t> rows = sample_rows(n, pq_n, p.seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<float> residuals(pq_n * d);
  for (std::size_t i = 0; i < pq_n; ++i) std::copy_n(&prepared[rows[i] * d], d, &residuals[i * d]);
  std::shared_ptr<const local_codebooks> local;  // LOPQ: per-group codebooks from all n vectors
  if (p.lopq) {
    auto trained = local_codebooks::train(p, prepared.data(), n, coarse.centroids.data(), threads);
    if (!trained) return std::move(trained).error();
    local = std::move(*trained);
  }
  prepared.clear();
  prepared.shrink_to_fit();
  {
    std::vector<std::uint32_t> labels(pq_n);
    if (p.imi()) {
      const multi_index_quantizer imi(d, p.imi_bits, coarse.centroids);
      imi.assign(residuals.data(), pq_n, labels.data(), threads);
      std::vector<float> c(d);
      for (std::size_t i = 0; i < pq_n; ++i) {
        imi.cell_centroid(labels[i], c.data());
        for (std::size_t j = 0; j < d; ++j) residuals[i * d + j] -= c[j];
      }
    } else {
      kernels::assign_nearest(residuals.data(), pq_n, coarse.centroids.data(), nlist, d, labels.data(), nullptr,
                              threads);
      for (std::size_t i = 0; i < pq_n; ++i)
        for (std::size_t j = 0; j < d; ++j) residuals[i * d + j] -= coarse.centroids[labels[i] * d + j];
    }
  }
  if (p.additive()) {  // rq/lsq: additive codebooks + norm levels (index/additive_quantizer.hpp)
    std::vector<float> parts = train_additive_parts(p, residuals.data(), pq_n, threads);
    std::unique_ptr<codebook_set> set(new codebook_set(p, version, std::move(coarse.centroids), std::move(parts), {}));
    set->training_device_ = device_text("cpu");
    return std::shared_ptr<const codebook_set>(std::move(set));
  }
  std::vector<float> rotation;
  if (p.opq) {  // learn R on the residual sample, then train PQ on the rotated residuals
    opq_options oo;
    oo.num_sub_vectors = M;
    oo.num_bits = p.num_bits;
    oo.iterations = p.opq_iterations;
    oo.kmeans_iterations = std::min<std::size_t>(p.max_iterations, 20);
    oo.seed = p.seed ^ 0x4f5051ull;
    rotation = train_opq_rotation(residuals.data(), pq_n, d, oo);
    std::vector<float> rotated(pq_n * d);
    rotate_rows(rotation.data(), d, residuals.data(), pq_n, rotated.data());
    residuals.swap(rotated);
  }
  // PQ: k-means per sub-space (seed p.seed + 1 + m), sub-spaces side by side on `threads` threads.
  std::vector<float> pq;
  kernels::kmeans_options pq_opt;
  pq_opt.max_iterations = p.max_iterations;
  pq_opt.seed = p.seed + 1;
  pq_opt.max_points_per_centroid = p.sample_rate;
  pq_opt.max_threads = threads;
  // Random-row initialisation as FAISS: k-means++ favours outlying residuals, which cost recall on
  // wide sub-spaces (Fashion-MNIST M=16: −0.009 recall@10 at equal everything else; bench/README.md).
  pq_opt.init = kernels::kmeans_init::random_rows;
  IVF_TRY(device_result(kernels::train_pq_codebooks(device, residuals.data(), pq_n, d, M, ksub, pq_opt, log, &pq)));
  if (p.polysemous) {  // permute code indices so Hamming tracks distance (index/polysemous.hpp)
    polysemous_options po;
    po.iterations = p.polysemous_iterations;
    po.seed = p.seed ^ 0x706f6c79ull;
    po.objective = p.polysemous_objective;
    make_polysemous(pq.data(), M, ksub, dsub, p.num_bits, po);
  }
  std::unique_ptr<codebook_set> set(
      new codebook_set(p, version, std::move(coarse.centroids), std::move(pq), std::move(rotation), std::move(local)));
  set->training_device_ = device_text(fell_back ? "cpu" : resolved);
  return std::shared_ptr<const codebook_set>(std::move(set));
}

result<std::shared_ptr<const codebook_set>> codebook_set::from_parts(const index_params& p, std::uint64_t version,
                                                                     std::vector<float> centroids,
                                                                     std::vector<float> pq_codebooks,
                                                                     std::vector<float> rotation,
                                                                     lopq_parts local) {
  IVF_TRY(p.validate());
  // The parameters may come from a file (manifest, snapshot): a wrapping product would let an empty
  // buffer match a huge num_partitions. M × 2^num_bits × dsub = 2^num_bits × dimension (M divides d).
  std::size_t want_c = 0, want_pq = 0;
  if (__builtin_mul_overflow(p.imi() ? std::size_t{1} << p.imi_bits : p.num_partitions, p.dimension, &want_c) ||
      __builtin_mul_overflow(p.ksub(), p.dimension, &want_pq))
    return fail(errc::corrupt_data, "codebooks: num_partitions=" + str(p.num_partitions) + ", dimension=" +
                                        str(p.dimension) + ", num_bits=" + str(p.num_bits) +
                                        ": the codebook sizes overflow 64 bits");
  if (centroids.size() != want_c)
    return fail(errc::corrupt_data, "codebooks: centroids hold " + str(centroids.size()) + " floats, expected " +
                                        (p.imi() ? "2^imi_bits × dimension = " : "num_partitions × dimension = ") +
                                        str(want_c));
  if (p.additive()) {  // rq/lsq: 256 × ((M − 1) × d + 1), M ≤ 33 (validate)
    if (__builtin_mul_overflow(want_pq, p.num_sub_vectors, &want_pq))
      return fail(errc::corrupt_data, "codebooks: dimension=" + str(p.dimension) + ": the codebook sizes overflow 64 bits");
    want_pq = additive_parts_size(p);
    if (pq_codebooks.size() != want_pq)
      return fail(errc::corrupt_data, "codebooks: pq_codebooks hold " + str(pq_codebooks.size()) +
                                          " floats, expected 256 × ((num_sub_vectors − 1) × dimension + 1) = " +
                                          str(want_pq) + " for quantizer rq/lsq");
  } else if (pq_codebooks.size() != want_pq) {
    return fail(errc::corrupt_data, "codebooks: pq_codebooks hold " + str(pq_codebooks.size()) +
                                        " floats, expected M × 2^num_bits × dsub = " + str(want_pq));
  }
  for (float v : centroids)
    if (!std::isfinite(v)) return fail(errc::corrupt_data, "codebooks: a centroid value is not finite");
  for (float v : pq_codebooks)
    if (!std::isfinite(v)) return fail(errc::corrupt_data, "codebooks: a PQ codebook value is not finite");
  const std::size_t want_r = p.opq ? p.dimension * p.dimension : 0;
  if (rotation.size() != want_r)
    return fail(errc::corrupt_data, "codebooks: rotation holds " + str(rotation.size()) + " floats, expected " +
                                        (p.opq ? "dimension × dimension = " + str(want_r) + " (opq=true)"
                                               : std::string("none (opq=false)")));
  for (float v : rotation)
    if (!std::isfinite(v)) return fail(errc::corrupt_data, "codebooks: a rotation value is not finite");
  if (p.opq && !(orthogonality_error(rotation.data(), p.dimension) <= 1e-3))
    return fail(errc::corrupt_data, "codebooks: rotation is not orthogonal (max |RᵀR − I| = " +
                                        std::to_string(orthogonality_error(rotation.data(), p.dimension)) +
                                        ", allowed 1e-3)");
  std::shared_ptr<const local_codebooks> lopq;  // LOPQ: checked against these centroids (local_codebooks.hpp)
  if (p.lopq) {
    auto parts = local_codebooks::from_parts(p, centroids.data(), std::move(local.list_group),
                                             std::move(local.rotations), std::move(local.pq));
    if (!parts) return std::move(parts).error();
    lopq = std::move(*parts);
  } else if (!local.list_group.empty() || !local.rotations.empty() || !local.pq.empty()) {
    return fail(errc::corrupt_data, "codebooks: local (LOPQ) codebooks present, but lopq=false");
  }
  return std::shared_ptr<const codebook_set>(
      new codebook_set(p, version, std::move(centroids), std::move(pq_codebooks), std::move(rotation), std::move(lopq)));
}

void codebook_set::assign(const float* prepared, std::size_t n, std::uint32_t* lists) const {
  if (imi_) return imi_->assign(prepared, n, lists);
  kernels::assign_nearest(prepared, n, centroids_.data(), params_.num_partitions, params_.dimension, lists, nullptr);
}

void codebook_set::encode(const float* prepared, std::size_t n, std::uint32_t* lists, std::uint8_t* codes) const {
  assign(prepared, n, lists);
  encode_in_lists(prepared, n, lists, codes);
}

void codebook_set::encode_in_lists(const float* prepared, std::size_t n, const std::uint32_t* lists,
                                   std::uint8_t* codes) const {
  if (local_)  // LOPQ: each row with its list's group's rotation and codebooks (or the global ones)
    return local_->encode_in_lists(prepared, n, lists, centroids_.data(), rotation_.empty() ? nullptr : rotation_.data(),
                                   pq_.data(), codes);
  const std::size_t d = params_.dimension, M = params_.num_sub_vectors, dsub = params_.dsub(), ksub = params_.ksub();
  if (additive_) {  // rq/lsq: residuals encoded with the norm byte
    std::vector<float> residual(std::min(n, k_block_rows) * d);
    for (std::size_t b = 0; b < n; b += k_block_rows) {
      const std::size_t nb = std::min(k_block_rows, n - b);
      for (std::size_t i = 0; i < nb; ++i) {
        const float* x = prepared + (b + i) * d;
        const float* c = &centroids_[std::size_t{lists[b + i]} * d];
        for (std::size_t j = 0; j < d; ++j) residual[i * d + j] = x[j] - c[j];
      }
      encode_additive(*additive_, params_, &pq_[pq_.size() - k_additive_ksub], residual.data(), nb,
                      codes + b * code_size_);
    }
    return;
  }
  std::vector<float> residual(std::min(n, k_block_rows) * d);
  std::vector<float> rotated(rotation_.empty() ? 0 : std::min(n, k_block_rows) * d);
  std::vector<std::uint16_t> sub_codes(std::min(n, k_block_rows) * M);
  std::vector<float> cell(imi_ ? d : 0);  // IMI: the cell's centroid c1_i ‖ c2_j
  for (std::size_t b = 0; b < n; b += k_block_rows) {
    const std::size_t nb = std::min(k_block_rows, n - b);
    for (std::size_t i = 0; i < nb; ++i) {
      const float* x = prepared + (b + i) * d;
      const float* c = cell.data();
      if (imi_) imi_->cell_centroid(lists[b + i], cell.data());
      else c = &centroids_[std::size_t{lists[b + i]} * d];
      for (std::size_t j = 0; j < d; ++j) residual[i * d + j] = x[j] - c[j];
    }
    if (!rotation_.empty()) {  // OPQ: PQ-encode R r
      rotate_rows(rotation_.data(), d, residual.data(), nb, rotated.data());
      residual.swap(rotated);
    }
    kernels::pq_encode(encode_table_.data(), residual.data(), nb, M, dsub, ksub, sub_codes.data());
    kernels::pack_codes(sub_codes.data(), nb, M, params_.num_bits, codes + b * code_size_);
  }
}

void codebook_set::decode(std::uint32_t list, const std::uint8_t* code, float* out) const {
  if (local_)  // LOPQ: c + R_gᵀ û with the list's group's codebooks (or the global ones)
    return local_->decode(list, code, centroids_.data(), rotation_.empty() ? nullptr : rotation_.data(), pq_.data(), out);
  const std::size_t d = params_.dimension, M = params_.num_sub_vectors, dsub = params_.dsub(), ksub = params_.ksub();
  if (additive_) {  // rq/lsq: c + Σ_m a_m(code_m) (the norm byte does not enter the reconstruction)
    additive_->decode(code, out);
    for (std::size_t j = 0; j < d; ++j) out[j] += centroids_[std::size_t{list} * d + j];
    return;
  }
  if (imi_) {  // x̂ = (c1_i ‖ c2_j) + r̂ (OPQ: + Rᵀ (R r̂))
    std::vector<float> r(d), cell(d);
    for (std::size_t m = 0; m < M; ++m) {
      const std::uint32_t c = kernels::read_sub_code(code, code_size_, m, params_.num_bits);
      std::copy_n(&pq_[(m * ksub + c) * dsub], dsub, &r[m * dsub]);
    }
    if (!rotation_.empty()) {
      std::vector<float> rr(r);
      unrotate_rows(rotation_.data(), d, rr.data(), 1, r.data());
    }
    imi_->cell_centroid(list, cell.data());
    for (std::size_t j = 0; j < d; ++j) out[j] = cell[j] + r[j];
    return;
  }
  for (std::size_t m = 0; m < M; ++m) {
    const std::uint32_t c = kernels::read_sub_code(code, code_size_, m, params_.num_bits);
    for (std::size_t j = 0; j < dsub; ++j) {
      const float r = pq_[(m * ksub + c) * dsub + j];
      out[m * dsub + j] = rotation_.empty() ? centroids_[std::size_t{list} * d + m * dsub + j] + r : r;
    }
  }
  if (!rotation_.empty()) {  // OPQ: out holds R r̂; x̂ = c + Rᵀ (R r̂)
    std::vector<float> r(out, out + d);
    unrotate_rows(rotation_.data(), d, r.data(), 1, out);
    for (std::size_t j = 0; j < d; ++j) out[j] += centroids_[std::size_t{list} * d + j];
  }
}

result<query_plan> codebook_set::plan_query(const float* q, std::size_t nprobes) const {
  auto plans = plan_queries(q, 1, nprobes);
  if (!plans) return std::move(plans).error();
  return std::move((*plans)[0]);
}

result<std::vector<query_plan>> codebook_set::plan_queries(const float* q, std::size_t nq, std::size_t nprobes) const {
  if (nprobes == 0) return fail(errc::invalid_argument, "nprobes=0: must be >= 1");
  const std::size_t d = params_.dimension, M = params_.num_sub_vectors, dsub = params_.dsub(), ksub = params_.ksub();
  const std::size_t nlist = params_.num_partitions;
  const std::size_t probes = std::min(nprobes, nlist);
  const bool dot = params_.metric == metric::dot;

  std::vector<query_plan> plans(nq);
  const std::size_t block = std::min(nq, k_block_rows / 4 > 0 ? k_block_rows / 4 : std::size_t{1});
  const std::size_t flat_lists = imi_ ? 0 : nlist;  // IMI never materialises a row over all K² cells
  std::vector<float> prepared(block * d), ip(block * std::max(flat_lists, ksub)), sub(block * dsub);
  std::vector<float> rotated(rotation_.empty() ? 0 : block * d);  // OPQ: R q per row
  std::vector<std::uint32_t> order(flat_lists);
  for (std::size_t b = 0; b < nq; b += block) {
    const std::size_t nb = std::min(block, nq - b);
    IVF_TRY(prepare_rows(params_, q + b * d, nb, prepared.data(), "query", b));
    if (imi_) {
      plan_imi_probes(prepared.data(), nb, probes, &plans[b]);
    } else {
      // Coarse: ⟨q, c⟩ for all lists in one product; l2 distance = ‖q‖² − 2⟨q,c⟩ + ‖c‖².
      // matmul_nt picks its path from the centroid matrix's shape only, so a query's row does not
      // depend on the batch it came in: plan_query and plan_queries agree bit for bit.
      kernels::matmul_nt(prepared.data(), nb, centroids_.data(), nlist, d, ip.data());
      for (std::size_t i = 0; i < nb; ++i) {
        query_plan& plan = plans[b + i];
        plan.query.assign(prepared.begin() + i * d, prepared.begin() + (i + 1) * d);
        float* row = &ip[i * nlist];
        if (!dot) {
          const float qn = kt_->inner_product(plan.query.data(), plan.query.data(), d);
          for (std::size_t l = 0; l < nlist; ++l) row[l] = std::max(0.0f, qn - 2.0f * row[l] + centroid_norms_[l]);
        }
        std::iota(order.begin(), order.end(), 0u);
        // nearest first: smallest distance (l2/cosine) or largest inner product (dot); ties by index
        auto nearer = [row, dot](std::uint32_t a, std::uint32_t c) {
          if (row[a] != row[c]) return dot ? row[a] > row[c] : row[a] < row[c];
          return a < c;
        };
        std::partial_sort(order.begin(), order.begin() + probes, order.end(), nearer);
        plan.lists.assign(order.begin(), order.begin() + probes);
        plan.coarse.resize(probes);
        for (std::size_t j = 0; j < probes; ++j) plan.coarse[j] = row[plan.lists[j]];
      }
    }
    for (std::size_t i = 0; i < nb; ++i) plans[b + i].query_table.resize(M * ksub);
    // Query tables: ⟨q_m, r_mc⟩, one product per sub-space for the whole block (OPQ: (R q)_m).
    if (!rotation_.empty()) rotate_rows(rotation_.data(), d, prepared.data(), nb, rotated.data());
    const float* pq_space_q = rotation_.empty() ? prepared.data() : rotated.data();
    if (additive_) {  // rq/lsq: list-independent tables, one product for the block
      std::vector<float*> tables(nb);
      for (std::size_t i = 0; i < nb; ++i) tables[i] = plans[b + i].query_table.data();
      additive_query_tables(*additive_, params_, &pq_[pq_.size() - k_additive_ksub], prepared.data(), nb,
                            tables.data());
      continue;
    }
    for (std::size_t m = 0; m < M; ++m) {
      // ⟨q_m, r_mc⟩ for every c: (nb × dsub)·(dsub × ksub) with the transposed codebook, whose sequential
      // per-output chains beat matmul_nt's dot-product tiles at these short dsub (4-49) and, like
      // them, do not depend on the batch (plan_query equals plan_queries bit for bit).
      gather_sub(pq_space_q, nb, d, m, dsub, sub.data());
      kt_->matmul_nn_small(sub.data(), nb, &pq_t_[m * dsub * ksub], dsub, ksub, ip.data());
      for (std::size_t i = 0; i < nb; ++i) {
        float* qt = &plans[b + i].query_table[m * ksub];
        const float* row = &ip[i * ksub];
        if (dot) {
          std::copy_n(row, ksub, qt);
        } else {
          for (std::size_t c = 0; c < ksub; ++c) qt[c] = -2.0f * row[c];
        }
      }
    }
  }
  if (local_) local_->plan_tables(plans.data(), nq, dot);  // LOPQ: one query table per probed group
  return plans;
}

void codebook_set::plan_imi_probes(const float* prepared, std::size_t nb, std::size_t probes, query_plan* plans) const {
  // Per-half keys (l2/cosine: half distances; dot: negated half inner products), then the
  // multi-sequence walk: the `probes` cells of smallest key sum, in order (multi_index_quantizer.hpp).
  const std::size_t K = imi_->half_size(), d = params_.dimension;
  const bool dot = params_.metric == metric::dot;
  std::vector<float> s1(nb * K), s2(nb * K), scratch;
  imi_->half_keys(prepared, nb, dot, s1.data(), s2.data(), scratch);
  multi_sequence_scratch ms;
  for (std::size_t i = 0; i < nb; ++i) {
    query_plan& plan = plans[i];
    plan.query.assign(prepared + i * d, prepared + (i + 1) * d);
    plan.lists.resize(probes);
    plan.coarse.resize(probes);
    multi_sequence(&s1[i * K], &s2[i * K], K, probes, plan.lists.data(), plan.coarse.data(), ms);
    if (dot)
      for (float& c : plan.coarse) c = -c;  // ⟨q, c⟩ = −key
  }
}

float codebook_set::list_table(const query_plan& plan, std::size_t i, float* lut) const {
  IVF_ASSERT(i < plan.lists.size());
  const std::size_t M = params_.num_sub_vectors, ksub = params_.ksub(), n = M * ksub;
  const float* qt = plan.probe_query_table(i);  // LOPQ: the probed list's group table
  switch (params_.metric) {
    case metric::dot:
      // 1 − ⟨q, x⟩ ≈ (1 − ⟨q, c⟩) + Σ_m −⟨q_m, r_mc⟩
      for (std::size_t j = 0; j < n; ++j) lut[j] = -qt[j];
      return 1.0f - plan.coarse[i];
    case metric::l2:
    case metric::cosine: {
      // cosine: 1 − cos = ‖q − x‖² / 2 on unit vectors, so table and bias carry a factor ½ (exact in
      // binary floating point: the cosine table equals ½ × the l2 table bit for bit).
      const float scale = params_.metric == metric::cosine ? 0.5f : 1.0f;
      const std::uint32_t list = plan.lists[i];
      if (additive_) {  // rq/lsq: s·(qt + T[list]), T = 2⟨c, a_mk⟩ and a zero norm row (additive_quantizer.hpp)
        if (!precomputed_.empty()) {
          kt_->add_scaled(&precomputed_[std::size_t{list} * n], scale, qt, n, lut);
        } else {
          additive_list_tables(*additive_, &centroids_[std::size_t{list} * params_.dimension], 1, scale, lut);
          for (std::size_t j = 0; j < n; ++j) lut[j] += scale * qt[j];
        }
      } else if (imi_) {
        imi_list_table(list, scale, qt, lut);
      } else if (!precomputed_.empty()) {
        // precomputed_ holds scale · T[list]: one fused pass lut = scale·T + scale·qt
        kt_->add_scaled(&precomputed_[std::size_t{list} * n], scale, qt, n, lut);
      } else {
        // T[list] computed on the fly: ‖r_mc‖² + 2⟨c_list,m, r_mc⟩
        const std::size_t d = params_.dimension, dsub = params_.dsub();
        const float* cen = pq_space_centroids() + std::size_t{list} * d;
        const float *pq = pq_.data(), *norms = code_norms_.data();
        if (local_) local_->list_space(list, &cen, &pq, &norms);  // LOPQ: the list's group's space
        for (std::size_t m = 0; m < M; ++m) {
          kt_->inner_product_ny(cen + m * dsub, pq + m * ksub * dsub, ksub, dsub, lut + m * ksub);
          for (std::size_t c = 0; c < ksub; ++c)
            lut[m * ksub + c] = scale * (qt[m * ksub + c] + norms[m * ksub + c] + 2.0f * lut[m * ksub + c]);
        }
      }
      return scale * plan.coarse[i];
    }
  }
  return 0.0f;
}

bool codebook_set::entry_terms() const noexcept {
  return !precomputed_.empty() && !additive_ && params_.num_bits != 4 && params_.metric != metric::dot;
}

float codebook_set::entry_term(std::uint32_t list, const std::uint8_t* code) const noexcept {
  if (!entry_terms()) return 0.0f;
  const std::size_t M = params_.num_sub_vectors, ksub = params_.ksub(), cs = code_size();
  const unsigned nbits = params_.num_bits;
  const float* t = &precomputed_[std::size_t{list} * M * ksub];
  float sum = 0.0f;
  for (std::size_t m = 0; m < M; ++m)
    sum += t[m * ksub + (nbits == 8 ? code[m] : kernels::read_sub_code(code, cs, m, nbits))];
  return sum;
}

probe_table codebook_set::probe(const query_plan& plan, std::size_t i, bool list_keeps_terms, float* lut) const {
  IVF_ASSERT(i < plan.lists.size());
  if (params_.num_bits != 4) {
    if (params_.metric == metric::dot)  // 1 − ⟨q, x⟩ ≈ −Σ_m ⟨q_m, r_mc⟩ + (1 − ⟨q, c⟩)
      return {plan.probe_query_table(i), 1.0f - plan.coarse[i], -1.0f, false, true};
    if (list_keeps_terms && entry_terms()) {  // s·‖q − c‖² + s·Σ_m qt + Σ_m s·T (the term)
      const float s = params_.metric == metric::cosine ? 0.5f : 1.0f;
      return {plan.probe_query_table(i), s * plan.coarse[i], s, true, true};
    }
  }
  return {lut, list_table(plan, i, lut), 1.0f, false, false};
}

void codebook_set::imi_list_table(std::uint32_t list, float scale, const float* qt, float* lut) const {
  const std::size_t M = params_.num_sub_vectors, ksub = params_.ksub(), n = M * ksub;
  const std::size_t K = imi_->half_size(), i = list / K, j = list % K;
  if (!imi_t1_.empty()) {
    // lut = s·qt + t1[i], then the sub-spaces from imi_m_lo_ on add t2[j] (codebook_set.hpp; 0 under OPQ)
    kt_->add_scaled(&imi_t1_[i * n], scale, qt, n, lut);
    const std::size_t n2 = (M - imi_m_lo_) * ksub;
    const float* t2 = &imi_t2_[j * n2];
    float* out = lut + imi_m_lo_ * ksub;
    for (std::size_t c = 0; c < n2; ++c) out[c] += t2[c];
    return;
  }
  // Per probe: T[cell] = ‖r_mc‖² + 2⟨c_cell,m, r_mc⟩ from the cell's centroid.
  const std::size_t d = params_.dimension, dsub = params_.dsub();
  std::vector<float> c(d);
  if (!imi_rot1_.empty()) {  // OPQ: R c_ij = R (c1_i ‖ 0) + R (0 ‖ c2_j)
    for (std::size_t t = 0; t < d; ++t) c[t] = imi_rot1_[i * d + t] + imi_rot2_[j * d + t];
  } else {
    imi_->cell_centroid(list, c.data());
  }
  for (std::size_t m = 0; m < M; ++m) {
    kt_->inner_product_ny(c.data() + m * dsub, &pq_[m * ksub * dsub], ksub, dsub, lut + m * ksub);
    for (std::size_t k = 0; k < ksub; ++k)
      lut[m * ksub + k] = scale * (qt[m * ksub + k] + code_norms_[m * ksub + k] + 2.0f * lut[m * ksub + k]);
  }
}

float codebook_set::exact_distance(const float* prepared_q, const float* prepared_x) const {
  if (params_.metric == metric::l2) return kt_->l2sqr(prepared_q, prepared_x, params_.dimension);
  return 1.0f - kt_->inner_product(prepared_q, prepared_x, params_.dimension);
}

}  // namespace ivfstream
