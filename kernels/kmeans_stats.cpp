#include "kernels/kmeans_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/assert.hpp"
#include "kernels/kmeans.hpp"

namespace ivfstream::kernels {

namespace {

/// Adds the n rows (row stride `stride`, first column `col`, width d) with their labels and distances.
void accumulate(kmeans_stats& s, const float* x, std::size_t n, std::size_t stride, std::size_t col,
                const std::uint32_t* labels, const float* dists) {
  const std::size_t d = s.d;
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = x + i * stride + col;
    const std::size_t j = labels[i];
    ++s.counts[j];
    double* sum = s.sums.data() + j * d;
    for (std::size_t t = 0; t < d; ++t) sum[t] += row[t];
    s.objective += dists[i];
    if (dists[i] > s.far_dist[j]) {  // strict: the first row of largest distance stays
      s.far_dist[j] = dists[i];
      std::memcpy(s.far_row.data() + j * d, row, d * sizeof(float));
    }
  }
}

}  // namespace

kmeans_stats kmeans_stats::zero(std::size_t k, std::size_t d) {
  kmeans_stats s;
  s.k = k;
  s.d = d;
  s.sums.assign(k * d, 0.0);
  s.counts.assign(k, 0);
  s.far_dist.assign(k, -1.f);
  s.far_row.assign(k * d, 0.f);
  return s;
}

std::uint64_t kmeans_stats::rows() const noexcept {
  std::uint64_t r = 0;
  for (auto c : counts) r += c;
  return r;
}

kmeans_stats kmeans_local_stats(const float* x, std::size_t n, std::size_t d, const float* centroids,
                                std::size_t k) {
  IVF_ASSERT(k >= 1 && d >= 1);
  kmeans_stats s = kmeans_stats::zero(k, d);
  if (n == 0) return s;
  std::vector<std::uint32_t> labels(n);
  std::vector<float> dists(n);
  assign_nearest(x, n, centroids, k, d, labels.data(), dists.data());
  accumulate(s, x, n, d, 0, labels.data(), dists.data());
  return s;
}

kmeans_stats subspace_local_stats(const float* x, std::size_t n, std::size_t d, std::size_t m, std::size_t dsub,
                                  const float* centroids, std::size_t ksub) {
  IVF_ASSERT(ksub >= 1 && dsub >= 1 && (m + 1) * dsub <= d);
  kmeans_stats s = kmeans_stats::zero(ksub, dsub);
  if (n == 0) return s;
  // gather the sub-space (n × dsub) so that assign_nearest sees contiguous rows
  std::vector<float> sub(n * dsub);
  for (std::size_t i = 0; i < n; ++i) std::memcpy(sub.data() + i * dsub, x + i * d + m * dsub, dsub * sizeof(float));
  std::vector<std::uint32_t> labels(n);
  std::vector<float> dists(n);
  assign_nearest(sub.data(), n, centroids, ksub, dsub, labels.data(), dists.data());
  accumulate(s, sub.data(), n, dsub, 0, labels.data(), dists.data());
  return s;
}

void merge_kmeans_stats(kmeans_stats& into, const kmeans_stats& from) {
  IVF_ASSERT(into.k == from.k && into.d == from.d);
  const std::size_t d = into.d;
  for (std::size_t i = 0; i < into.sums.size(); ++i) into.sums[i] += from.sums[i];
  for (std::size_t j = 0; j < into.k; ++j) {
    into.counts[j] += from.counts[j];
    if (from.far_dist[j] > into.far_dist[j]) {  // strict: the earlier shard wins ties
      into.far_dist[j] = from.far_dist[j];
      std::memcpy(into.far_row.data() + j * d, from.far_row.data() + j * d, d * sizeof(float));
    }
  }
  into.objective += from.objective;
}

std::vector<float> kmeans_update(const kmeans_stats& total, const float* previous, bool spherical) {
  const std::size_t k = total.k, d = total.d;
  std::vector<float> out(previous, previous + k * d);
  std::vector<double> sums = total.sums;
  std::vector<std::uint64_t> counts = total.counts;
  std::vector<bool> donated(k, false);
  // empty-cluster repair: each empty cluster takes the farthest row of the largest cluster not yet
  // tapped this step (each cluster's farthest row is all the statistics carry)
  for (std::size_t j = 0; j < k; ++j) {
    if (total.counts[j] != 0) continue;
    std::size_t big = k;
    for (std::size_t c = 0; c < k; ++c)
      if (!donated[c] && counts[c] >= 2 && (big == k || counts[c] > counts[big])) big = c;
    if (big == k) continue;  // nothing left to split: keeps its previous position
    donated[big] = true;
    const float* far = total.far_row.data() + big * d;
    for (std::size_t t = 0; t < d; ++t) {
      sums[big * d + t] -= far[t];
      sums[j * d + t] = far[t];
    }
    --counts[big];
    counts[j] = 1;
  }
  for (std::size_t j = 0; j < k; ++j) {
    if (counts[j] == 0) continue;
    const double inv = 1.0 / static_cast<double>(counts[j]);
    for (std::size_t t = 0; t < d; ++t) out[j * d + t] = static_cast<float>(sums[j * d + t] * inv);
  }
  if (spherical) {
    for (std::size_t j = 0; j < k; ++j) {
      double s = 0;
      for (std::size_t t = 0; t < d; ++t) s += double{out[j * d + t]} * out[j * d + t];
      if (s > 0) {
        const double inv = 1.0 / std::sqrt(s);
        for (std::size_t t = 0; t < d; ++t) out[j * d + t] = static_cast<float>(out[j * d + t] * inv);
      }
    }
  }
  return out;
}

distributed_kmeans_result distributed_kmeans(const std::vector<shard_view>& shards, std::size_t d,
                                             const std::vector<float>& init, std::size_t k,
                                             std::size_t iterations, bool spherical) {
  IVF_ASSERT(init.size() == k * d);
  distributed_kmeans_result r;
  r.centroids = init;
  for (std::size_t it = 0; it < iterations; ++it) {
    kmeans_stats total = kmeans_stats::zero(k, d);
    for (const auto& s : shards) merge_kmeans_stats(total, kmeans_local_stats(s.x, s.n, d, r.centroids.data(), k));
    r.objective = total.objective;
    r.centroids = kmeans_update(total, r.centroids.data(), spherical);
  }
  return r;
}

}  // namespace ivfstream::kernels
