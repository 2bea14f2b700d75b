#pragma once
// The logic of one query, free of CAF: which partitions to ask for which probes (scatter), and how
// their local top-k' answers become the reply (gather: merge, dedupe, refine, top-k, partial flag).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "actors/messages.hpp"

namespace ivfstream::actors {

/// The scan requests of one planned query: one per partition that owns at least one probed list.
/// k' = limit × max(1, refine_factor) candidates are asked of each; exact distances when refining.
std::vector<std::pair<std::uint32_t, scan_request>> scatter(std::shared_ptr<const codebook_set> codebooks,
                                                            std::shared_ptr<const query_plan> plan,
                                                            const search_params& params,
                                                            std::uint32_t num_partitions);

/// Collects the answers of the partitions asked for one query. Not thread-safe (one query actor).
class query_gather {
public:
  /// `asked`: partitions a scan request went to.
  query_gather(search_params params, std::vector<std::uint32_t> asked);

  /// Records a partition's answer (a reply with `failure` set counts as missing).
  void add(scan_reply reply);
  /// Records that a partition did not answer in time (or its actor failed).
  void miss(std::uint32_t partition);
  /// True once every asked partition answered or was missed.
  bool done() const noexcept { return outstanding_ == 0; }
  /// Partitions still outstanding.
  std::size_t outstanding() const noexcept { return outstanding_; }

  /// The reply: candidates merged by ADC distance (one per id), the best k' kept, re-ranked by exact
  /// distance when refine_factor > 0, cut to `limit`; partial when a partition is missing.
  search_response finish();
  /// The first half of finish(): the best k' = limit × max(1, refine_factor) candidates by ADC distance
  /// (ties by id), one per id, exact distances untouched. A node answering a peer's search returns
  /// these; the caller feeds every node's candidates to its own query_gather and finish()es, which
  /// selects exactly what one node holding all the data would (actors/cluster_search.hpp).
  std::vector<scan_candidate> take_candidates();
  /// Partitions recorded as missing so far (unsorted).
  const std::vector<std::uint32_t>& missing() const noexcept { return missing_; }

private:
  search_params params_;
  std::vector<std::uint32_t> asked_;
  std::vector<scan_candidate> candidates_;
  std::vector<std::uint32_t> missing_;
  std::size_t outstanding_;
};

}  // namespace ivfstream::actors
