#pragma once
// Refine: the exact re-rank of the ADC candidates of one or several queries on their raw vectors.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/id_map.hpp"
#include "index/search_hit.hpp"
#include "index/vector_store.hpp"
#include "kernels/topk.hpp"

namespace ivfstream {

/// One query's share of a refine call.
///   query : the prepared query (d floats, query_plan::query)
///   cands : the query's candidates (topk_heap::take_sorted_entries); e.aux is the candidate's
///           vector_store row, or kernels::k_no_aux to look the row up in the id map
///   out   : receives the first `limit` candidates ordered by (exact distance, id), distances in
///           LanceDB semantics (codebook_set::exact_distance); previous contents are replaced
struct refine_query {
  const float* query;
  const std::vector<kernels::topk_entry>* cands;
  std::vector<search_hit>* out;
};

/// Re-ranks the candidates of n queries. All candidates of all n queries are handled in one pass
/// whose raw-vector rows are prefetched a few candidates ahead across query boundaries, so a batch
/// keeps the memory system busy from one query to the next (a row is d floats read at random from
/// the store: the cost of refine is waiting for memory, not arithmetic). Each query's result depends
/// on its own candidates only: one query alone or within a batch gives the same hits bit for bit.
/// @pre every candidate's id is live in `ids` when its aux is k_no_aux.
/// Thread-safety: reads store, ids and cb only; safe concurrently with other readers.
void refine_queries(const codebook_set& cb, const vector_store& store, const id_map& ids, const refine_query* queries,
                    std::size_t n, std::size_t limit);

}  // namespace ivfstream
