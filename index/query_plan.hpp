#pragma once
// The per-query work done once before any list is scanned (codebook_set::plan_query): the prepared
// query, the probed lists and the query-dependent half of the ADC lookup tables.
#include <cstdint>
#include <vector>

namespace ivfstream {

/// Built by codebook_set::plan_query/plan_queries; read-only afterwards, so it can be shared by the
/// threads or actors that scan the probed lists. Valid only with the codebook_set that built it.
struct query_plan {
  std::vector<float> query;            ///< prepared query (normalised for cosine), d floats
  std::vector<std::uint32_t> lists;    ///< probed lists, nearest first (min(nprobes, num_partitions) entries)
  std::vector<float> coarse;           ///< per probed list: ‖q−c‖² (l2/cosine) or ⟨q,c⟩ (dot)
  std::vector<float> query_table;      ///< M × ksub row-major: −2⟨q_m, r_mc⟩ (l2/cosine) or ⟨q_m, r_mc⟩ (dot)
};

}  // namespace ivfstream
