#include "actors/ingest_state.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ivfstream::actors {
namespace {

// Default training trigger: FAISS warns below 39 training vectors per list; PQ needs ≥ 2^nbits.
constexpr std::size_t k_train_vectors_per_list = 40;
constexpr std::size_t k_min_train_vectors = 1000;

}  // namespace

ingest_state::ingest_state(std::uint32_t num_partitions) : num_partitions_(num_partitions) {
  IVF_ASSERT(num_partitions >= 1);
}

status ingest_state::create_index(const index_params& p, std::size_t train_after) {
  if (params_) return fail(errc::invalid_argument, "create_index: the index already exists (dimension=" +
                                                       std::to_string(params_->dimension) + ")");
  IVF_TRY(p.validate());
  params_ = p;
  train_after_ = train_after != 0 ? train_after : default_train_after(p);
  return {};
}

std::size_t ingest_state::default_train_after(const index_params& p) {
  return std::max({k_train_vectors_per_list * p.num_partitions, p.ksub(), k_min_train_vectors});
}

routed_batch ingest_state::empty_batch() const {
  routed_batch b;
  b.updates.resize(num_partitions_);
  if (codebooks_)
    for (auto& u : b.updates) u.codebook_version = codebooks_->version();
  if (shadow_) {
    b.shadow_updates.resize(num_partitions_);
    for (auto& u : b.shadow_updates) u.codebook_version = shadow_->version();
  }
  return b;
}

void ingest_state::adopt(std::shared_ptr<const codebook_set> codebooks) {
  params_ = codebooks->params();
  if (train_after_ == 0) train_after_ = k_min_train_vectors;
  codebooks_ = std::move(codebooks);
  pending_.clear();
  route_.clear();
  counters_.buffered = 0;
}

void ingest_state::note_offset(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  auto& next = offsets_[{topic, partition}];
  next = std::max(next, offset + 1);
}

status ingest_state::route(const std::uint64_t* ids, const float* x, std::size_t n, routed_batch& out) {
  // Only the coarse assignment happens here (one GEMM for the batch); each partition PQ-encodes its
  // own share (codebook_set::encode_in_lists), so encoding runs on all partitions in parallel.
  const auto& cb = *codebooks_;
  const std::size_t d = cb.dimension();
  std::vector<float> prepared(n * d);
  IVF_TRY(cb.prepare_vectors(x, n, prepared.data()));
  std::vector<std::uint32_t> lists(n);
  cb.assign(prepared.data(), n, lists.data());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t p = lists[i] % num_partitions_;
    auto& u = out.updates[p];
    u.ids.push_back(ids[i]);
    u.lists.push_back(lists[i]);
    u.vectors.insert(u.vectors.end(), prepared.begin() + i * d, prepared.begin() + (i + 1) * d);
    auto [it, inserted] = route_.try_emplace(ids[i], p);
    if (!inserted && it->second != p) {
      out.updates[it->second].removes.push_back(ids[i]);
      it->second = p;
    }
  }
  if (shadow_) route_shadow(ids, prepared.data(), n, out);
  out.routed_vectors += n;
  counters_.routed += n;
  return {};
}

result<std::optional<routed_batch>> ingest_state::train_if_due() {
  if (!params_ || codebooks_ || pending_.empty() || pending_.size() < train_after_) return std::optional<routed_batch>();
  auto batch = train_on_buffer(nullptr, 0);
  if (!batch) return std::move(batch).error();
  return std::optional<routed_batch>(std::move(*batch));
}

std::vector<float> ingest_state::buffered_sample() const {
  if (!params_ || pending_.empty()) return {};
  const std::size_t d = params_->dimension;
  std::vector<std::uint64_t> ids;
  ids.reserve(pending_.size());
  for (const auto& kv : pending_) ids.push_back(kv.first);
  std::sort(ids.begin(), ids.end());
  std::vector<float> x(ids.size() * d);
  for (std::size_t i = 0; i < ids.size(); ++i) std::copy_n(pending_.at(ids[i]).data(), d, x.data() + i * d);
  // Buffered vectors passed upsert's checks, so preparing them cannot fail.
  if (!codebook_set::prepare_vectors(*params_, x.data(), ids.size(), x.data())) return {};
  return x;
}

result<routed_batch> ingest_state::train_on_buffer(const float* extra, std::size_t n_extra) {
  const auto& p = *params_;
  const std::size_t d = p.dimension;
  std::vector<std::uint64_t> ids;
  ids.reserve(pending_.size());
  for (const auto& kv : pending_) ids.push_back(kv.first);
  std::sort(ids.begin(), ids.end());  // deterministic training input whatever the hash order
  std::vector<float> x(ids.size() * d);
  for (std::size_t i = 0; i < ids.size(); ++i) std::copy_n(pending_[ids[i]].data(), d, x.data() + i * d);
  index_params tp = p;
  tp.train_threads = 1;  // inside an actor, training stays on the actor's own thread (index_params.hpp)
  const float* rows = extra ? extra : x.data();
  const std::size_t n = extra ? n_extra : ids.size();
  auto cb = trainer_ ? trainer_->train(tp, rows, n, n, 1) : codebook_set::train(tp, rows, n, 1);
  if (!cb) return std::move(cb).error();
  codebooks_ = std::move(*cb);
  routed_batch out = empty_batch();
  out.new_codebooks = codebooks_;
  if (!ids.empty()) {
    auto st = route(ids.data(), x.data(), ids.size(), out);
    if (!st) {  // a buffered vector that the codebooks refuse (e.g. zero under cosine): cannot happen
      codebooks_.reset();  // since upsert() validated it; keep the state consistent anyway
      route_.clear();
      return std::move(st).error();
    }
  }
  pending_.clear();
  counters_.buffered = 0;
  return out;
}

