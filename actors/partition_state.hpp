#pragma once
// The logic of one partition actor, free of CAF: it owns the inverted lists l with
// l % num_partitions == index (codes + ids), an id map for those lists and the prepared raw vectors of
// its entries (for refine), applies upserts/deletes incrementally and scans probed lists.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "actors/messages.hpp"
#include "actors/swap_messages.hpp"
#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/id_map.hpp"
#include "index/inverted_list.hpp"
#include "index/vector_store.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream::actors {

/// State of partition `index` of `count`. Not thread-safe: owned by one partition actor (or a test).
class partition_state {
public:
  /// @pre count ≥ 1, index < count.
  partition_state(std::uint32_t index, std::uint32_t count,
                  const kernels::kernel_table& kernels = kernels::default_kernels());

  std::uint32_t index() const noexcept { return index_; }
  std::uint32_t count() const noexcept { return count_; }
  /// True when list `list` belongs to this partition.
  bool owns(std::uint32_t list) const noexcept { return list % count_ == index_; }

  /// Installs trained codebooks and drops all entries (they were encoded with other codebooks).
  /// Must precede apply(); creates the private vector store.
  status install(std::shared_ptr<const codebook_set> codebooks);
  /// Current codebooks (null before install()).
  const std::shared_ptr<const codebook_set>& codebooks() const noexcept { return codebooks_; }

  /// Applies one update: drops `removes`, replaces or inserts `ids`. Fails (changing nothing) when the
  /// update was encoded with another codebook version or names a list this partition does not own.
  status apply(const partition_update& update);

  /// Scans the probes of `request` and returns the local top request.k, nearest first (ties by id).
  /// Fails when the request was planned with codebooks of another version.
  result<std::vector<scan_candidate>> scan(const scan_request& request) const;

  /// Live vectors held.
  std::size_t size() const noexcept { return ids_.size(); }
  /// Whether id is held, and then its list.
  std::optional<std::uint32_t> list_of(std::uint64_t id) const;
  /// The prepared raw vector of a held id (d floats), or nullptr (unknown id or no raw vectors).
  const float* vector_of(std::uint64_t id) const;
  /// Sizes and counters.
  partition_stats stats() const;
  /// Vector-store rows no live id uses (replaced or removed vectors), a lower bound.
  std::uint64_t dead_vector_rows() const noexcept;
  /// Collect the vector store when dead rows exceed this fraction of its rows (checked after every
  /// apply; 1 = never). Default 0.5: each dead row is copied at most once over time, the store stays
  /// at most twice the live data, so memory levels off under a steady upsert stream.
  void set_vector_gc_fraction(double f) noexcept { gc_fraction_ = f; }

  /// Writes a snapshot of the live entries to `path` (temp file + fsync + rename).
  status save(const std::string& path) const;
  /// Replaces the state with the snapshot at `path`. @pre install() was called with the codebooks
  /// whose version the snapshot names.
  status load(const std::string& path);

  // ---- Hot swap (partition_swap.cpp). One other list set at a time: a shadow (version above the
  // live one, being filled) or, after commit, the retired previous version (still scanned by queries
  // planned with it until retire()). scan() answers whichever of the two the request names.

  /// Starts an empty shadow under `next`; the live entries are re-encoded by walking the live lists
  /// (take_shadow_block), so this does O(lists) work, not O(entries).
  /// Fails when a shadow exists, raw vectors are not kept, or next is not newer / has another
  /// dimension or metric. A retired set still held is dropped.
  status begin_shadow(std::shared_ptr<const codebook_set> next);
  /// Ids the shadow's id map should have room for (the live ones and a quarter more: refreshed
  /// centroids may bring a partition more entries under v+1), for adopt_shadow_ids.
  std::size_t shadow_ids_wanted() const noexcept { return ids_.size() + ids_.size() / 4; }
  /// Moves the shadow's entries so far into `prepared` (an empty id map reserved elsewhere: its
  /// allocation is the swap's largest, see actors/reencoder.hpp) and makes it the shadow's id map.
  /// No-op without a shadow.
  void adopt_shadow_ids(id_map&& prepared);
  /// Copies the next up to `max_entries` live entries (list order; ids written directly to the shadow
  /// meanwhile are skipped: they are newer) out of the vector store into a block for encoding under
  /// the shadow's codebooks, off this partition (actors/reencoder.hpp). nullopt once the walk is over.
  std::optional<reencode_block> take_shadow_block(std::size_t max_entries);
  /// Places an encoded block (taken from this partition's current shadow): entries whose new list
  /// this partition owns go to the shadow (their ids to acc.kept), the others, with their codes and
  /// vectors, to one new chunk per owner appended to acc.emigrants (no chunk grows afterwards); ids
  /// written directly to the shadow since the block was taken are skipped. Fails (changing nothing)
  /// when the shadow the block was taken for is gone.
  status place_shadow_block(reencode_block&& block, shadow_start& acc);
  /// Ends the rebuild once every block was placed: acc.shadow_bytes set, the walk ended.
  void finish_shadow_blocks(shadow_start& acc);
  /// take + encode (on this thread) + place of one block; returns true once every live entry is
  /// done (then finish_shadow_blocks was called). For tests and tools.
  bool shadow_step(std::size_t max_entries, shadow_start& acc);
  /// begin_shadow + shadow_step until done (tests, tools).
  result<shadow_start> build_shadow(std::shared_ptr<const codebook_set> next);
  /// Adds emigrants of another partition (version = shadow's) to the shadow, skipping ids written
  /// directly to the shadow since it began (those are newer).
  status migrate(const partition_update& emigrants);
  /// Makes the shadow of `version` live; the previous live set is kept as retired.
  status commit_shadow(std::uint64_t version);
  /// Frees the retired set if its version is ≤ `version`.
  void retire(std::uint64_t version);
  /// Drops a shadow (abandoned swap); no-op without one.
  void abort_shadow();
  /// Version of the shadow being built, 0 = none.
  std::uint64_t shadow_version() const noexcept;
  /// Codebooks of the shadow being built, null = none (tells two shadows of one version apart).
  const codebook_set* shadow_codebooks() const noexcept { return other_ && is_shadow_ ? other_->codebooks.get() : nullptr; }
  /// Version of the retired set still readable, 0 = none.
  std::uint64_t retired_version() const noexcept;
  /// Bytes of codes, ids and id map of the shadow or retired set.
  std::uint64_t other_bytes() const noexcept;

