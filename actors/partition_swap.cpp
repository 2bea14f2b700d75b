// partition_state's half of the hot-swap protocol (actors/swap_protocol.hpp): shadow lists under the
// next codebook version, emigrants to the partitions owning their new lists, commit and retire.
#include <algorithm>

#include "actors/partition_state.hpp"

namespace ivfstream::actors {
namespace {

// Entries re-encoded per block in build_shadow (bounds the temporary copy: block × d floats).
constexpr std::size_t k_reencode_block = 4096;

std::uint64_t set_bytes(const std::vector<inverted_list>& lists, const id_map& ids) {
  std::uint64_t b = ids.memory_bytes();
  for (const auto& l : lists) b += l.code_bytes() + l.id_bytes() + l.tombstone_bytes() + l.term_bytes();
  return b;
}

}  // namespace

void encode_block(reencode_block& b, carry_cache& cache) {
  const std::size_t n = b.size();
  b.lists.resize(n);
  b.codes.resize(n * b.codebooks->code_size());
  b.carried = 0;
  if (n == 0) return;
  if (b.live && (cache.live_version != b.live->version() || cache.next_version != b.codebooks->version() ||
                 (cache.carry && !cache.carry->applies_to(b.codebooks)))) {
    cache.live_version = b.live->version();
    cache.next_version = b.codebooks->version();
    cache.carry = code_carry::between(*b.live, b.codebooks);
  }
  if (b.live && cache.carry && cache.carry->applies_to(b.codebooks)) {
    IVF_ASSERT(b.live_lists.size() == n && b.live_codes.size() == n * b.live->code_size());
    b.carried = cache.carry->apply(b.vectors.data(), n, b.live_lists.data(), b.live_codes.data(), b.lists.data(),
                                   b.codes.data())
                    .carried;
    return;
  }
  b.codebooks->encode(b.vectors.data(), n, b.lists.data(), b.codes.data());
}

std::uint64_t partition_state::shadow_version() const noexcept {
  return other_ && is_shadow_ ? other_->codebooks->version() : 0;
}

std::uint64_t partition_state::retired_version() const noexcept {
  return other_ && !is_shadow_ ? other_->codebooks->version() : 0;
}

std::uint64_t partition_state::other_bytes() const noexcept {
  return other_ ? set_bytes(other_->lists, other_->ids) : 0;
}

status partition_state::begin_shadow(std::shared_ptr<const codebook_set> next) {
  IVF_ASSERT(next != nullptr);
  const std::string who = "partition " + std::to_string(index_);
  if (!codebooks_) return fail(errc::not_trained, who + ": no codebooks installed, nothing to re-encode");
  if (other_ && is_shadow_)
    return fail(errc::resource_exhausted, who + ": a shadow of version " + std::to_string(shadow_version()) +
                                              " is being built; at most one at a time");
  if (next->version() <= codebooks_->version())
    return fail(errc::version_mismatch, who + ": shadow version " + std::to_string(next->version()) +
                                            " must be newer than the live version " +
                                            std::to_string(codebooks_->version()));
  if (next->dimension() != codebooks_->dimension() || next->params().metric != codebooks_->params().metric)
    return fail(errc::invalid_argument, who + ": shadow codebooks of dimension " +
                                            std::to_string(next->dimension()) + " must keep dimension " +
                                            std::to_string(codebooks_->dimension()) + " and the metric");
  if (!vectors_ && ids_.size() > 0)
    return fail(errc::invalid_argument, who + ": re-encoding needs the raw vectors (keep_raw_vectors=true)");
  other_.reset();  // a retired set still held is dropped: at most one other set
  auto set = std::make_unique<list_set>();
  set->codebooks = std::move(next);
  const auto& cb = *set->codebooks;
  const std::size_t nlist = cb.num_partitions();
  const std::size_t owned = nlist > index_ ? (nlist - index_ + count_ - 1) / count_ : 0;
  for (std::size_t j = 0; j < owned; ++j) set->lists.emplace_back(cb.code_size(), 0, false, cb.entry_terms());
  // The shadow's id map starts empty: a reserved one (shadow_ids_wanted) is allocated off this actor
  // and adopted (adopt_shadow_ids); build_shadow, on one thread, reserves it itself.
  // No to-do list: take_shadow_block walks the live lists from here (this handler stays O(lists)).
  shadow_walking_ = true;
  shadow_list_ = 0;
  shadow_slot_ = 0;
  other_ = std::move(set);
  is_shadow_ = true;
  touched_.clear();
  return {};
}

void partition_state::adopt_shadow_ids(id_map&& prepared) {
  if (!other_ || !is_shadow_) return;
  other_->ids.for_each([&](std::uint64_t id, const entry_location& loc) { prepared.upsert(id, loc); });
  std::swap(other_->ids, prepared);
}

std::optional<reencode_block> partition_state::take_shadow_block(std::size_t max_entries) {
  if (!other_ || !is_shadow_ || !shadow_walking_) return std::nullopt;
  const std::size_t d = other_->codebooks->dimension();
  const std::size_t want = std::max<std::size_t>(1, max_entries);
  const std::size_t cs = codebooks_->code_size();
  reencode_block b;
  b.codebooks = other_->codebooks;
  b.live = codebooks_;
  b.ids.reserve(want);
  b.rows.reserve(want);
  b.vectors.reserve(want * d);
  b.live_lists.reserve(want);
  b.live_codes.reserve(want * cs);
  // Live lists are only appended to (and tombstoned) while the shadow is built: maybe_compact waits.
  // Entries appended since begin_shadow were routed to the shadow directly (touched_) and are skipped.
  while (b.ids.size() < want && shadow_list_ < lists_.size()) {
    const auto& l = lists_[shadow_list_];
    if (shadow_slot_ >= l.size()) {
      ++shadow_list_;
      shadow_slot_ = 0;
      continue;
    }
    const std::uint32_t s = shadow_slot_++;
    if (!l.is_live(s)) continue;
    const std::uint64_t id = l.id(s);
    if (touched_.count(id)) continue;  // written directly to the shadow since it began: newer
    const auto loc = ids_.find(id);
    IVF_ASSERT(loc && loc->row != k_no_row);
    b.ids.push_back(id);
    b.rows.push_back(loc->row);
    const float* v = vectors_->row(loc->row);
    b.vectors.insert(b.vectors.end(), v, v + d);
    b.live_lists.push_back(loc->list);
    b.live_codes.resize(b.live_codes.size() + cs);
    l.read_code(s, b.live_codes.data() + b.live_codes.size() - cs);
  }
  if (b.ids.empty()) return std::nullopt;
  return b;
}

status partition_state::place_shadow_block(reencode_block&& b, shadow_start& acc) {
  if (!other_ || !is_shadow_ || b.codebooks != other_->codebooks)
    return fail(errc::version_mismatch, "partition " + std::to_string(index_) + ": a re-encoded block of version " +
                                            std::to_string(b.codebooks ? b.codebooks->version() : 0) +
                                            " but the shadow is version " + std::to_string(shadow_version()));
  auto& set = *other_;
  const auto& cb = *set.codebooks;
  const std::size_t d = cb.dimension(), cs = cb.code_size(), n = b.size();
  IVF_ASSERT(b.lists.size() == n && b.codes.size() == n * cs && b.vectors.size() == n * d);
  acc.partition = index_;
  acc.version = cb.version();
  acc.carried += b.carried;
  acc.reencoded += n - b.carried;
  // This block's emigrants: one new chunk per destination (index = destination partition).
  std::vector<partition_update> out(count_);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t id = b.ids[i];
    if (touched_.count(id)) continue;  // written directly while the block was being encoded: newer
    const std::uint32_t l = b.lists[i];
    const std::uint8_t* code = b.codes.data() + i * cs;
    if (owns(l)) {
      const std::uint32_t slot = set.lists[local(l)].append(id, code, ~std::uint64_t{0}, cb.entry_term(l, code));
      set.ids.upsert(id, entry_location{l, slot, b.rows[i]});
      acc.kept.push_back(id);
    } else {
      auto& e = out[l % count_];
      e.ids.push_back(id);
      e.lists.push_back(l);
      e.codes.insert(e.codes.end(), code, code + cs);
      e.vectors.insert(e.vectors.end(), b.vectors.data() + i * d, b.vectors.data() + (i + 1) * d);
    }
  }
  for (auto& e : out)
    if (!e.ids.empty()) {
      e.codebook_version = cb.version();
      acc.emigrants.push_back(std::move(e));
    }
  return {};
}