result<routed_batch> ingest_state::install(std::shared_ptr<const codebook_set> codebooks) {
  if (!params_) return fail(errc::not_trained, "install codebooks: call create_index first");
  if (codebooks_)
    return fail(errc::invalid_argument, "install codebooks: the index is already trained (codebook version " +
                                            std::to_string(codebooks_->version()) + ")");
  const index_params& have = *params_;
  IVF_TRY(check_codebook_layout(codebooks->params(), have, "install codebooks"));
  const std::size_t d = have.dimension;
  std::vector<std::uint64_t> ids;
  ids.reserve(pending_.size());
  for (const auto& kv : pending_) ids.push_back(kv.first);
  std::sort(ids.begin(), ids.end());
  std::vector<float> x(ids.size() * d);
  for (std::size_t i = 0; i < ids.size(); ++i) std::copy_n(pending_[ids[i]].data(), d, x.data() + i * d);
  codebooks_ = std::move(codebooks);
  routed_batch out = empty_batch();
  out.new_codebooks = codebooks_;
  if (!ids.empty()) {
    if (auto st = route(ids.data(), x.data(), ids.size(), out); !st) {
      codebooks_.reset();  // a buffered vector these codebooks refuse: keep the state consistent
      route_.clear();
      return std::move(st).error();
    }
  }
  pending_.clear();
  counters_.buffered = 0;
  return out;
}

result<routed_batch> ingest_state::train(const float* x, std::size_t n) {
  if (!params_) return fail(errc::not_trained, "train: call create_index first");
  if (codebooks_) return fail(errc::invalid_argument, "train: the index is already trained (codebook version " +
                                                          std::to_string(codebooks_->version()) + ")");
  return train_on_buffer(x, n);
}

status ingest_state::check_upsert(const std::uint64_t* ids, const float* x, std::size_t n, std::size_t d) const {
  if (!params_) return fail(errc::not_trained, "upsert: no index; call create_index first");
  if (d != params_->dimension)
    return fail(errc::dimension_mismatch, "upsert dimension=" + std::to_string(d) + ": the index has dimension " +
                                              std::to_string(params_->dimension));
  for (std::size_t i = 0; i < n * d; ++i)
    if (!std::isfinite(x[i]))
      return fail(errc::non_finite, "upsert id=" + std::to_string(ids[i / d]) + ": component " +
                                        std::to_string(i % d) + " is NaN or Inf");
  if (params_->metric == metric::cosine)
    for (std::size_t i = 0; i < n; ++i)
      if (std::all_of(x + i * d, x + (i + 1) * d, [](float v) { return v == 0.f; }))
        return fail(errc::invalid_argument, "upsert id=" + std::to_string(ids[i]) +
                                                ": a zero vector has no direction under metric=cosine");
  return {};
}

result<routed_batch> ingest_state::upsert(const std::uint64_t* ids, const float* x, std::size_t n, std::size_t d) {
  if (auto st = check_upsert(ids, x, n, d); !st) {
    ++counters_.rejected;
    return std::move(st).error();
  }
  // Last occurrence of each id wins.
  std::unordered_map<std::uint64_t, std::size_t> last;
  last.reserve(n);
  for (std::size_t i = 0; i < n; ++i) last[ids[i]] = i;
  std::vector<std::size_t> keep;
  keep.reserve(last.size());
  for (std::size_t i = 0; i < n; ++i)
    if (last[ids[i]] == i) keep.push_back(i);
  counters_.upserts += n;

  if (!codebooks_) {
    for (std::size_t i : keep) pending_[ids[i]].assign(x + i * d, x + (i + 1) * d);
    counters_.buffered = pending_.size();
    if (pending_.size() >= train_after_) return train_on_buffer(nullptr, 0);
    return empty_batch();
  }
  routed_batch out = empty_batch();
  if (keep.size() == n) {
    IVF_TRY(route(ids, x, n, out));
  } else {
    std::vector<std::uint64_t> kid(keep.size());
    std::vector<float> kx(keep.size() * d);
    for (std::size_t j = 0; j < keep.size(); ++j) {
      kid[j] = ids[keep[j]];
      std::copy_n(x + keep[j] * d, d, kx.data() + j * d);
    }
    IVF_TRY(route(kid.data(), kx.data(), kid.size(), out));
  }
  return out;
}

result<routed_batch> ingest_state::remove(const std::uint64_t* ids, std::size_t n) {
  if (!params_) return fail(errc::not_trained, "remove: no index; call create_index first");
  routed_batch out = empty_batch();
  counters_.deletes += n;
  for (std::size_t i = 0; i < n; ++i) {
    if (pending_.erase(ids[i])) continue;
    auto it = route_.find(ids[i]);
    if (it == route_.end()) continue;
    out.updates[it->second].removes.push_back(ids[i]);
    route_.erase(it);
  }
  if (shadow_)  // the shadow's membership is not known here: every partition's shadow drops them
    for (std::size_t i = 0; i < n; ++i) {
      for (auto& u : out.shadow_updates) u.removes.push_back(ids[i]);
      shadow_route_.erase(ids[i]);
      shadow_touched_.insert(ids[i]);
    }
  counters_.buffered = pending_.size();
  return out;
}

}  // namespace ivfstream::actors
