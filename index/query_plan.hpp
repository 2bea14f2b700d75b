#pragma once
// The per-query work done once before any list is scanned (codebook_set::plan_query): the prepared
// query, the probed lists and the query-dependent half of the ADC lookup tables.
#include <cstddef>
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
  /// LOPQ only (index/local_codebooks.hpp), else empty: one M × ksub table (layout of query_table) per
  /// distinct group of local codebooks among the probed lists, computed from that group's rotation and
  /// codebooks; probe_table[i] (one per probed list) is the index of probe i's table there, or
  /// 0xffffffff for a list on the global codebooks (query_table).
  std::vector<float> local_tables;
  std::vector<std::uint32_t> probe_table;

  /// The query half of probe i's ADC table (M × ksub floats): its group's table or query_table.
  const float* probe_query_table(std::size_t i) const noexcept {
    if (probe_table.empty() || probe_table[i] == 0xffffffffu) return query_table.data();
    return local_tables.data() + std::size_t{probe_table[i]} * query_table.size();
  }
};

}  // namespace ivfstream
