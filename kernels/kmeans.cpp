#include "kernels/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <thread>
#include <utility>

#include "kernels/assert.hpp"
#include "kernels/gemm.hpp"
#include "kernels/internal/step_barrier.hpp"
#include "kernels/internal/gemm_onednn.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/parallel_for.hpp"

namespace ivfstream::kernels {

namespace {

constexpr std::size_t k_scratch_floats = std::size_t{1} << 20;  // 4 MiB of inner products per block

/// Deterministic, platform-independent generator (splitmix64).
class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, bound); bound >= 1.
  std::size_t below(std::size_t bound) { return static_cast<std::size_t>(uniform() * static_cast<double>(bound)); }

 private:
  std::uint64_t state_;
};

void row_norms(const float* x, std::size_t n, std::size_t d, float* out) {
  const auto& kt = default_kernels();
  for (std::size_t i = 0; i < n; ++i) out[i] = kt.inner_product(x + i * d, x + i * d, d);
}

std::size_t block_rows(std::size_t n, std::size_t k) {
  return std::max<std::size_t>(1, std::min(n, k_scratch_floats / k));
}

using product_fn = void (*)(const float*, std::size_t, const float*, std::size_t, std::size_t, float*, int);

/// assign_nearest with precomputed ‖x_i‖² (x_norms) and ‖c_j‖² (c_norms); product is matmul_nt
/// (row-stable: public entry points) or detail::matmul_nt_onednn (Lloyd iterations).
void assign_with_norms(const float* x, const float* x_norms, std::size_t n, const float* centroids,
                       const float* c_norms, std::size_t k, std::size_t d, std::uint32_t* labels,
                       float* dists, int max_threads, product_fn product) {
  const std::size_t bn = block_rows(n, k);
  std::vector<float> ip(bn * k), best(bn);
  const auto& kt = default_kernels();
  for (std::size_t i0 = 0; i0 < n; i0 += bn) {
    const std::size_t rows = std::min(bn, n - i0);
    product(x + i0 * d, rows, centroids, k, d, ip.data(), max_threads);
    kt.nearest_from_ip(ip.data(), rows, k, c_norms, labels + i0, best.data());
    if (dists != nullptr)
      for (std::size_t r = 0; r < rows; ++r) dists[i0 + r] = std::max(0.f, x_norms[i0 + r] + best[r]);
  }
}

void normalise_rows(float* c, std::size_t k, std::size_t d) {
  for (std::size_t j = 0; j < k; ++j) {
    float* row = c + j * d;
    double s = 0;
    for (std::size_t t = 0; t < d; ++t) s += double{row[t]} * row[t];
    if (s > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(s));
      for (std::size_t t = 0; t < d; ++t) row[t] *= inv;
    }
  }
}

