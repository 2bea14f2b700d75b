#pragma once
// The logic of one partition actor, free of CAF: it owns the inverted lists l with
// l % num_partitions == index (codes + ids), an id map for those lists and the prepared raw vectors of
// its entries (for refine), applies upserts/deletes incrementally and scans probed lists.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/messages.hpp"
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

  /// Writes a snapshot of the live entries to `path` (temp file + fsync + rename).
  status save(const std::string& path) const;
  /// Replaces the state with the snapshot at `path`. @pre install() was called with the codebooks
  /// whose version the snapshot names.
  status load(const std::string& path);

  /// Calls f(id, list, code, vector_or_null) for every live entry (snapshots, tests).
  template <class F>
  void for_each(F&& f) const;

private:
  std::size_t local(std::uint32_t list) const noexcept { return list / count_; }
  void erase(std::uint64_t id);
  void maybe_compact(std::size_t local_list);

  std::uint32_t index_;
  std::uint32_t count_;
  const kernels::kernel_table* kernels_;
  std::shared_ptr<const codebook_set> codebooks_;
  std::vector<inverted_list> lists_;          // local list j = global list index_ + j·count_
  id_map ids_;
  std::unique_ptr<vector_store> vectors_;     // prepared raw vectors (row per upsert; replaced rows stay)
  std::uint64_t applied_updates_ = 0;
  mutable std::uint64_t scans_ = 0;
};

template <class F>
void partition_state::for_each(F&& f) const {
  for (std::size_t j = 0; j < lists_.size(); ++j) {
    const auto& l = lists_[j];
    const auto list = static_cast<std::uint32_t>(index_ + j * count_);
    for (std::uint32_t s = 0; s < l.size(); ++s) {
      if (!l.is_live(s)) continue;
      f(l.ids()[s], list, l.code(s), vector_of(l.ids()[s]));
    }
  }
}

}  // namespace ivfstream::actors
