#include "index/centroid_rebalance.hpp"

#include <algorithm>
#include <string>

#include "kernels/kernel_table.hpp"
#include "kernels/kmeans.hpp"

namespace ivfstream {

namespace {

double target_of(const std::vector<std::uint64_t>& sizes, const rebalance_options& opt) {
  if (opt.target_list_size != 0) return double(opt.target_list_size);
  std::uint64_t total = 0;
  for (auto s : sizes) total += s;
  return std::max(1.0, double(total) / double(std::max<std::size_t>(1, sizes.size())));
}

/// The plan in progress: centroids, the sample rows' nearest list and weight, per-list estimates.
/// Layouts: centroids_ lists × d row-major; label_/dist_/weight_ one per sample row; mass_/size_/
/// unsplittable_ one per list (indexed like centroids_).
class planner {
public:
  planner(const codebook_set& live, const std::vector<std::uint64_t>& sizes, const float* sample, std::size_t n,
          const rebalance_options& opt)
      : d_(live.dimension()), x_(sample), n_(n), opt_(opt), l2sqr_(kernels::default_kernels().l2sqr),
        centroids_(live.centroids()) {
    const std::size_t lists = sizes.size();
    label_.resize(n_);
    dist_.resize(n_);
    if (n_ > 0) kernels::assign_nearest(x_, n_, centroids_.data(), lists, d_, label_.data(), dist_.data());
    std::vector<std::size_t> rows(lists, 0);
    for (auto l : label_) ++rows[l];
    weight_.resize(n_);
    for (std::size_t i = 0; i < n_; ++i) weight_[i] = double(sizes[label_[i]]) / double(rows[label_[i]]);
    mass_.assign(lists, 0.0);
    size_.assign(lists, 0.0);
    for (std::size_t l = 0; l < lists; ++l) {
      if (rows[l] == 0) mass_[l] = double(sizes[l]);  // entries but no sample row: a point mass at the centroid
      size_[l] = double(sizes[l]);
    }
    unsplittable_.assign(lists, 0);
  }

  void run(rebalance_report& rep) {
    const double hi = opt_.split_factor * double(rep.target), lo = opt_.merge_factor * double(rep.target);
    for (std::size_t step = 0; step < opt_.max_steps; ++step) {
      const std::size_t lists = size_.size();
      std::size_t big = lists, small = lists;
      for (std::size_t l = 0; l < lists; ++l) {
        if (size_[l] > hi && !unsplittable_[l] && (big == lists || size_[l] > size_[big])) big = l;
        if (size_[l] < lo && (small == lists || size_[l] < size_[small])) small = l;
      }
      if (big != lists) {
        if (split(static_cast<std::uint32_t>(big), lo, rep.splits)) ++rep.splits;
        else unsplittable_[big] = 1;
        continue;
      }
      if (small != lists && lists > 1) {
        merge(static_cast<std::uint32_t>(small));
        ++rep.merges;
        continue;
      }
      break;
    }
  }

  const std::vector<float>& centroids() const { return centroids_; }
  const std::vector<double>& sizes() const { return size_; }

private:
  std::size_t lists() const { return size_.size(); }
  const float* row(std::size_t i) const { return x_ + i * d_; }
  const float* centroid(std::size_t l) const { return &centroids_[l * d_]; }

  void move_row(std::size_t i, std::uint32_t to, float dist) {
    size_[label_[i]] -= weight_[i];
    size_[to] += weight_[i];
    label_[i] = to;
    dist_[i] = dist;
  }

  /// 2-means of the given rows (indices into the sample), seeded.
  std::vector<float> two_means(const std::vector<std::size_t>& which, std::uint64_t seed) const {
    std::vector<float> rows(which.size() * d_);
    for (std::size_t j = 0; j < which.size(); ++j) std::copy_n(row(which[j]), d_, &rows[j * d_]);
    kernels::kmeans_options ko;
    ko.max_iterations = opt_.kmeans_iterations;
    ko.seed = seed;
    ko.max_points_per_centroid = 0;
    return kernels::kmeans(rows.data(), which.size(), d_, 2, ko).centroids;
  }

  /// Splits L when its rows have two distinct 2-means centroids and neither half would be merged at
  /// once (estimate ≥ lo); false otherwise (nothing changed). A lopsided first split (a far group of
  /// few rows, e.g. a list merged in earlier, against the dense rest) is retried on the larger half
  /// alone: splitting the dense core is what brings the list under the bound.
  bool split(std::uint32_t L, double lo, std::size_t splits_so_far) {
    std::vector<std::size_t> own;
    for (std::size_t i = 0; i < n_; ++i)
      if (label_[i] == L) own.push_back(i);
    std::vector<std::size_t> fit = own;
    std::vector<float> two;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fit.size() < 2) return false;
      two = two_means(fit, opt_.seed + splits_so_far);
      if (std::equal(two.begin(), two.begin() + d_, two.begin() + d_)) return false;
      std::vector<std::size_t> first, second;
      double half2 = 0;
      for (std::size_t i : own) {
        const bool to2 = l2sqr_(row(i), &two[d_], d_) < l2sqr_(row(i), &two[0], d_);
        if (to2) half2 += weight_[i];
        (to2 ? second : first).push_back(i);
      }
      const double half1 = size_[L] - half2;
      if (std::min(half1, half2) >= lo) break;
      if (attempt == 1) return false;
      fit = half1 >= half2 ? first : second;  // the dense part
    }
    const float* c1 = two.data();
    const float* c2 = c1 + d_;

