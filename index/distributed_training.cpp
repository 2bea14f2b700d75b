#include "index/distributed_training.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "index/polysemous.hpp"
#include "kernels/kmeans.hpp"

namespace ivfstream {

namespace {

std::string str(std::size_t v) { return std::to_string(v); }

/// k-means++ seeding only (zero Lloyd updates) on all n rows.
std::vector<float> seed_centroids(const float* x, std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  kernels::kmeans_options opt;
  opt.max_iterations = 0;
  opt.seed = seed;
  opt.max_points_per_centroid = 0;  // no subsampling: the caller chose the sample
  return kernels::kmeans(x, n, d, k, opt).centroids;
}

/// Residuals (n × d) of the rows against their nearest coarse centroid.
std::vector<float> residuals_of(const index_params& p, const float* x, std::size_t n,
                                const std::vector<float>& coarse) {
  const std::size_t d = p.dimension;
  std::vector<float> r(x, x + n * d);
  if (n == 0) return r;
  std::vector<std::uint32_t> labels(n);
  kernels::assign_nearest(x, n, coarse.data(), p.num_partitions, d, labels.data(), nullptr);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) r[i * d + j] -= coarse[labels[i] * d + j];
  return r;
}

}  // namespace

std::string distributed_training_unsupported(const index_params& p) {
  if (p.opq) return "opq=true: distributed training supports opq=false only";
  if (p.imi()) return "coarse_quantizer=imi: distributed training supports coarse_quantizer=flat only";
  if (p.lopq) return "lopq=true: distributed training supports lopq=false only";
  if (p.additive())  // the nodes' statistics are per PQ sub-space; rq/lsq codebooks are full-dimension
    return std::string("quantizer=") + to_string(p.quantizer) + ": distributed training supports quantizer=pq only";
  return {};
}

result<std::vector<float>> initial_coarse_centroids(const index_params& p, const float* prepared_sample,
                                                    std::size_t n) {
  IVF_TRY(p.validate_for_training(n));
  if (auto why = distributed_training_unsupported(p); !why.empty()) return fail(errc::invalid_argument, why);
  return seed_centroids(prepared_sample, n, p.dimension, p.num_partitions, p.seed);
}

result<std::vector<float>> initial_pq_codebooks(const index_params& p, const float* prepared_sample,
                                                std::size_t n, const std::vector<float>& coarse) {
  const std::size_t ksub = p.ksub(), dsub = p.dsub(), M = p.num_sub_vectors, d = p.dimension;
  if (n < ksub)
    return fail(errc::invalid_argument, "init sample of " + str(n) + " rows: PQ needs at least 2^" +
                                            str(p.num_bits) + "=" + str(ksub));
  const std::vector<float> r = residuals_of(p, prepared_sample, n, coarse);
  std::vector<float> pq(M * ksub * dsub), sub(n * dsub);
  for (std::size_t m = 0; m < M; ++m) {
    for (std::size_t i = 0; i < n; ++i) std::copy_n(&r[i * d + m * dsub], dsub, &sub[i * dsub]);
    auto c = seed_centroids(sub.data(), n, dsub, ksub, p.seed + 1 + m);
    std::copy(c.begin(), c.end(), pq.begin() + static_cast<std::ptrdiff_t>(m * ksub * dsub));
  }
  return pq;
}

kernels::kmeans_stats coarse_stats(const index_params& p, const float* prepared, std::size_t n,
                                   const std::vector<float>& coarse) {
  return kernels::kmeans_local_stats(prepared, n, p.dimension, coarse.data(), p.num_partitions);
}

std::vector<kernels::kmeans_stats> pq_stats(const index_params& p, const float* prepared, std::size_t n,
                                            const std::vector<float>& coarse, const std::vector<float>& pq) {
  const std::size_t ksub = p.ksub(), dsub = p.dsub(), M = p.num_sub_vectors, d = p.dimension;
  const std::vector<float> r = residuals_of(p, prepared, n, coarse);
  std::vector<kernels::kmeans_stats> out;
  out.reserve(M);
  for (std::size_t m = 0; m < M; ++m)
    out.push_back(kernels::subspace_local_stats(r.data(), n, d, m, dsub, pq.data() + m * ksub * dsub, ksub));
  return out;
}

std::vector<float> pq_update(const index_params& p, const std::vector<kernels::kmeans_stats>& merged,
                             const std::vector<float>& pq) {
  const std::size_t ksub = p.ksub(), dsub = p.dsub();
  std::vector<float> out(pq.size());
  for (std::size_t m = 0; m < merged.size(); ++m) {
    auto c = kernels::kmeans_update(merged[m], pq.data() + m * ksub * dsub);
    std::copy(c.begin(), c.end(), out.begin() + static_cast<std::ptrdiff_t>(m * ksub * dsub));
  }
  return out;
}

