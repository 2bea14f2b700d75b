#pragma once
// Codes that stay valid from one codebook version to the next (issue 6: rebalancing a running engine
// without re-encoding every entry).
//
// A rebalance (index/centroid_rebalance.hpp) keeps the PQ codebooks and the OPQ rotation and changes a
// few coarse centroids: a split moves one centroid and adds one, a merge removes one (the last list takes
// its index, its centroid bit for bit). A residual code depends only on its list's centroid and on the
// PQ side, so an entry whose list keeps its centroid (perhaps under another index) and that stays
// nearest to it keeps its code byte for byte; only the others are assigned and encoded again.
//
// Exactness. Let x be stored in live list K with K's centroid the nearest live one (the engine assigns
// every entry so, and every swap keeps it so). The centroids of the next version are the kept ones
// (each at distance ≥ ‖x − c_K‖ from x) and the changed ones (moved or new). So x's nearest next
// centroid is c_K or a changed one: apply() computes ‖x − c_K‖² and the distances to the changed
// centroids, skipping c_j when ‖c_K − c_j‖ ≥ 2‖x − c_K‖ (then ‖x − c_j‖ ≥ ‖x − c_K‖ by the triangle
// inequality, Elkan 2003), keeps K on ties, and so picks the list codebook_set::encode would (up to
// ties and float rounding between the two distance formulas); the code of a kept entry is its old one,
// which encode_in_lists would recompute bit for bit (same residual, same codebooks). An entry whose
// centroid changed or vanished is assigned among all next centroids and encoded, as encode does.
// An entry not at its nearest live centroid (none in the engine) stays in K unless a changed centroid
// is nearer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "index/codebook_set.hpp"

namespace ivfstream {

/// The carry-over from one codebook version to the next. Immutable: safe to share between threads.
class code_carry {
public:
  /// kept() of a live list whose centroid is not in the next version.
  static constexpr std::uint32_t k_gone = ~std::uint32_t{0};

  /// The carry from live to next, or null when codes cannot carry: a different code layout (dimension,
  /// metric, num_sub_vectors, num_bits, quantizer), different PQ (or additive) codebooks or OPQ rotation,
  /// an IMI coarse quantizer or LOPQ codebooks on either side, no centroid kept, or more than
  /// k_max_gap_floats for the pruning table (kept lists × changed lists; a change that large is a
  /// retrain, cheaper to re-encode outright).
  static std::shared_ptr<const code_carry> between(const codebook_set& live, std::shared_ptr<const codebook_set> next);

  /// Bound on kept lists × changed lists (floats of the pruning table, 64 MiB).
  static constexpr std::size_t k_max_gap_floats = std::size_t{16} << 20;

  /// Whether this carry was made for exactly this next set (the same object, not just its version).
  /// The carry holds the next set weakly: caching it does not keep an abandoned version alive.
  bool applies_to(const std::shared_ptr<const codebook_set>& next) const noexcept {
    return !next_.owner_before(next) && !next.owner_before(next_);
  }
  std::uint64_t live_version() const noexcept { return live_version_; }
  /// Index under the next version of live list K's centroid, or k_gone. @pre K < live lists.
  std::uint32_t kept(std::uint32_t live_list) const noexcept { return kept_[live_list]; }
  /// Next-version lists whose centroid is not a live one.
  const std::vector<std::uint32_t>& changed() const noexcept { return changed_; }

  /// Entries carried (code kept) and re-encoded by one apply().
  struct counts {
    std::size_t carried = 0;
    std::size_t reencoded = 0;
  };

  /// n entries: prepared vectors x (n × d row-major), their live lists (n) and codes (n × code_size,
  /// row-major, the live version's layout). Writes their lists (n) and codes (n × code_size) under the
  /// next version. live_lists[i] must be a live list index (< live num_partitions). @pre the next set is
  /// still alive (the caller holds it).
  counts apply(const float* x, std::size_t n, const std::uint32_t* live_lists, const std::uint8_t* live_codes,
               std::uint32_t* lists, std::uint8_t* codes) const;

private:
  code_carry() = default;

  std::weak_ptr<const codebook_set> next_;
  std::uint64_t live_version_ = 0;
  std::vector<std::uint32_t> kept_;      // one per live list: its index under next, or k_gone
  std::vector<std::uint32_t> changed_;   // next lists whose centroid is new
  std::vector<std::uint32_t> kept_row_;  // one per next list: its row of half_gap_ (k_gone for changed lists)
  std::vector<float> half_gap_;          // kept next lists × changed_.size(), row-major: ½‖c_k − c_j‖
};

}  // namespace ivfstream