void partition_state::finish_shadow_blocks(shadow_start& acc) {
  shadow_walking_ = false;
  acc.partition = index_;
  if (other_ && is_shadow_) acc.version = other_->codebooks->version();
  acc.shadow_bytes = other_bytes();
}

bool partition_state::shadow_step(std::size_t max_entries, shadow_start& acc) {
  if (!other_ || !is_shadow_) return true;
  if (auto b = take_shadow_block(max_entries)) {
    encode_block(*b, carry_cache_);
    auto placed = place_shadow_block(std::move(*b), acc);
    IVF_ASSERT(placed);
    return false;
  }
  finish_shadow_blocks(acc);
  return true;
}

result<shadow_start> partition_state::build_shadow(std::shared_ptr<const codebook_set> next) {
  IVF_TRY(begin_shadow(std::move(next)));
  id_map ids;
  ids.reserve(shadow_ids_wanted());
  adopt_shadow_ids(std::move(ids));
  shadow_start acc;
  while (!shadow_step(k_reencode_block, acc)) {
  }
  return acc;
}

status partition_state::apply_shadow(const partition_update& u, bool direct) {
  auto& set = *other_;
  const auto& cb = *set.codebooks;
  const std::size_t n = u.ids.size(), cs = cb.code_size(), d = cb.dimension();
  IVF_ASSERT(u.lists.size() == n && (u.codes.size() == n * cs || (u.codes.empty() && u.vectors.size() == n * d)));
  IVF_TRY(check_owned(u, cb));
  std::vector<std::uint8_t> local_codes;
  const std::uint8_t* codes = u.codes.data();
  if (u.codes.empty() && n > 0) {
    local_codes.resize(n * cs);
    cb.encode_in_lists(u.vectors.data(), n, u.lists.data(), local_codes.data());
    codes = local_codes.data();
  }
  for (auto id : u.removes) {
    if (direct) touched_.insert(id);
    if (auto loc = set.ids.erase(id)) set.lists[local(loc->list)].tombstone(loc->slot);
  }
  std::uint64_t first_row = k_no_row;
  if (vectors_ && !u.vectors.empty() && n > 0) {
    auto r = vectors_->append(u.vectors.data(), n);
    if (!r) return std::move(r).error();
    first_row = *r;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t id = u.ids[i];
    if (direct)
      touched_.insert(id);
    else if (touched_.count(id))
      continue;  // written directly since the shadow began: newer than this emigrant
    const std::uint32_t slot =
        set.lists[local(u.lists[i])].append(id, codes + i * cs, ~std::uint64_t{0}, cb.entry_term(u.lists[i], codes + i * cs));
    const std::uint64_t row = first_row == k_no_row ? k_no_row : first_row + i;
    if (auto old = set.ids.upsert(id, entry_location{u.lists[i], slot, row}))
      set.lists[local(old->list)].tombstone(old->slot);
  }
  return {};
}