namespace {

// Shards in memory, merged in the order given.
class memory_shards final : public training_shards {
public:
  explicit memory_shards(const std::vector<kernels::shard_view>& shards) : shards_(shards) {}
  result<kernels::kmeans_stats> coarse(const index_params& p, const std::vector<float>& coarse) override {
    auto total = kernels::kmeans_stats::zero(p.num_partitions, p.dimension);
    for (const auto& s : shards_) kernels::merge_kmeans_stats(total, coarse_stats(p, s.x, s.n, coarse));
    return total;
  }
  result<std::vector<kernels::kmeans_stats>> pq(const index_params& p, const std::vector<float>& coarse,
                                                const std::vector<float>& pq) override {
    std::vector<kernels::kmeans_stats> total;
    for (std::size_t m = 0; m < p.num_sub_vectors; ++m) total.push_back(kernels::kmeans_stats::zero(p.ksub(), p.dsub()));
    for (const auto& s : shards_) {
      auto part = pq_stats(p, s.x, s.n, coarse, pq);
      for (std::size_t m = 0; m < p.num_sub_vectors; ++m) kernels::merge_kmeans_stats(total[m], part[m]);
    }
    return total;
  }

private:
  const std::vector<kernels::shard_view>& shards_;
};

// The PQ phase of train_distributed under fixed coarse centroids: leader init, Lloyd steps, polysemous
// permutation, from_parts.
result<std::shared_ptr<const codebook_set>> train_pq_phase(const index_params& p, training_shards& shards,
                                                           const float* init_sample, std::size_t init_n,
                                                           std::vector<float> coarse, std::uint64_t version) {
  auto pq_init = initial_pq_codebooks(p, init_sample, init_n, coarse);
  if (!pq_init) return pq_init.error();
  std::vector<float> pq = std::move(*pq_init);
  for (std::size_t it = 0; it < p.max_iterations; ++it) {
    auto total = shards.pq(p, coarse, pq);
    if (!total) return std::move(total).error();
    if (total->size() != p.num_sub_vectors)
      return fail(errc::internal, "training shards returned " + str(total->size()) + " PQ statistics for " +
                                      str(p.num_sub_vectors) + " sub-spaces");
    pq = pq_update(p, *total, pq);
  }
  if (p.polysemous) {  // as codebook_set::train: permute the code indices of the merged codebooks
    polysemous_options po;
    po.iterations = p.polysemous_iterations;
    po.seed = p.seed ^ 0x706f6c79ull;
    po.objective = p.polysemous_objective;
    make_polysemous(pq.data(), p.num_sub_vectors, p.ksub(), p.dsub(), p.num_bits, po);
  }
  return codebook_set::from_parts(p, version, std::move(coarse), std::move(pq));
}

}  // namespace

result<std::shared_ptr<const codebook_set>> train_distributed(const index_params& p, training_shards& shards,
                                                              const float* init_sample, std::size_t init_n,
                                                              std::uint64_t version) {
  auto coarse_init = initial_coarse_centroids(p, init_sample, init_n);
  if (!coarse_init) return coarse_init.error();
  std::vector<float> coarse = std::move(*coarse_init);
  for (std::size_t it = 0; it < p.max_iterations; ++it) {
    auto total = shards.coarse(p, coarse);
    if (!total) return std::move(total).error();
    coarse = kernels::kmeans_update(*total, coarse.data());
  }
  return train_pq_phase(p, shards, init_sample, init_n, std::move(coarse), version);
}

result<std::shared_ptr<const codebook_set>> train_distributed_with_centroids(const index_params& p,
                                                                             training_shards& shards,
                                                                             const float* init_sample,
                                                                             std::size_t init_n,
                                                                             std::vector<float> centroids,
                                                                             std::uint64_t version) {
  if (auto why = distributed_training_unsupported(p); !why.empty())
    return fail(errc::invalid_argument, "distributed training: " + why);
  if (centroids.size() != p.num_partitions * p.dimension)
    return fail(errc::invalid_argument, "centroids hold " + str(centroids.size()) +
                                            " floats, expected num_partitions × dimension = " +
                                            str(p.num_partitions * p.dimension));
  for (float v : centroids)
    if (!std::isfinite(v)) return fail(errc::invalid_argument, "centroids: a value is not finite");
  return train_pq_phase(p, shards, init_sample, init_n, std::move(centroids), version);
}

result<std::shared_ptr<const codebook_set>> train_distributed(const index_params& p,
                                                              const std::vector<kernels::shard_view>& shards,
                                                              const float* init_sample, std::size_t init_n,
                                                              std::uint64_t version) {
  memory_shards source(shards);
  return train_distributed(p, source, init_sample, init_n, version);
}

result<std::shared_ptr<const codebook_set>> train_distributed_with_centroids(
    const index_params& p, const std::vector<kernels::shard_view>& shards, const float* init_sample,
    std::size_t init_n, std::vector<float> centroids, std::uint64_t version) {
  memory_shards source(shards);
  return train_distributed_with_centroids(p, source, init_sample, init_n, std::move(centroids), version);
}

}  // namespace ivfstream
