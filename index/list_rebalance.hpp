#pragma once
// Keeping inverted lists near a target size while a stream changes the data distribution (issue 6,
// LIRE-style rebalancing, after SPFresh): a list with more than split_factor × target live entries is
// split in two, one with fewer than merge_factor × target is merged away.
//
//  split L:  2-means (seeded, on a sample of ≤ sample_size of L's raw vectors) gives c1, c2; L keeps
//            index L with centroid c1, c2 becomes a new list appended at the end (num_partitions + 1).
//            Only boundary vectors move: the live entries of L and of its `neighbours` nearest lists
//            are reassigned to their nearest centroid among all lists; an entry whose list changes is
//            re-encoded there (its residual changed). Entries of L that stay are re-encoded too (c1
//            replaced L's centroid). Entries of other lists keep list and code: still exact for their
//            own centroid, at worst slightly farther than the best list (LIRE's approximation).
//  merge S:  every live entry of S goes to its nearest other list (re-encoded); then the last list
//            takes S's index (its centroid, entries and id-map locations move with it) and
//            num_partitions − 1.
// Each step produces new codebooks (codebook_set is immutable): same PQ codebooks and OPQ rotation,
// new centroids, version + 1, per-list ADC term rebuilt; the index's params().num_partitions follows.
// Afterwards, and after every single step, the index is consistent: every live id's location names a
// live slot holding that id, every code is relative to its list's current centroid, so searches
// (and save/load) stay correct. Needs raw vectors (keep_raw_vectors) to re-encode.
#include <cstddef>
#include <cstdint>

#include "index/error.hpp"
#include "index/ivfpq_index.hpp"

namespace ivfstream {

/// Knobs of rebalance_lists.
struct rebalance_options {
  /// Target live entries per list; 0 = the index's size() / num_partitions when the call starts.
  std::size_t target_list_size = 0;
  double split_factor = 4.0;         ///< split a list above split_factor × target (> 1)
  double merge_factor = 0.25;        ///< merge a list below merge_factor × target (< 1 / split_factor · 2)
  std::size_t neighbours = 8;        ///< nearest lists whose entries are reconsidered after a split
  std::size_t sample_size = 4096;    ///< rows of a list that its 2-means sees at most
  std::size_t kmeans_iterations = 20;
  std::size_t max_steps = 1024;      ///< bound on splits + merges per call
  std::uint64_t seed = 7;
};

/// What rebalance_lists did.
struct rebalance_report {
  std::size_t splits = 0;
  std::size_t merges = 0;
  std::size_t moved = 0;       ///< entries that changed list
  std::size_t reencoded = 0;   ///< entries re-encoded (moved or whose centroid changed)
  std::size_t target = 0;      ///< the target list size used
};

/// The checks both rebalancers share: coarse_quantizer=imi and lopq=true are refused (their lists are
/// fixed by the quantizer, or own codebooks that would need retraining); split_factor must be > 1 and
/// merge_factor in [0, split_factor / 4). Messages name the setting and the allowed range.
status check_rebalance_settings(const index_params& p, const rebalance_options& opt);

/// Splits and merges lists of `index` until every list is within [merge_factor, split_factor] × target
/// or max_steps is reached. Never lowers num_partitions below 1. Needs exclusive access to index.
/// Errors: not_trained; invalid_argument (keep_raw_vectors=false with vectors held, factors out of
/// range); errors of codebook_set::from_parts.
result<rebalance_report> rebalance_lists(ivfpq_index& index, const rebalance_options& opt = {});

}  // namespace ivfstream