/// k-means++ seeding on the n rows of x; writes k × d centroids. Each step updates min_d (the D² weight of
/// every point) and the per-256-point block sums for the newest seed, then the calling thread samples the
/// next seed from the sums, then within one block.
/// The passes run on `device` when it is given and loads the rows; otherwise (and from the step where the
/// device fails, after replaying the seeds placed so far) on the CPU: the points are split into `team`
/// contiguous ranges of whole 256-point blocks, each stored transposed (range r: d × len_r, element
/// [t·len_r + i] = coordinate t of its point i), one vectorised pass per range and thread
/// (kernel_table::kmeanspp_update). Ranges end on block boundaries, so min_d, the sums and hence every pick
/// are the same whatever the number of threads (up to resolve_threads(max_threads); small inputs stay on one).
void kmeans_pp(const float* x, std::size_t n, std::size_t d, std::size_t k, splitmix64& rng, int max_threads,
               kmeanspp_device* device, float* centroids) {
  constexpr std::size_t block = 256;
  const std::size_t nblocks = (n + block - 1) / block;
  std::vector<float> min_d(n, std::numeric_limits<float>::infinity()), block_sums(nblocks);
  std::vector<std::size_t> seeds;  // row index of every seed placed so far
  seeds.reserve(k);
  const auto place = [&](std::size_t pick) {
    std::memcpy(centroids + seeds.size() * d, x + pick * d, d * sizeof(float));
    seeds.push_back(pick);
  };
  // Places the next seed by D² sampling over the current min_d (block sums first, then one block).
  const auto pick_next = [&] {
    double total = 0;
    for (float s : block_sums) total += s;
    if (!(total > 0)) return place(rng.below(n));  // every point coincides with a seed: duplicates only
    const double r = rng.uniform() * total;
    double acc = 0;
    std::size_t b = 0;
    while (b + 1 < nblocks && acc + block_sums[b] <= r) acc += block_sums[b++];
    const std::size_t end = std::min(n, (b + 1) * block);
    std::size_t pick = n;
    for (std::size_t i = b * block; i < end; ++i) {
      acc += min_d[i];
      if (min_d[i] > 0) {
        pick = i;
        if (acc > r) break;
      }
    }
    if (pick == n) {  // rounding left the chosen block without weight: the last point with weight
      for (std::size_t i = n; i-- > 0;)
        if (min_d[i] > 0) {
          pick = i;
          break;
        }
    }
    place(pick);
  };

  place(rng.below(n));
  if (device != nullptr && device->load(x, n, d)) {
    while (seeds.size() < k) {
      if (!device->update(seeds.back(), min_d.data(), block_sums.data())) break;
      pick_next();
    }
    if (seeds.size() == k) return;
    std::fill(min_d.begin(), min_d.end(), std::numeric_limits<float>::infinity());  // replayed below
  }

  const auto& kt = default_kernels();
  constexpr std::size_t k_min_floats_per_thread = std::size_t{1} << 18;  // 1 MiB read per step and thread
  std::size_t team = std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(max_threads)), nblocks);
  team = std::max<std::size_t>(1, std::min(team, n * d / k_min_floats_per_thread));
  std::vector<std::size_t> first_block(team + 1);  // range r: blocks [first_block[r], first_block[r + 1])
  for (std::size_t r = 0; r <= team; ++r) first_block[r] = nblocks * r / team;
  const auto range_begin = [&](std::size_t r) { return std::min(n, first_block[r] * block); };
  std::vector<std::vector<float>> xt(team);  // allocated here: nothing below throws on the worker threads
  for (std::size_t r = 0; r < team; ++r) xt[r].resize((range_begin(r + 1) - range_begin(r)) * d);
  const std::size_t placed = seeds.size();  // > 1 only when a device failed: replay those seeds' passes

  internal::step_barrier barrier(team);
  const auto member = [&](std::size_t r) {
    const std::size_t i0 = range_begin(r), len = range_begin(r + 1) - i0;
    float* t_rows = xt[r].data();
    for (std::size_t i = 0; i < len; ++i)
      for (std::size_t t = 0; t < d; ++t) t_rows[t * len + i] = x[(i0 + i) * d + t];
    for (std::size_t c = 0; c + 1 < k; ++c) {
      barrier.wait();  // seed c is placed
      kt.kmeanspp_update(t_rows, len, d, centroids + c * d, min_d.data() + i0,
                         block_sums.data() + first_block[r]);
      barrier.wait();  // every range is updated
      if (r == 0 && c + 1 >= placed) pick_next();
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(team - 1);
  for (std::size_t r = 1; r < team; ++r) helpers.emplace_back(member, r);
  member(0);
  for (auto& h : helpers) h.join();
}

/// Seeded uniform sample of `count` distinct row indices of [0, n), ascending.
std::vector<std::size_t> sample_indices(std::size_t n, std::size_t count, splitmix64& rng) {
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  for (std::size_t i = 0; i < count; ++i) std::swap(perm[i], perm[i + rng.below(n - i)]);
  perm.resize(count);
  std::sort(perm.begin(), perm.end());
  return perm;
}

std::vector<float> gather_rows(const float* x, std::size_t d, const std::vector<std::size_t>& rows) {
  std::vector<float> out(rows.size() * d);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(out.data() + i * d, x + rows[i] * d, d * sizeof(float));
  return out;
}

}  // namespace

void assign_nearest(const float* x, std::size_t n, const float* centroids, std::size_t k, std::size_t d,
                    std::uint32_t* labels, float* dists, int max_threads) {
  IVF_ASSERT(k >= 1);
  if (n == 0) return;
  std::vector<float> x_norms(n), c_norms(k);
  row_norms(x, n, d, x_norms.data());
  row_norms(centroids, k, d, c_norms.data());
  assign_with_norms(x, x_norms.data(), n, centroids, c_norms.data(), k, d, labels, dists, max_threads, &matmul_nt);
}

void nearest_centroids(const float* x, std::size_t n, const float* centroids, std::size_t k, std::size_t d,
                       std::size_t count, std::uint32_t* out_labels, float* out_dists, int max_threads) {
  IVF_ASSERT(count >= 1 && count <= k);
  if (n == 0) return;
  std::vector<float> c_norms(k);
  row_norms(centroids, k, d, c_norms.data());
  const std::size_t bn = block_rows(n, k);
  std::vector<float> ip(bn * k);
  std::vector<std::pair<float, std::uint32_t>> cand(k);
  const auto& kt = default_kernels();
  for (std::size_t i0 = 0; i0 < n; i0 += bn) {
    const std::size_t rows = std::min(bn, n - i0);
    matmul_nt(x + i0 * d, rows, centroids, k, d, ip.data(), max_threads);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* xi = x + (i0 + r) * d;
      const float xn = kt.inner_product(xi, xi, d);
      const float* row = ip.data() + r * k;
      for (std::size_t j = 0; j < k; ++j)
        cand[j] = {std::max(0.f, xn + c_norms[j] - 2.f * row[j]), static_cast<std::uint32_t>(j)};
      std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(count), cand.end());
      for (std::size_t t = 0; t < count; ++t) {
        out_labels[(i0 + r) * count + t] = cand[t].second;
        out_dists[(i0 + r) * count + t] = cand[t].first;
      }
    }
  }
}