status partition_state::migrate(const partition_update& u) {
  if (!other_ || !is_shadow_ || u.codebook_version != other_->codebooks->version())
    return fail(errc::version_mismatch, "partition " + std::to_string(index_) + ": emigrants of version " +
                                            std::to_string(u.codebook_version) + " but the shadow is version " +
                                            std::to_string(shadow_version()));
  return apply_shadow(u, false);
}

status partition_state::commit_shadow(std::uint64_t version) {
  if (!other_ || !is_shadow_ || other_->codebooks->version() != version)
    return fail(errc::version_mismatch, "partition " + std::to_string(index_) + ": commit of version " +
                                            std::to_string(version) + " but the shadow is version " +
                                            std::to_string(shadow_version()));
  std::swap(codebooks_, other_->codebooks);
  std::swap(lists_, other_->lists);
  std::swap(ids_, other_->ids);
  is_shadow_ = false;  // other_ now holds the previous version, readable until retire()
  touched_.clear();
  shadow_walking_ = false;
  for (std::size_t j = 0; j < lists_.size(); ++j) maybe_compact(j);
  return {};
}

void partition_state::retire(std::uint64_t version) {
  if (other_ && !is_shadow_ && other_->codebooks->version() <= version) other_.reset();
}

void partition_state::abort_shadow() {
  if (other_ && is_shadow_) {
    abandoned_version_ = std::max(abandoned_version_, other_->codebooks->version());
    other_.reset();
  }
  is_shadow_ = false;
  touched_.clear();
  shadow_walking_ = false;
}

}  // namespace ivfstream::actors
