#include "actors/partition_state.hpp"

#include <algorithm>
#include <cstring>

#include "actors/internal/durable_file.hpp"
#include "index/list_scan.hpp"
#include "kernels/topk.hpp"
#include "schemas/partition_snapshot_generated.h"

namespace ivfstream::actors {
namespace {

constexpr std::uint32_t k_partition_snapshot_version = 1;
// A list is compacted once tombstones outnumber live entries (and there are enough to matter).
constexpr std::size_t k_compact_min_tombstones = 64;

}  // namespace

partition_state::partition_state(std::uint32_t index, std::uint32_t count, const kernels::kernel_table& kernels)
    : index_(index), count_(count), kernels_(&kernels) {
  IVF_ASSERT(count >= 1 && index < count);
}

status partition_state::install(std::shared_ptr<const codebook_set> codebooks) {
  IVF_ASSERT(codebooks != nullptr);
  const auto& p = codebooks->params();
  const std::size_t nlist = p.num_partitions;
  const std::size_t owned = nlist > index_ ? (nlist - index_ + count_ - 1) / count_ : 0;
  std::unique_ptr<vector_store> store;
  if (p.keep_raw_vectors) {
    auto s = vector_store::create("", p.dimension);
    if (!s) return std::move(s).error();
    store = std::move(*s);
  }
  codebooks_ = std::move(codebooks);
  other_.reset();
  is_shadow_ = false;
  touched_.clear();
  lists_.clear();
  lists_.reserve(owned);
  for (std::size_t j = 0; j < owned; ++j) lists_.emplace_back(codebooks_->code_size(), 0, false, codebooks_->entry_terms());
  ids_.clear();
  vectors_ = std::move(store);
  return {};
}

void partition_state::erase(std::uint64_t id) {
  if (auto loc = ids_.erase(id)) {
    const std::size_t j = local(loc->list);
    lists_[j].tombstone(loc->slot);
    maybe_compact(j);
  }
}

void partition_state::maybe_compact(std::size_t j) {
  // Not while a shadow is built: the re-encoding walk's cursor is a slot of these lists (they become
  // the retired set at commit, which compacts the new live lists instead).
  if (other_ && is_shadow_) return;
  auto& l = lists_[j];
  if (l.tombstones() < k_compact_min_tombstones || l.tombstones() < l.live()) return;
  const auto list = static_cast<std::uint32_t>(index_ + j * count_);
  l.compact([&](std::uint64_t id, std::uint32_t slot) { ids_.relocate(id, list, slot); });
}

status partition_state::check_owned(const partition_update& u, const codebook_set& cb) const {
  for (std::size_t i = 0; i < u.ids.size(); ++i)
    if (!owns(u.lists[i]) || u.lists[i] >= cb.params().num_partitions)
      return fail(errc::invalid_argument, "list=" + std::to_string(u.lists[i]) + ": partition " +
                                              std::to_string(index_) + " of " + std::to_string(count_) +
                                              " owns lists l with l % " + std::to_string(count_) +
                                              " == " + std::to_string(index_));
  return {};
}

status partition_state::apply(const partition_update& u) {
  if (!codebooks_)
    return fail(errc::not_trained, "partition " + std::to_string(index_) + ": no codebooks installed");
  if (u.codebook_version > codebooks_->version()) {
    if (other_ && is_shadow_ && u.codebook_version == other_->codebooks->version()) return apply_shadow(u, true);
    // An update for a shadow this partition abandoned: ingest routed it under both versions, the live
    // version's copy is applied, so this one is dropped. A newer version never begun is an error below.
    if ((!other_ || !is_shadow_) && u.codebook_version <= abandoned_version_) return {};
  }
  if (u.codebook_version != codebooks_->version())
    return fail(errc::version_mismatch, "partition_update codebook_version=" + std::to_string(u.codebook_version) +
                                            ": partition " + std::to_string(index_) + " holds version " +
                                            std::to_string(codebooks_->version()));
  const std::size_t n = u.ids.size(), cs = codebooks_->code_size(), d = codebooks_->dimension();
  IVF_ASSERT(u.lists.size() == n && (u.codes.size() == n * cs || (u.codes.empty() && u.vectors.size() == n * d)));
  IVF_ASSERT(u.vectors.empty() || u.vectors.size() == n * d);
  IVF_TRY(check_owned(u, *codebooks_));
  // Encode here when the ingest actor only assigned lists (the usual case: partitions encode in parallel).
  std::vector<std::uint8_t> local_codes;
  const std::uint8_t* codes = u.codes.data();
  if (u.codes.empty() && n > 0) {
    local_codes.resize(n * cs);
    codebooks_->encode_in_lists(u.vectors.data(), n, u.lists.data(), local_codes.data());
    codes = local_codes.data();
  }
  for (auto id : u.removes) erase(id);
  std::uint64_t first_row = k_no_row;
  if (vectors_ && !u.vectors.empty() && n > 0) {
    auto r = vectors_->append(u.vectors.data(), n);
    if (!r) return std::move(r).error();
    first_row = *r;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t id = u.ids[i];
    const std::size_t j = local(u.lists[i]);
    const std::uint32_t slot = lists_[j].append(id, codes + i * cs, ~std::uint64_t{0}, codebooks_->entry_term(u.lists[i], codes + i * cs));
    const std::uint64_t row = first_row == k_no_row ? k_no_row : first_row + i;
    if (auto old = ids_.upsert(id, entry_location{u.lists[i], slot, row})) {
      const std::size_t oj = local(old->list);
      lists_[oj].tombstone(old->slot);
      maybe_compact(oj);
    }
  }
  ++applied_updates_;
  return maybe_collect_garbage();
}

std::uint64_t partition_state::dead_vector_rows() const noexcept {
  // Every live id holds at most one row, so rows beyond ids_.size() are garbage (a lower bound when
  // some ids came from a snapshot without vectors).
  if (!vectors_ || vectors_->size() <= ids_.size()) return 0;
  return vectors_->size() - ids_.size();
}

status partition_state::maybe_collect_garbage() {
  // Not during a swap: the shadow's to-do list and the retired set hold rows of this store.
  if (!vectors_ || other_ || shadow_walking_ || gc_fraction_ >= 1.0) return {};
  const std::uint64_t dead = dead_vector_rows();
  if (dead == 0 || double(dead) <= gc_fraction_ * double(vectors_->size())) return {};
  // Live (row, id) pairs in row order; row i of the collected store is the i-th of them.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> live;
  live.reserve(ids_.size());
  for (const auto& l : lists_)
    for (std::uint32_t s = 0; s < l.size(); ++s)
      if (l.is_live(s))
        if (auto loc = ids_.find(l.id(s)); loc && loc->row != k_no_row) live.emplace_back(loc->row, l.id(s));
  std::sort(live.begin(), live.end());
  std::vector<std::uint64_t> rows(live.size());
  for (std::size_t i = 0; i < live.size(); ++i) rows[i] = live[i].first;
  status moved = vectors_->keep_rows(rows.data(), rows.size());
  // invalid_argument: nothing moved. Otherwise the rows moved even if releasing a file failed.
  if (!moved && moved.error().code() == errc::invalid_argument) return moved;
  for (std::size_t i = 0; i < live.size(); ++i) {
    entry_location loc = *ids_.find(live[i].second);
    loc.row = i;
    ids_.upsert(live[i].second, loc);
  }
  ++vector_collections_;
  return moved;
}

result<std::vector<scan_candidate>> partition_state::scan(const scan_request& r) const {
  ++scans_;
  if (r.k == 0 || !codebooks_) return std::vector<scan_candidate>{};  // nothing ingested yet: empty, complete
  const std::uint64_t want = r.codebooks->version();
  if (want == codebooks_->version()) return scan_set(*codebooks_, lists_, ids_, r);
  // During a swap: a query planned with the shadow's or the retired version reads that set.
  if (other_ && want == other_->codebooks->version()) return scan_set(*other_->codebooks, other_->lists, other_->ids, r);
  return fail(errc::version_mismatch, "scan planned with codebook version " + std::to_string(want) + ": partition " +
                                          std::to_string(index_) + " holds version " +
                                          std::to_string(codebooks_->version()));
}

result<std::vector<scan_candidate>> partition_state::scan_set(const codebook_set& cb,
                                                              const std::vector<inverted_list>& lists,
                                                              const id_map& ids, const scan_request& r) const {
  std::vector<scan_candidate> heap;  // ascending by (distance, id)
  const auto& p = cb.params();
  const auto& plan = *r.plan;
  std::vector<float> lut(p.num_sub_vectors * p.ksub());
  kernels::topk_heap top(r.k);
  for (const std::uint32_t probe : r.probes) {
    IVF_ASSERT(probe < plan.lists.size());
    const std::uint32_t list = plan.lists[probe];
    if (!owns(list) || local(list) >= lists.size()) continue;
    const auto& l = lists[local(list)];
    if (l.live() == 0) continue;
    scan_list(*kernels_, cb, l, cb.probe(plan, probe, l.keeps_terms(), lut.data()), top);
  }
  for (const auto& [distance, id] : top.take_sorted()) heap.push_back(scan_candidate{id, distance, distance});
  for (auto& c : heap) {
    const float* v = r.exact ? vector_in(ids, c.id) : nullptr;
    c.exact_distance = v ? cb.exact_distance(plan.query.data(), v) : c.distance;
  }
  return heap;
}

std::optional<std::uint32_t> partition_state::list_of(std::uint64_t id) const {
  if (auto loc = ids_.find(id)) return loc->list;
  return std::nullopt;
}

const float* partition_state::vector_of(std::uint64_t id) const { return vector_in(ids_, id); }

const float* partition_state::vector_in(const id_map& ids, std::uint64_t id) const {
  if (!vectors_) return nullptr;
  auto loc = ids.find(id);
  if (!loc || loc->row == k_no_row) return nullptr;
  return vectors_->row(loc->row);
}

partition_stats partition_state::stats() const {
  partition_stats s;
  s.partition = index_;
  s.codebook_version = codebooks_ ? codebooks_->version() : 0;
  s.live_vectors = ids_.size();
  for (std::size_t j = 0; j < lists_.size(); ++j) {
    s.stored_slots += lists_[j].size();
    s.list_sizes.emplace_back(static_cast<std::uint32_t>(index_ + j * count_), lists_[j].live());
  }
  s.applied_updates = applied_updates_;
  s.scans = scans_;
  s.shadow_version = shadow_version();
  s.retired_version = retired_version();
  s.swap_bytes = other_bytes();
  s.vector_rows = vectors_ ? vectors_->size() : 0;
  s.vector_collections = vector_collections_;
  return s;
}

status partition_state::save(const std::string& path) const {
  namespace fb = ivfstream::schema;
  flatbuffers::FlatBufferBuilder b(1024 + ids_.size() * 16);
  std::vector<flatbuffers::Offset<fb::ListSnapshot>> lists;
  const std::size_t d = codebooks_ ? codebooks_->dimension() : 0;
  const std::size_t cs = codebooks_ ? codebooks_->code_size() : 0;
  for (std::size_t j = 0; j < lists_.size(); ++j) {
    const auto& l = lists_[j];
    std::vector<std::uint64_t> ids;
    std::vector<std::uint8_t> codes;
    std::vector<float> vecs;
    ids.reserve(l.live());
    codes.reserve(l.live() * cs);
    for (std::uint32_t s = 0; s < l.size(); ++s) {
      if (!l.is_live(s)) continue;
      ids.push_back(l.id(s));
      codes.resize(codes.size() + cs);
      l.read_code(s, codes.data() + codes.size() - cs);
      if (const float* v = vector_of(l.id(s))) vecs.insert(vecs.end(), v, v + d);
    }
    if (!vecs.empty() && vecs.size() != ids.size() * d)
      return fail(errc::internal, "partition " + std::to_string(index_) + ": raw vectors missing for some ids");
    lists.push_back(fb::CreateListSnapshot(b, static_cast<std::uint32_t>(index_ + j * count_), b.CreateVector(ids),
                                           b.CreateVector(codes), b.CreateVector(vecs)));
  }
  auto root = fb::CreatePartitionSnapshot(b, k_partition_snapshot_version, index_, count_,
                                          codebooks_ ? codebooks_->version() : 0, static_cast<std::uint32_t>(d),
                                          static_cast<std::uint32_t>(cs), b.CreateVector(lists));
  fb::FinishPartitionSnapshotBuffer(b, root);
  return internal::write_file_durably(path, b.GetBufferPointer(), b.GetSize());
}

status partition_state::load(const std::string& path) {
  namespace fb = ivfstream::schema;
  if (!codebooks_) return fail(errc::not_trained, "partition snapshot '" + path + "': install codebooks first");
  auto bytes = internal::read_file(path);
  if (!bytes) return std::move(bytes).error();
  flatbuffers::Verifier v(bytes->data(), bytes->size(), 64, 100000000);
  if (!fb::VerifyPartitionSnapshotBuffer(v))
    return fail(errc::corrupt_data, "partition snapshot '" + path + "': failed FlatBuffers verification");
  const auto* s = fb::GetPartitionSnapshot(bytes->data());
  const std::size_t d = codebooks_->dimension(), cs = codebooks_->code_size();
  if (s->format_version() != k_partition_snapshot_version)
    return fail(errc::version_mismatch, "partition snapshot '" + path + "' format_version=" +
                                            std::to_string(s->format_version()) + ": must be " +
                                            std::to_string(k_partition_snapshot_version));
  if (s->partition() != index_ || s->num_partition_actors() != count_ ||
      s->codebook_version() != codebooks_->version() || s->dimension() != d || s->code_size() != cs)
    return fail(errc::corrupt_data, "partition snapshot '" + path + "' is partition " +
                                        std::to_string(s->partition()) + "/" +
                                        std::to_string(s->num_partition_actors()) + " codebook version " +
                                        std::to_string(s->codebook_version()) + ": expected " +
                                        std::to_string(index_) + "/" + std::to_string(count_) + " version " +
                                        std::to_string(codebooks_->version()));
  auto fresh = install(codebooks_);
  if (!fresh) return fresh;
  if (!s->lists()) return {};
  for (const auto* ls : *s->lists()) {
    const std::uint32_t list = ls->list();
    const std::size_t n = ls->ids() ? ls->ids()->size() : 0;
    if (!owns(list) || list >= codebooks_->params().num_partitions || !ls->codes() ||
        ls->codes()->size() != n * cs ||
        (ls->vectors() && ls->vectors()->size() != 0 && ls->vectors()->size() != n * d))
      return fail(errc::corrupt_data, "partition snapshot '" + path + "': list " + std::to_string(list) +
                                          " has inconsistent sizes or is not owned");
    std::uint64_t first_row = k_no_row;
    if (vectors_ && ls->vectors() && ls->vectors()->size() == n * d && n > 0) {
      auto r = vectors_->append(ls->vectors()->data(), n);
      if (!r) return std::move(r).error();
      first_row = *r;
    }
    auto& l = lists_[local(list)];
    l.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      // Copied out: the Verifier checks only the 4-byte alignment of a vector's length prefix, so in a
      // hostile or broken file these 8-byte ids may sit 4 bytes off alignment.
      std::uint64_t id;
      std::memcpy(&id, ls->ids()->Data() + i * sizeof id, sizeof id);
      // save() writes each live id once; a repeated id would stay live in two slots (answered twice).
      if (ids_.find(id))
        return fail(errc::corrupt_data, "partition snapshot '" + path + "': id " + std::to_string(id) +
                                            " appears more than once");
      const std::uint32_t slot =
          l.append(id, ls->codes()->data() + i * cs, ~std::uint64_t{0}, codebooks_->entry_term(list, ls->codes()->data() + i * cs));
      ids_.upsert(id, entry_location{list, slot, first_row == k_no_row ? k_no_row : first_row + i});
    }
  }
  return {};
}

}  // namespace ivfstream::actors