kmeans_start kmeans_initialise(const float* x, std::size_t n, std::size_t d, std::size_t k,
                               const kmeans_options& opt, kmeanspp_device* device) {
  IVF_ASSERT(k >= 1 && k <= n && d >= 1);
  splitmix64 rng(opt.seed);
  kmeans_start start;

  // training set
  const std::size_t max_train =
      opt.max_points_per_centroid == 0 ? n : std::max(k, k * opt.max_points_per_centroid);
  const float* train = x;
  std::size_t nt = n;
  if (n > max_train) {
    start.sampled = gather_rows(x, d, sample_indices(n, max_train, rng));
    train = start.sampled.data();
    nt = max_train;
  }
  start.source = x;
  start.rows = nt;

  // k-means++ on at most 16·k rows of the training set, or k distinct training rows
  start.centroids.resize(k * d);
  float* cent = start.centroids.data();
  const std::size_t n_init = std::min(nt, std::max<std::size_t>(16 * k, 1));
  if (opt.init == kmeans_init::random_rows) {
    const std::vector<std::size_t> picked = sample_indices(nt, k, rng);
    for (std::size_t j = 0; j < k; ++j) std::memcpy(cent + j * d, train + picked[j] * d, d * sizeof(float));
  } else if (n_init < nt) {
    const auto rows = gather_rows(train, d, sample_indices(nt, n_init, rng));
    kmeans_pp(rows.data(), n_init, d, k, rng, opt.max_threads, device, cent);
  } else {
    kmeans_pp(train, nt, d, k, rng, opt.max_threads, device, cent);
  }
  if (opt.spherical) normalise_rows(cent, k, d);
  return start;
}

kmeans_result kmeans(const float* x, std::size_t n, std::size_t d, std::size_t k, const kmeans_options& opt) {
  kmeans_start start = kmeans_initialise(x, n, d, k, opt);
  const float* train = start.train();
  const std::size_t nt = start.rows;
  kmeans_result result;
  result.centroids = std::move(start.centroids);
  float* cent = result.centroids.data();

  std::vector<float> x_norms(nt), c_norms(k), dists(nt);
  std::vector<std::uint32_t> labels(nt);
  std::vector<double> sums(k * d);
  std::vector<std::size_t> counts(k);
  row_norms(train, nt, d, x_norms.data());

  double previous = std::numeric_limits<double>::infinity();
  bool repaired = false;
  for (std::size_t it = 0;; ++it) {
    row_norms(cent, k, d, c_norms.data());
    assign_with_norms(train, x_norms.data(), nt, cent, c_norms.data(), k, d, labels.data(), dists.data(),
                      opt.max_threads, &detail::matmul_nt_onednn);
    double objective = 0;
    for (std::size_t i = 0; i < nt; ++i) objective += dists[i];
    result.objective = objective;
    if (it == opt.max_iterations) break;
    if (objective == 0) break;  // every point sits on its centroid
    // converged: < 1e-4 relative improvement (after a repair, only when nothing improved at all, as a
    // repair may first raise the objective)
    if (std::isfinite(previous) && previous - objective < 1e-4 * previous && (!repaired || objective >= previous))
      break;
    previous = objective;

    // update
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), std::size_t{0});
    const auto& kt = default_kernels();
    for (std::size_t i = 0; i < nt; ++i) {
      const std::size_t j = labels[i];
      ++counts[j];
      kt.accumulate_f64(sums.data() + j * d, train + i * d, d);
    }
    // empty-cluster repair: the empty centroid takes the farthest point of the largest cluster
    repaired = false;
    for (std::size_t j = 0; j < k; ++j) {
      if (counts[j] != 0) continue;
      const std::size_t big = static_cast<std::size_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
      if (counts[big] <= 1) continue;  // nothing to split (cannot happen when k <= n)
      std::size_t far = nt;
      for (std::size_t i = 0; i < nt; ++i)
        if (labels[i] == big && (far == nt || dists[i] > dists[far])) far = i;
      const float* xf = train + far * d;
      double* sb = sums.data() + big * d;
      double* sj = sums.data() + j * d;
      for (std::size_t t = 0; t < d; ++t) {
        sb[t] -= xf[t];
        sj[t] = xf[t];
      }
      --counts[big];
      counts[j] = 1;
      labels[far] = static_cast<std::uint32_t>(j);
      dists[far] = 0;
      repaired = true;
    }
    for (std::size_t j = 0; j < k; ++j) {
      if (counts[j] == 0) continue;  // keeps its previous position
      const double inv = 1.0 / static_cast<double>(counts[j]);
      const double* s = sums.data() + j * d;
      float* c = cent + j * d;
      for (std::size_t t = 0; t < d; ++t) c[t] = static_cast<float>(s[t] * inv);
    }
    if (opt.spherical) normalise_rows(cent, k, d);
    result.iterations = it + 1;
  }
  return result;
}

}  // namespace ivfstream::kernels
