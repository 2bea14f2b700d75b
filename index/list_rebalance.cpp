#include "index/list_rebalance.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "kernels/kmeans.hpp"

namespace ivfstream {

namespace {

std::string str(std::size_t v) { return std::to_string(v); }

/// One live entry being reconsidered: its id, vector-store row and current (list, slot).
struct entry {
  std::uint64_t id;
  std::uint64_t row;
  std::uint32_t list;
  std::uint32_t slot;
};

}  // namespace

status check_rebalance_settings(const index_params& p, const rebalance_options& opt) {
  // IMI: the cells are the fixed K × K grid of the two half codebooks; a list cannot be split or merged.
  if (p.imi())
    return fail(errc::invalid_argument, "rebalance_lists: coarse_quantizer=imi is not supported (its K² cells are "
                                        "fixed by the two half codebooks)");
  // LOPQ: a split or merge changes the lists, and with them the groups and their training sets; not done.
  if (p.lopq)
    return fail(errc::invalid_argument, "rebalance_lists: lopq=true is not supported (the per-group codebooks "
                                        "would have to be retrained); retrain instead");
  if (!(opt.split_factor > 1.0))
    return fail(errc::invalid_argument, "split_factor=" + std::to_string(opt.split_factor) + ": must be > 1");
  if (!(opt.merge_factor >= 0.0 && opt.merge_factor * 4.0 < opt.split_factor))
    return fail(errc::invalid_argument, "merge_factor=" + std::to_string(opt.merge_factor) +
                                            ": must be >= 0 and < split_factor / 4 (else a split's halves merge back)");
  return {};
}

/// Friend of ivfpq_index: the split and merge steps (see list_rebalance.hpp).
class list_rebalancer {
public:
  list_rebalancer(ivfpq_index& ix, const rebalance_options& opt, rebalance_report& rep)
      : ix_(ix), opt_(opt), rep_(rep) {}

  result<rebalance_report> run() {
    if (!ix_.trained()) return fail(errc::not_trained, "rebalance_lists before train: call train() first");
    IVF_TRY(check_rebalance_settings(ix_.params_, opt_));
    if (!ix_.store_ && ix_.size() > 0)
      return fail(errc::invalid_argument, "rebalance_lists: the index holds " + str(ix_.size()) +
                                              " vectors and keep_raw_vectors=false, so they cannot be re-encoded");
    rep_.target = opt_.target_list_size != 0 ? opt_.target_list_size
                                             : std::max<std::size_t>(1, ix_.size() / ix_.lists_.size());
    const double hi = opt_.split_factor * double(rep_.target), lo = opt_.merge_factor * double(rep_.target);
    std::set<std::uint64_t> unsplittable;  // first live id of lists whose 2-means found one point only
    for (std::size_t step = 0; step < opt_.max_steps; ++step) {
      std::uint32_t big = lists_count(), small = lists_count();
      for (std::uint32_t l = 0; l < lists_count(); ++l) {
        const std::size_t live = ix_.lists_[l].live();
        if (double(live) > hi && !unsplittable.count(first_live_id(l)) &&
            (big == lists_count() || live > ix_.lists_[big].live()))
          big = l;
        if (double(live) < lo && (small == lists_count() || live < ix_.lists_[small].live())) small = l;
      }
      if (big != lists_count()) {
        auto split_done = split(big);
        if (!split_done) return split_done.error();
        if (!*split_done) unsplittable.insert(first_live_id(big));
        continue;
      }
      if (small != lists_count() && lists_count() > 1) {
        IVF_TRY(merge(small));
        continue;
      }
      break;
    }
    return rep_;
  }

private:
  std::uint32_t lists_count() const { return static_cast<std::uint32_t>(ix_.lists_.size()); }

  std::uint64_t first_live_id(std::uint32_t l) const {
    const inverted_list& list = ix_.lists_[l];
    for (std::uint32_t s = 0; s < list.size(); ++s)
      if (list.is_live(s)) return list.id(s);
    return ~std::uint64_t{0};
  }

  void collect(std::uint32_t l, std::vector<entry>& out) const {
    const inverted_list& list = ix_.lists_[l];
    for (std::uint32_t s = 0; s < list.size(); ++s)
      if (list.is_live(s)) out.push_back({list.id(s), ix_.ids_.find(list.id(s))->row, l, s});
  }

  /// Rows (n × d, prepared) of the entries from the vector store.
  std::vector<float> rows_of(const std::vector<entry>& es) const {
    const std::size_t d = ix_.params_.dimension;
    std::vector<float> rows(es.size() * d);
    for (std::size_t i = 0; i < es.size(); ++i) std::copy_n(ix_.store_->row(es[i].row), d, &rows[i * d]);
    return rows;
  }

  /// New codebooks with these centroids (same PQ, rotation), version + 1; installs them and the params.
  status install(std::vector<float> centroids) {
    const codebook_set& cb = *ix_.codebooks_;
    index_params p = ix_.params_;
    p.num_partitions = centroids.size() / p.dimension;
    auto next = codebook_set::from_parts(p, cb.version() + 1, std::move(centroids), cb.pq_codebooks(), cb.rotation());
    if (!next) return std::move(next).error();
    ix_.codebooks_ = std::move(*next);
    ix_.params_ = p;
    return {};
  }

