#include "index/code_carry.hpp"

#include <cmath>
#include <cstring>
#include <unordered_map>

#include "kernels/assert.hpp"

namespace ivfstream {

namespace {

/// FNV-1a over a centroid's bytes: a key to find bit-identical centroids (matches are compared in full).
std::uint64_t bytes_hash(const float* c, std::size_t d) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(c);
  for (std::size_t i = 0; i < d * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/// Index into `to` (k rows of d) of a row bit-identical to c, or code_carry::k_gone.
class centroid_finder {
public:
  centroid_finder(const float* rows, std::size_t k, std::size_t d) : rows_(rows), d_(d) {
    by_hash_.reserve(k);
    for (std::size_t l = 0; l < k; ++l) by_hash_.emplace(bytes_hash(rows + l * d, d), static_cast<std::uint32_t>(l));
  }
  std::uint32_t find(const float* c) const {
    auto [first, last] = by_hash_.equal_range(bytes_hash(c, d_));
    for (auto it = first; it != last; ++it)
      if (std::memcmp(rows_ + std::size_t{it->second} * d_, c, d_ * sizeof(float)) == 0) return it->second;
    return code_carry::k_gone;
  }

private:
  const float* rows_;
  std::size_t d_;
  std::unordered_multimap<std::uint64_t, std::uint32_t> by_hash_;
};

/// Whether a code of `a` means the same residual under `b`: same layout and the same PQ side.
bool same_codes(const codebook_set& a, const codebook_set& b) {
  const index_params &p = a.params(), &q = b.params();
  return p.dimension == q.dimension && p.metric == q.metric && p.num_sub_vectors == q.num_sub_vectors &&
         p.num_bits == q.num_bits && p.quantizer == q.quantizer && a.code_size() == b.code_size() &&
         !a.imi() && !b.imi() && !a.local() && !b.local() && a.pq_codebooks() == b.pq_codebooks() &&
         a.rotation() == b.rotation();
}

}  // namespace

std::shared_ptr<const code_carry> code_carry::between(const codebook_set& live,
                                                      std::shared_ptr<const codebook_set> next) {
  if (!next || !same_codes(live, *next)) return nullptr;
  const std::size_t d = live.dimension(), nl = live.num_partitions(), nn = next->num_partitions();
  const float* lc = live.centroids().data();
  const float* nc = next->centroids().data();
  std::shared_ptr<code_carry> c(new code_carry());
  c->live_version_ = live.version();
  c->kept_.resize(nl);
  const centroid_finder in_next(nc, nn, d);
  std::size_t kept = 0;
  for (std::size_t l = 0; l < nl; ++l) kept += (c->kept_[l] = in_next.find(lc + l * d)) != k_gone;
  if (kept == 0) return nullptr;
  const centroid_finder in_live(lc, nl, d);
  c->kept_row_.assign(nn, k_gone);
  std::uint32_t rows = 0;
  for (std::size_t j = 0; j < nn; ++j) {
    if (in_live.find(nc + j * d) == k_gone) c->changed_.push_back(static_cast<std::uint32_t>(j));
    else c->kept_row_[j] = rows++;
  }
  if (std::size_t{rows} * c->changed_.size() > k_max_gap_floats) return nullptr;
  const auto l2 = next->kernels().l2sqr;
  const std::size_t nch = c->changed_.size();
  c->half_gap_.resize(std::size_t{rows} * nch);
  for (std::size_t j = 0; j < nn && nch > 0; ++j) {  // nch = 0 (merges only): no table, nothing to prune
    if (c->kept_row_[j] == k_gone) continue;
    float* row = c->half_gap_.data() + std::size_t{c->kept_row_[j]} * nch;
    for (std::size_t h = 0; h < nch; ++h)
      row[h] = 0.5f * std::sqrt(l2(nc + j * d, nc + std::size_t{c->changed_[h]} * d, d));
  }
  c->next_ = std::move(next);
  return c;
}

code_carry::counts code_carry::apply(const float* x, std::size_t n, const std::uint32_t* live_lists,
                                     const std::uint8_t* live_codes, std::uint32_t* lists, std::uint8_t* codes) const {
  const auto next = next_.lock();
  IVF_ASSERT(next != nullptr);
  const codebook_set& cb = *next;
  const std::size_t d = cb.dimension(), cs = cb.code_size(), nch = changed_.size();
  const float* centroids = cb.centroids().data();
  const auto l2 = cb.kernels().l2sqr;
  // Entries to encode again: first those whose centroid is gone (assigned among all next lists), then
  // those a changed centroid took (list known).
  std::vector<std::size_t> gone, taken;
  counts out;
  for (std::size_t i = 0; i < n; ++i) {
    IVF_ASSERT(live_lists[i] < kept_.size());
    const std::uint32_t k = kept_[live_lists[i]];
    if (k == k_gone) {
      gone.push_back(i);
      continue;
    }
    const float* xi = x + i * d;
    float best = l2(xi, centroids + std::size_t{k} * d, d);
    const float radius = std::sqrt(best);  // c_j with ½‖c_k − c_j‖ ≥ radius is no nearer than c_k
    const float* gap = nch > 0 ? half_gap_.data() + std::size_t{kept_row_[k]} * nch : nullptr;
    std::uint32_t to = k;
    for (std::size_t h = 0; h < nch; ++h) {
      if (gap[h] >= radius) continue;
      const float dj = l2(xi, centroids + std::size_t{changed_[h]} * d, d);
      if (dj < best) {
        best = dj;
        to = changed_[h];
      }
    }
    lists[i] = to;
    if (to == k) {
      std::memcpy(codes + i * cs, live_codes + i * cs, cs);
      ++out.carried;
    } else {
      taken.push_back(i);
    }
  }
  const std::size_t m = gone.size() + taken.size();
  out.reencoded = m;
  if (m == 0) return out;
  // Gathered rows (m × d), their lists and codes, in the order gone then taken.
  std::vector<float> rows(m * d);
  std::vector<std::uint32_t> redo_lists(m);
  std::vector<std::uint8_t> redo_codes(m * cs);
  std::size_t r = 0;
  for (std::size_t i : gone) std::memcpy(&rows[r++ * d], x + i * d, d * sizeof(float));
  if (!gone.empty()) cb.assign(rows.data(), gone.size(), redo_lists.data());
  for (std::size_t i : taken) {
    redo_lists[r] = lists[i];
    std::memcpy(&rows[r++ * d], x + i * d, d * sizeof(float));
  }
  cb.encode_in_lists(rows.data(), m, redo_lists.data(), redo_codes.data());
  r = 0;
  for (const auto* group : {&gone, &taken})
    for (std::size_t i : *group) {
      lists[i] = redo_lists[r];
      std::memcpy(codes + i * cs, &redo_codes[r * cs], cs);
      ++r;
    }
  return out;
}

}  // namespace ivfstream