    const auto m = static_cast<std::uint32_t>(lists());
    std::copy_n(c1, d_, &centroids_[L * d_]);
    centroids_.insert(centroids_.end(), c2, c2 + d_);
    mass_.push_back(0);
    size_.push_back(0);
    unsplittable_.push_back(0);
    // L's rows: nearest of all lists (L's centroid moved), in one batch. Other rows: only L's new
    // centroid or m can be nearer than their own.
    std::vector<std::uint32_t> label(own.size());
    std::vector<float> dist(own.size());
    assign_rows(own, label.data(), dist.data());
    for (std::size_t j = 0; j < own.size(); ++j) move_row(own[j], label[j], dist[j]);
    for (std::size_t i = 0; i < n_; ++i) {
      if (label_[i] == L) continue;
      const float dl = l2sqr_(row(i), centroid(L), d_), dm = l2sqr_(row(i), centroid(m), d_);
      if (dm < dist_[i] && dm <= dl) move_row(i, m, dm);
      else if (dl < dist_[i]) move_row(i, L, dl);
    }
    return true;
  }

  /// The nearest list to vector v other than `skip`, and its squared distance.
  std::pair<std::uint32_t, float> nearest_other(const float* v, std::uint32_t skip) const {
    std::uint32_t labels[2];
    float dists[2];
    kernels::nearest_centroids(v, 1, centroids_.data(), lists(), d_, 2, labels, dists);
    return labels[0] != skip ? std::make_pair(labels[0], dists[0]) : std::make_pair(labels[1], dists[1]);
  }

  /// Nearest list of each given sample row (indices), in one batch: labels, dists one per row.
  void assign_rows(const std::vector<std::size_t>& which, std::uint32_t* labels, float* dists) const {
    if (which.empty()) return;
    std::vector<float> rows(which.size() * d_);
    for (std::size_t j = 0; j < which.size(); ++j) std::copy_n(row(which[j]), d_, &rows[j * d_]);
    kernels::assign_nearest(rows.data(), which.size(), centroids_.data(), lists(), d_, labels, dists);
  }

  /// Removes S: its rows and point mass go to their nearest other list, then the last list takes S's index.
  void merge(std::uint32_t S) {
    std::vector<std::size_t> own;
    for (std::size_t i = 0; i < n_; ++i)
      if (label_[i] == S) own.push_back(i);
    if (!own.empty()) {  // the two nearest of each row in one batch; the first that is not S
      std::vector<float> rows(own.size() * d_);
      for (std::size_t j = 0; j < own.size(); ++j) std::copy_n(row(own[j]), d_, &rows[j * d_]);
      std::vector<std::uint32_t> two(own.size() * 2);
      std::vector<float> dists(own.size() * 2);
      kernels::nearest_centroids(rows.data(), own.size(), centroids_.data(), lists(), d_, 2, two.data(), dists.data());
      for (std::size_t j = 0; j < own.size(); ++j) {
        const std::size_t k = two[2 * j] != S ? 2 * j : 2 * j + 1;
        move_row(own[j], two[k], dists[k]);
      }
    }
    if (mass_[S] > 0) {
      const std::uint32_t to = nearest_other(centroid(S), S).first;
      mass_[to] += mass_[S];
      size_[to] += mass_[S];
    }
    const auto last = static_cast<std::uint32_t>(lists() - 1);
    if (S != last) {
      std::copy_n(centroid(last), d_, &centroids_[S * d_]);
      mass_[S] = mass_[last];
      size_[S] = size_[last];
      unsplittable_[S] = unsplittable_[last];
      for (auto& l : label_)
        if (l == last) l = S;
    }
    centroids_.resize(last * d_);
    mass_.pop_back();
    size_.pop_back();
    unsplittable_.pop_back();
  }

  std::size_t d_;
  const float* x_;
  std::size_t n_;
  const rebalance_options& opt_;
  float (*l2sqr_)(const float*, const float*, std::size_t);  // squared L2 of the dispatched ISA
  std::vector<float> centroids_;
  std::vector<std::uint32_t> label_;
  std::vector<float> dist_;
  std::vector<double> weight_;
  std::vector<double> mass_;
  std::vector<double> size_;
  std::vector<char> unsplittable_;
};

}  // namespace

bool lists_out_of_bounds(const std::vector<std::uint64_t>& sizes, const rebalance_options& opt) {
  const double target = target_of(sizes, opt);
  for (auto s : sizes) {
    if (double(s) > opt.split_factor * target) return true;
    if (sizes.size() > 1 && double(s) < opt.merge_factor * target) return true;
  }
  return false;
}

result<centroid_rebalance> plan_centroid_rebalance(const codebook_set& live, const std::vector<std::uint64_t>& sizes,
                                                   const float* sample, std::size_t n,
                                                   const rebalance_options& opt) {
  IVF_TRY(check_rebalance_settings(live.params(), opt));
  if (sizes.size() != live.num_partitions())
    return fail(errc::invalid_argument, "plan_centroid_rebalance: " + std::to_string(sizes.size()) +
                                            " list sizes for " + std::to_string(live.num_partitions()) + " lists");
  centroid_rebalance out;
  out.report.target = static_cast<std::size_t>(target_of(sizes, opt));
  planner plan(live, sizes, sample, n, opt);
  plan.run(out.report);
  out.estimated_sizes = plan.sizes();
  if (out.report.splits + out.report.merges == 0) return out;
  index_params p = live.params();
  p.num_partitions = plan.centroids().size() / p.dimension;
  auto next = codebook_set::from_parts(p, live.version() + 1, plan.centroids(), live.pq_codebooks(), live.rotation());
  if (!next) return std::move(next).error();
  out.codebooks = std::move(*next);
  return out;
}

}  // namespace ivfstream