  /// Moves/re-encodes entries into `target` lists with the current codebooks: tombstone, append, id map.
  void place(const std::vector<entry>& es, const std::vector<float>& rows, const std::vector<std::uint32_t>& target,
             const std::vector<bool>& must_reencode) {
    const codebook_set& cb = *ix_.codebooks_;
    const std::size_t d = ix_.params_.dimension, cs = cb.code_size();
    std::vector<std::size_t> pick;
    for (std::size_t i = 0; i < es.size(); ++i)
      if (target[i] != es[i].list || must_reencode[i]) pick.push_back(i);
    if (pick.empty()) return;
    std::vector<float> sel(pick.size() * d);
    std::vector<std::uint32_t> lists(pick.size());
    for (std::size_t j = 0; j < pick.size(); ++j) {
      std::copy_n(&rows[pick[j] * d], d, &sel[j * d]);
      lists[j] = target[pick[j]];
    }
    std::vector<std::uint8_t> codes(pick.size() * cs);
    cb.encode_in_lists(sel.data(), pick.size(), lists.data(), codes.data());
    std::set<std::uint32_t> touched;
    for (std::size_t j = 0; j < pick.size(); ++j) {
      const entry& e = es[pick[j]];
      ix_.lists_[e.list].tombstone(e.slot);
      touched.insert(e.list);
      const std::uint32_t slot =
          ix_.lists_[lists[j]].append(e.id, &codes[j * cs], e.row, cb.entry_term(lists[j], &codes[j * cs]));
      ix_.ids_.upsert(e.id, {lists[j], slot, e.row});
      rep_.moved += lists[j] != e.list;
      ++rep_.reencoded;
    }
    for (std::uint32_t l : touched) ix_.compact_list(l);
  }

  /// Splits list L; false when its entries cannot be told apart (2-means found a single point).
  result<bool> split(std::uint32_t L) {
    const std::size_t d = ix_.params_.dimension;
    std::vector<entry> own;
    collect(L, own);
    // seeded sample of at most sample_size rows for the 2-means
    std::vector<entry> sample = own;
    if (sample.size() > opt_.sample_size) {
      std::vector<entry> picked;
      const double stride = double(sample.size()) / double(opt_.sample_size);
      for (std::size_t i = 0; i < opt_.sample_size; ++i) picked.push_back(sample[std::size_t(double(i) * stride)]);
      sample.swap(picked);
    }
    const std::vector<float> srows = rows_of(sample);
    kernels::kmeans_options ko;
    ko.max_iterations = opt_.kmeans_iterations;
    ko.seed = opt_.seed + rep_.splits;
    ko.max_points_per_centroid = 0;
    const auto two = kernels::kmeans(srows.data(), sample.size(), d, 2, ko);
    if (std::equal(two.centroids.begin(), two.centroids.begin() + d, two.centroids.begin() + d)) return false;

    std::vector<float> centroids = ix_.codebooks_->centroids();
    std::copy_n(two.centroids.begin(), d, centroids.begin() + L * d);
    centroids.insert(centroids.end(), two.centroids.begin() + d, two.centroids.end());
    IVF_TRY(install(std::move(centroids)));
    ix_.lists_.push_back(ix_.empty_list());

    // boundary: L and its nearest lists (by the new centroid of L)
    const std::size_t count = std::min<std::size_t>(opt_.neighbours + 1, lists_count());
    std::vector<std::uint32_t> near(count);
    std::vector<float> near_d(count);
    const auto& cents = ix_.codebooks_->centroids();
    kernels::nearest_centroids(&cents[L * d], 1, cents.data(), lists_count(), d, count, near.data(), near_d.data());
    std::vector<entry> es = std::move(own);
    for (std::uint32_t l : near)
      if (l != L) collect(l, es);
    const std::vector<float> rows = rows_of(es);
    std::vector<std::uint32_t> target(es.size());
    ix_.codebooks_->assign(rows.data(), es.size(), target.data());
    std::vector<bool> reencode(es.size());
    for (std::size_t i = 0; i < es.size(); ++i) reencode[i] = es[i].list == L;  // L's centroid moved
    place(es, rows, target, reencode);
    ++rep_.splits;
    return true;
  }

  /// Merges list S into its nearest lists, then closes the gap with the last list.
  status merge(std::uint32_t S) {
    const std::size_t d = ix_.params_.dimension, n = lists_count();
    std::vector<entry> es;
    collect(S, es);
    if (!es.empty()) {
      const std::vector<float> rows = rows_of(es);
      std::vector<std::uint32_t> two(es.size() * 2), target(es.size());
      std::vector<float> dist(es.size() * 2);
      const auto& cents = ix_.codebooks_->centroids();
      kernels::nearest_centroids(rows.data(), es.size(), cents.data(), n, d, 2, two.data(), dist.data());
      for (std::size_t i = 0; i < es.size(); ++i) target[i] = two[2 * i] != S ? two[2 * i] : two[2 * i + 1];
      place(es, rows, target, std::vector<bool>(es.size(), false));
    }
    ix_.compact_list(S);
    const std::uint32_t last = static_cast<std::uint32_t>(n - 1);
    std::vector<float> centroids = ix_.codebooks_->centroids();
    if (S != last) {
      ix_.lists_[S] = std::move(ix_.lists_[last]);
      std::copy_n(centroids.begin() + last * d, d, centroids.begin() + S * d);
      const inverted_list& moved = ix_.lists_[S];
      for (std::uint32_t s = 0; s < moved.size(); ++s)
        if (moved.is_live(s)) {
          const auto loc = ix_.ids_.find(moved.id(s));
          ix_.ids_.upsert(moved.id(s), {S, s, loc->row});
        }
    }
    ix_.lists_.pop_back();
    centroids.resize(last * d);
    IVF_TRY(install(std::move(centroids)));
    ++rep_.merges;
    return {};
  }

  ivfpq_index& ix_;
  const rebalance_options& opt_;
  rebalance_report& rep_;
};

result<rebalance_report> rebalance_lists(ivfpq_index& index, const rebalance_options& opt) {
  rebalance_report rep;
  return list_rebalancer(index, opt, rep).run();
}

}  // namespace ivfstream
