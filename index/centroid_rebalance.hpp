#pragma once
// Rebalancing the lists of a running engine (issue 6): the same split / merge rule as rebalance_lists
// (index/list_rebalance.hpp), planned on the coarse centroids alone, for an index whose lists live in
// several partition actors. Where rebalance_lists moves entries itself, this returns the next codebook
// version (same PQ codebooks and OPQ rotation, new coarse centroids) and the engine's hot swap
// moves the entries under it: every entry goes to its nearest new centroid, so searches stay
// correct throughout (actors/swap_protocol.hpp); entries whose list kept its centroid and stays nearest
// keep their codes (index/code_carry.hpp), only the others are encoded again.
//
// Planning without the entries. The lists' true live counts come from the partitions; where the
// entries of a list lie comes from a sample of the stream (the retrain reservoir, prepared vectors).
// Each sample row stands for count(L) / rows(L) entries of the list L it is nearest to under the live
// codebooks; a list with entries but no sample row keeps its count as a point mass at its centroid.
// The estimated size of a list is the weight of the rows nearest to it plus its point masses. Then,
// as in rebalance_lists, until every estimate is within [merge_factor, split_factor] × target or
// max_steps: the largest list above the bound is split (2-means, seeded, on its rows: it keeps the
// first centroid, the second is appended), else the smallest below is merged (its centroid removed,
// the last list takes its index). After each step only the rows the step can move are reassigned.
// A list whose rows are all one point (or that has under 2 rows) cannot be split and is skipped.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/list_rebalance.hpp"

namespace ivfstream {

/// Whether any list is outside [merge_factor, split_factor] × target (target: opt.target_list_size,
/// else the mean of sizes). A single list is never "too small". sizes: live entries per list.
bool lists_out_of_bounds(const std::vector<std::uint64_t>& sizes, const rebalance_options& opt);

/// What plan_centroid_rebalance decided.
struct centroid_rebalance {
  /// The next version (live.version() + 1, num_partitions changed), or null when no step was possible.
  std::shared_ptr<const codebook_set> codebooks;
  rebalance_report report;              ///< splits, merges and target (moved/reencoded stay 0: the swap does it)
  std::vector<double> estimated_sizes;  ///< per list of `codebooks` (of `live` when null)
};

/// Plans splits and merges of live's lists. sizes: live entries per list of `live` (num_partitions
/// values); sample: n × d prepared vectors of the stream. Deterministic for the same inputs and opt.seed.
/// A list without sample rows cannot be split. Errors: check_rebalance_settings; sizes of the wrong
/// length; errors of codebook_set::from_parts.
result<centroid_rebalance> plan_centroid_rebalance(const codebook_set& live, const std::vector<std::uint64_t>& sizes,
                                                   const float* sample, std::size_t n,
                                                   const rebalance_options& opt = {});

}  // namespace ivfstream
