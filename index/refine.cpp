#include "index/refine.hpp"

#include <algorithm>

namespace ivfstream {

namespace {

/// Candidates whose rows are requested ahead of the distance being computed. A row is d floats
/// (3 KiB at d = 784) read at random from the store; four rows in flight overlap their DRAM latency
/// without pushing the current row out of L1.
constexpr std::size_t k_rows_ahead = 4;

void prefetch_row(const float* row, std::size_t bytes) noexcept {
  const char* p = reinterpret_cast<const char*>(row);
  for (std::size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 0, 3);
}

bool by_distance_then_id(const search_hit& a, const search_hit& b) noexcept {
  return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
}

}  // namespace

void refine_queries(const codebook_set& cb, const vector_store& store, const id_map& ids, const refine_query* queries,
                    std::size_t n, std::size_t limit) {
  // rows: the raw vector of every candidate, queries one after the other (the order of the distances).
  std::size_t total = 0;
  for (std::size_t q = 0; q < n; ++q) total += queries[q].cands->size();
  std::vector<const float*> rows;
  rows.reserve(total);
  for (std::size_t q = 0; q < n; ++q)
    for (const auto& e : *queries[q].cands)
      rows.push_back(store.row(e.aux != kernels::k_no_aux ? e.aux : ids.find(e.id)->row));
  const std::size_t row_bytes = cb.dimension() * sizeof(float);
  for (std::size_t i = 0; i < std::min(k_rows_ahead, total); ++i) prefetch_row(rows[i], row_bytes);
  std::size_t next = 0;  // index into rows of the candidate being computed
  for (std::size_t q = 0; q < n; ++q) {
    const auto& cands = *queries[q].cands;
    std::vector<search_hit>& hits = *queries[q].out;
    hits.clear();
    hits.reserve(cands.size());
    for (const auto& e : cands) {
      if (next + k_rows_ahead < total) prefetch_row(rows[next + k_rows_ahead], row_bytes);
      hits.push_back({e.id, cb.exact_distance(queries[q].query, rows[next])});
      ++next;
    }
    // (distance, id) is a total order over distinct ids, so the first `limit` are the same as a full sort's.
    const std::size_t keep = std::min(limit, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(), by_distance_then_id);
    hits.resize(keep);
  }
}

}  // namespace ivfstream
