#include "actors/query_state.hpp"

#include <algorithm>
#include <unordered_set>

namespace ivfstream::actors {

std::vector<std::pair<std::uint32_t, scan_request>> scatter(std::shared_ptr<const codebook_set> codebooks,
                                                            std::shared_ptr<const query_plan> plan,
                                                            const search_params& params,
                                                            std::uint32_t num_partitions) {
  IVF_ASSERT(num_partitions >= 1);
  std::vector<std::vector<std::uint32_t>> probes(num_partitions);
  for (std::uint32_t i = 0; i < plan->lists.size(); ++i) probes[plan->lists[i] % num_partitions].push_back(i);
  const std::size_t factor = std::max<std::size_t>(1, params.refine_factor);
  std::vector<std::pair<std::uint32_t, scan_request>> out;
  for (std::uint32_t p = 0; p < num_partitions; ++p) {
    if (probes[p].empty()) continue;
    scan_request r;
    r.codebooks = codebooks;
    r.plan = plan;
    r.probes = std::move(probes[p]);
    r.k = params.limit * factor;
    r.exact = params.refine_factor > 0;
    out.emplace_back(p, std::move(r));
  }
  return out;
}

query_gather::query_gather(search_params params, std::vector<std::uint32_t> asked)
    : params_(params), asked_(std::move(asked)), outstanding_(asked_.size()) {}

void query_gather::add(scan_reply reply) {
  if (reply.failure) {
    miss(reply.partition);
    return;
  }
  IVF_ASSERT(outstanding_ > 0);
  --outstanding_;
  candidates_.insert(candidates_.end(), reply.hits.begin(), reply.hits.end());
}

void query_gather::miss(std::uint32_t partition) {
  IVF_ASSERT(outstanding_ > 0);
  --outstanding_;
  missing_.push_back(partition);
}

std::vector<scan_candidate> query_gather::take_candidates() {
  // Nearest first by ADC distance; an id seen twice (an upsert moving it between partitions can be
  // visible in both for an instant) keeps its best entry.
  std::sort(candidates_.begin(), candidates_.end(), [](const scan_candidate& a, const scan_candidate& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
  });
  std::unordered_set<std::uint64_t> seen;
  std::vector<scan_candidate> kept;
  const std::size_t kprime = params_.limit * std::max<std::size_t>(1, params_.refine_factor);
  for (const auto& c : candidates_) {
    if (kept.size() == kprime) break;
    if (seen.insert(c.id).second) kept.push_back(c);
  }
  candidates_.clear();
  return kept;
}

search_response query_gather::finish() {
  search_response out;
  std::vector<scan_candidate> kept = take_candidates();
  if (params_.refine_factor > 0) {
    std::stable_sort(kept.begin(), kept.end(), [](const scan_candidate& a, const scan_candidate& b) {
      return a.exact_distance < b.exact_distance || (a.exact_distance == b.exact_distance && a.id < b.id);
    });
    for (auto& c : kept) c.distance = c.exact_distance;
  }
  if (kept.size() > params_.limit) kept.resize(params_.limit);
  out.hits.reserve(kept.size());
  for (const auto& c : kept) out.hits.push_back(search_hit{c.id, c.distance});
  std::sort(missing_.begin(), missing_.end());
  out.partial = !missing_.empty();
  out.missing_partitions = std::move(missing_);
  return out;
}

}  // namespace ivfstream::actors