  /// Calls f(id, list, code, vector_or_null) for every live entry (snapshots, tests); code points at a
  /// copy valid only during the call.
  template <class F>
  void for_each(F&& f) const;

private:
  std::size_t local(std::uint32_t list) const noexcept { return list / count_; }
  void erase(std::uint64_t id);
  void maybe_compact(std::size_t local_list);
  /// Moves the live rows of the vector store down and drops the rest when dead_vector_rows() passes
  /// gc_fraction_ of it; never during a swap (the shadow's to-do list and the retired set hold rows).
  status maybe_collect_garbage();
  /// Codebooks with the lists and id map encoded under them (layout as lists_/ids_).
  struct list_set {
    std::shared_ptr<const codebook_set> codebooks;
    std::vector<inverted_list> lists;  // local list j = global list index_ + j·count_
    id_map ids;
  };
  status check_owned(const partition_update& u, const codebook_set& cb) const;
  status apply_shadow(const partition_update& u, bool direct);
  result<std::vector<scan_candidate>> scan_set(const codebook_set& cb, const std::vector<inverted_list>& lists,
                                               const id_map& ids, const scan_request& r) const;
  const float* vector_in(const id_map& ids, std::uint64_t id) const;

  std::uint32_t index_;
  std::uint32_t count_;
  const kernels::kernel_table* kernels_;
  std::shared_ptr<const codebook_set> codebooks_;
  std::vector<inverted_list> lists_;          // local list j = global list index_ + j·count_
  id_map ids_;
  std::unique_ptr<vector_store> vectors_;     // prepared raw vectors (row per upsert; replaced rows stay)
  std::uint64_t applied_updates_ = 0;
  double gc_fraction_ = 0.5;
  std::uint64_t vector_collections_ = 0;
  std::uint64_t abandoned_version_ = 0;  // highest shadow version abort_shadow() dropped
  mutable std::uint64_t scans_ = 0;
  // The shadow (is_shadow_) or retired set; null when neither. touched_: ids written directly to the
  // shadow (upserts and removes routed under its version) — emigrants never overwrite them.
  std::unique_ptr<list_set> other_;
  carry_cache carry_cache_;  // shadow_step's (this thread's) code carry between blocks
  bool is_shadow_ = false;
  std::unordered_set<std::uint64_t> touched_;
  // Re-encoding cursor over the live lists: (local list, slot) of the next entry to take. The walk
  // needs no to-do list built in one handler (50k entries took ~9 ms of a partition actor), and live
  // lists are not compacted while a shadow is built, so slots stay put under it.
  bool shadow_walking_ = false;
  std::size_t shadow_list_ = 0;
  std::uint32_t shadow_slot_ = 0;
};

template <class F>
void partition_state::for_each(F&& f) const {
  std::vector<std::uint8_t> code;
  for (std::size_t j = 0; j < lists_.size(); ++j) {
    const auto& l = lists_[j];
    const auto list = static_cast<std::uint32_t>(index_ + j * count_);
    code.resize(l.code_size());
    for (std::uint32_t s = 0; s < l.size(); ++s) {
      if (!l.is_live(s)) continue;
      l.read_code(s, code.data());  // valid only during the call
      f(l.id(s), list, code.data(), vector_of(l.id(s)));
    }
  }
}

}  // namespace ivfstream::actors
