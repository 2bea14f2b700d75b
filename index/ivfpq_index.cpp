#include "index/ivfpq_index.hpp"

#include <algorithm>
#include <limits>

#include "index/list_scan.hpp"
#include "index/polysemous.hpp"
#include "index/refine.hpp"
#include "kernels/topk.hpp"

namespace ivfstream {

namespace {

std::string str(std::size_t v) { return std::to_string(v); }

/// Rows encoded per block when re-encoding from the vector store.
constexpr std::size_t k_reencode_block = 4096;
/// Queries planned (one matrix product) and refined (one prefetched pass) together by search_batch, at most.
constexpr std::size_t k_batch_chunk = 64;

std::size_t saturating_mul(std::size_t a, std::size_t b) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return std::numeric_limits<std::size_t>::max();
  return a * b;
}

/// Buffers of scan_query, reused across the queries of a batch (one set per calling thread).
struct scan_buffers {
  std::vector<const inverted_list*> probed;  // fast-scan: the non-empty probed lists
  std::vector<float> luts;                   // fast-scan: probed.size() × M × 16 floats; 8-bit: one M × ksub table
  std::vector<float> biases;                 // fast-scan: probed.size()
  fast_scan_scratch fast;
};

/// Scans the probed lists of one planned query, nearest first, into heap: the ADC candidates with
/// their vector-store rows as payload. Returns the live codes whose ADC distance was computed by the
/// 8-bit-style scan (0 for fast-scan). A query's candidates depend on its plan only (single and batch agree).
std::size_t scan_query(const codebook_set& cb, const std::vector<inverted_list>& lists, const query_plan& plan,
                       kernels::topk_heap& heap, scan_buffers& b) {
  const std::size_t M = cb.num_sub_vectors(), table = M * cb.ksub();
  if (cb.params().num_bits == 4) {
    // Fast-scan: the float tables of the non-empty probed lists, quantised together inside.
    b.probed.clear();
    b.luts.resize(plan.lists.size() * table);
    b.biases.resize(plan.lists.size());
    for (std::size_t i = 0; i < plan.lists.size(); ++i) {
      const inverted_list& list = lists[plan.lists[i]];
      if (list.live() == 0) continue;
      b.biases[b.probed.size()] = cb.list_table(plan, i, &b.luts[b.probed.size() * table]);
      b.probed.push_back(&list);
    }
    scan_lists_fast(cb.kernels(), M, b.probed.data(), b.probed.size(), b.luts.data(), b.biases.data(), heap, b.fast);
    return 0;
  }
  b.luts.resize(table);
  std::size_t scanned = 0;
  for (std::size_t i = 0; i < plan.lists.size(); ++i) {
    const inverted_list& list = lists[plan.lists[i]];
    if (list.live() == 0) continue;
    if (i + 1 < plan.lists.size()) prefetch_list(lists[plan.lists[i + 1]]);
    scan_list(cb.kernels(), cb, list, cb.probe(plan, i, list.keeps_terms(), b.luts.data()), heap);
    scanned += list.live();
  }
  return scanned;
}

}  // namespace

result<ivfpq_index> ivfpq_index::create(const index_params& p, index_options opts) {
  IVF_TRY(p.validate());
  if (!(opts.compact_fraction >= 0.0))
    return fail(errc::invalid_argument, "compact_fraction=" + std::to_string(opts.compact_fraction) +
                                            ": must be >= 0 (0 = compact at once, >= 1 = never)");
  if (!(opts.vector_gc_fraction >= 0.0))
    return fail(errc::invalid_argument, "vector_gc_fraction=" + std::to_string(opts.vector_gc_fraction) +
                                            ": must be >= 0 (0 = collect at once, >= 1 = never)");
  ivfpq_index index(p, std::move(opts));
  if (p.keep_raw_vectors) {
    auto store = vector_store::create(index.options_.storage_dir, p.dimension, index.options_.segment_bytes);
    if (!store) return std::move(store).error();
    index.store_ = std::move(*store);
  }
  return index;
}

status ivfpq_index::check_dimension(std::size_t d, const char* what) const {
  if (d != params_.dimension)
    return fail(errc::dimension_mismatch, std::string(what) + " dimension=" + str(d) +
                                              ": must equal the index dimension=" + str(params_.dimension));
  return {};
}

status ivfpq_index::train(const float* x, std::size_t n, std::size_t d) {
  IVF_TRY(check_dimension(d, "training vector"));
  return train(x, n);
}

status ivfpq_index::train(const float* x, std::size_t n) {
  if (size() > 0 && !store_)
    return fail(errc::invalid_argument, "train: the index holds " + str(size()) +
                                            " vectors and keep_raw_vectors=false, so they cannot be re-encoded");
  const std::uint64_t version = codebooks_ ? codebooks_->version() + 1 : 1;
  auto cb = codebook_set::train(params_, x, n, version);
  if (!cb) return std::move(cb).error();
  return adopt_codebooks(std::move(*cb));
}

status ivfpq_index::adopt_codebooks(std::shared_ptr<const codebook_set> cb) {
  if (!cb) return fail(errc::invalid_argument, "adopt_codebooks: codebooks=null: must be a trained codebook_set");
  const index_params& q = cb->params();
  if (q.dimension != params_.dimension || q.metric != params_.metric || q.num_partitions != params_.num_partitions ||
      q.num_sub_vectors != params_.num_sub_vectors || q.num_bits != params_.num_bits)
    return fail(errc::invalid_argument,
                "adopt_codebooks: codebooks for dimension=" + str(q.dimension) + " metric=" + to_string(q.metric) +
                    " num_partitions=" + str(q.num_partitions) + " num_sub_vectors=" + str(q.num_sub_vectors) +
                    " num_bits=" + str(q.num_bits) + ": must match the index (dimension=" + str(params_.dimension) +
                    " metric=" + to_string(params_.metric) + " num_partitions=" + str(params_.num_partitions) +
                    " num_sub_vectors=" + str(params_.num_sub_vectors) + " num_bits=" + str(params_.num_bits) + ")");
  if (q.imi() != params_.imi() || (q.imi() && q.imi_bits != params_.imi_bits))
    return fail(errc::invalid_argument,
                std::string("adopt_codebooks: codebooks for coarse_quantizer=") + (q.imi() ? "imi" : "flat") +
                    " imi_bits=" + str(q.imi_bits) + ": must match the index (coarse_quantizer=" +
                    (params_.imi() ? "imi" : "flat") + " imi_bits=" + str(params_.imi_bits) + ")");
  if (q.lopq != params_.lopq)  // the snapshot writes params() beside the codebooks: they must agree
    return fail(errc::invalid_argument, std::string("adopt_codebooks: codebooks for lopq=") + (q.lopq ? "true" : "false") +
                                            ": must match the index (lopq=" + (params_.lopq ? "true" : "false") + ")");
  if (size() > 0 && !store_)
    return fail(errc::invalid_argument, "adopt_codebooks: the index holds " + str(size()) +
                                            " vectors and keep_raw_vectors=false, so they cannot be re-encoded");
  codebooks_ = std::move(cb);
  if (size() > 0) return reencode_all();
  lists_.assign(params_.num_partitions, empty_list());
  return {};
}

inverted_list ivfpq_index::empty_list() const {
  return inverted_list(codebooks_->code_size(), params_.num_bits == 4 ? params_.num_sub_vectors : 0,
                       store_ != nullptr, codebooks_->entry_terms());
}

status ivfpq_index::reencode_all() {
  // Live entries in list order, then re-encoded from their stored (prepared) rows.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;  // (id, row)
  entries.reserve(size());
  for (const auto& list : lists_)
    for (std::uint32_t s = 0; s < list.size(); ++s)
      if (list.is_live(s)) entries.emplace_back(list.id(s), ids_.find(list.id(s))->row);
  lists_.assign(params_.num_partitions, empty_list());
  const std::size_t d = params_.dimension, cs = codebooks_->code_size();
  std::vector<float> rows(std::min(entries.size(), k_reencode_block) * d);
  std::vector<std::uint32_t> assigned(std::min(entries.size(), k_reencode_block));
  std::vector<std::uint8_t> codes(assigned.size() * cs);
  for (std::size_t b = 0; b < entries.size(); b += k_reencode_block) {
    const std::size_t nb = std::min(k_reencode_block, entries.size() - b);
    for (std::size_t i = 0; i < nb; ++i) std::copy_n(store_->row(entries[b + i].second), d, &rows[i * d]);
    codebooks_->encode(rows.data(), nb, assigned.data(), codes.data());
    for (std::size_t i = 0; i < nb; ++i) {
      const std::uint32_t slot =
          lists_[assigned[i]].append(entries[b + i].first, &codes[i * cs], entries[b + i].second,
                                     codebooks_->entry_term(assigned[i], &codes[i * cs]));
      ids_.upsert(entries[b + i].first, {assigned[i], slot, entries[b + i].second});
    }
  }
  return {};
}

status ivfpq_index::add(const std::uint64_t* ids, const float* x, std::size_t n, std::size_t d) {
  IVF_TRY(check_dimension(d, "added vector"));
  return add(ids, x, n);
}

status ivfpq_index::add(const std::uint64_t* ids, const float* x, std::size_t n) {
  if (!trained()) return fail(errc::not_trained, "add before train: call train() first");
  if (n == 0) return {};
  std::vector<float> prepared(n * params_.dimension);
  IVF_TRY(codebooks_->prepare_vectors(x, n, prepared.data()));
  return insert_prepared(ids, prepared.data(), n);
}

status ivfpq_index::insert_prepared(const std::uint64_t* ids, const float* prepared, std::size_t n) {
  const std::size_t cs = codebooks_->code_size();
  std::vector<std::uint32_t> assigned(n);
  std::vector<std::uint8_t> codes(n * cs);
  codebooks_->encode(prepared, n, assigned.data(), codes.data());
  std::uint64_t first_row = k_no_row;
  if (store_) {
    auto r = store_->append(prepared, n);
    if (!r) return std::move(r).error();
    first_row = *r;
  }
  std::vector<std::uint32_t> touched;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t list = assigned[i];
    const std::uint64_t row = store_ ? first_row + i : k_no_row;
    const std::uint32_t slot = lists_[list].append(ids[i], &codes[i * cs], row, codebooks_->entry_term(list, &codes[i * cs]));
    if (auto old = ids_.upsert(ids[i], {list, slot, row})) {
      lists_[old->list].tombstone(old->slot);
      touched.push_back(old->list);
    }
  }
  for (std::uint32_t list : touched) maybe_compact(list);
  return maybe_collect_garbage();
}

status ivfpq_index::remove(const std::uint64_t* ids, std::size_t n) {
  std::vector<std::uint32_t> touched;
  for (std::size_t i = 0; i < n; ++i) {
    if (auto old = ids_.erase(ids[i])) {
      lists_[old->list].tombstone(old->slot);
      touched.push_back(old->list);
    }
  }
  for (std::uint32_t list : touched) maybe_compact(list);
  return maybe_collect_garbage();
}

void ivfpq_index::maybe_compact(std::uint32_t list) {
  const inverted_list& l = lists_[list];
  if (l.tombstones() == 0 || options_.compact_fraction >= 1.0) return;
  if (double(l.tombstones()) > options_.compact_fraction * double(l.size()) || options_.compact_fraction == 0.0)
    compact_list(list);
}

void ivfpq_index::compact_list(std::uint32_t list) {
  lists_[list].compact([&](std::uint64_t id, std::uint32_t slot) { ids_.relocate(id, list, slot); });
}

status ivfpq_index::maybe_collect_garbage() {
  const std::uint64_t dead = dead_vector_rows();
  if (dead == 0 || options_.vector_gc_fraction >= 1.0) return {};
  if (double(dead) > options_.vector_gc_fraction * double(store_->size()) || options_.vector_gc_fraction == 0.0)
    return collect_garbage();
  return {};
}

status ivfpq_index::collect_garbage() {
  if (dead_vector_rows() == 0) return {};
  // Live (row, id) pairs in row order; row i of the collected store is the i-th of them.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> live;
  live.reserve(size());
  for (const auto& list : lists_)
    for (std::uint32_t s = 0; s < list.size(); ++s)
      if (list.is_live(s)) live.emplace_back(ids_.find(list.id(s))->row, list.id(s));
  std::sort(live.begin(), live.end());
  std::vector<std::uint64_t> rows(live.size());
  for (std::size_t i = 0; i < live.size(); ++i) rows[i] = live[i].first;
  status moved = store_->keep_rows(rows.data(), rows.size());
  // invalid_argument: nothing moved (cannot happen: rows are distinct and in range). Otherwise the rows
  // were moved even if releasing a file failed (io_error), so the id map must follow them.
  if (!moved && moved.error().code() == errc::invalid_argument) return moved;
  for (std::size_t i = 0; i < live.size(); ++i) {
    entry_location loc = *ids_.find(live[i].second);
    loc.row = i;
    ids_.upsert(live[i].second, loc);
    lists_[loc.list].set_row(loc.slot, i);
  }
  return moved;
}

status ivfpq_index::compact() {
  for (std::uint32_t l = 0; l < lists_.size(); ++l) compact_list(l);
  return {};
}

const float* ivfpq_index::raw_vector(std::uint64_t id) const {
  if (!store_) return nullptr;
  const auto loc = ids_.find(id);
  return loc ? store_->row(loc->row) : nullptr;
}

result<std::vector<search_hit>> ivfpq_index::search(const float* q, std::size_t d, const search_params& sp) const {
  IVF_TRY(check_dimension(d, "query"));
  return search(q, sp);
}

result<std::vector<search_hit>> ivfpq_index::search(const float* q, const search_params& sp) const {
  IVF_TRY(sp.validate());
  if (!trained()) return fail(errc::not_trained, "search before train: call train() first");
  auto plan = codebooks_->plan_query(q, sp.nprobes);
  if (!plan) return std::move(plan).error();
  return search_planned(*plan, sp);
}

result<std::vector<std::vector<search_hit>>> ivfpq_index::search_batch(const float* q, std::size_t nq, std::size_t d,
                                                                       const search_params& sp) const {
  IVF_TRY(check_dimension(d, "query"));
  return search_batch(q, nq, sp);
}

result<std::vector<std::vector<search_hit>>> ivfpq_index::search_batch(const float* q, std::size_t nq,
                                                                       const search_params& sp) const {
  IVF_TRY(sp.validate());
  if (!trained()) return fail(errc::not_trained, "search before train: call train() first");
  if (sp.refine_factor > 0 && !store_)
    return fail(errc::invalid_argument, "refine_factor=" + str(sp.refine_factor) +
                                            ": needs raw vectors, but the index has keep_raw_vectors=false");
  std::vector<std::vector<search_hit>> out(nq);
  if (sp.polysemous_ht > 0 || sp.counters) {
    // Options the batched path below does not implement: one query at a time.
    for (std::size_t i = 0; i < nq; ++i) {
      auto plan = codebooks_->plan_query(q + i * params_.dimension, sp.nprobes);
      if (!plan) return std::move(plan).error();
      auto hits = search_planned(*plan, sp);
      if (!hits) return std::move(hits).error();
      out[i] = std::move(*hits);
    }
    return out;
  }
  // Per chunk of queries: one planning pass (coarse distances and query tables as matrix products for
  // the whole chunk), then each query's probed lists scanned nearest first exactly as search() does
  // (its heap threshold tightens on the nearest list, so the fast-scan filter lets few codes through
  // afterwards), then one refine pass over the whole chunk's candidates with the raw-vector rows
  // prefetched across query boundaries. List-major scanning (each probed list once for all the chunk's
  // queries) was measured slower here: the per-(query, list) tables are larger than a list's codes at
  // these sizes, and a list visited before a query's nearest one leaves its threshold loose
  // (bench/README.md, search-performance step 3).
  const codebook_set& cb = *codebooks_;
  const std::size_t d = params_.dimension;
  const std::size_t want = std::min(saturating_mul(sp.limit, std::max<std::size_t>(1, sp.refine_factor)), size());
  scan_buffers buffers;
  std::vector<std::vector<kernels::topk_entry>> cands(std::min(k_batch_chunk, nq));
  for (std::size_t c0 = 0; c0 < nq; c0 += k_batch_chunk) {
    const std::size_t nc = std::min(k_batch_chunk, nq - c0);
    auto plans = cb.plan_queries(q + c0 * d, nc, sp.nprobes);
    if (!plans) return std::move(plans).error();
    for (std::size_t j = 0; j < nc; ++j) {
      kernels::topk_heap heap(want);
      scan_query(cb, lists_, (*plans)[j], heap, buffers);
      cands[j] = heap.take_sorted_entries();
    }
    finish_searches(plans->data(), nc, sp, cands.data(), &out[c0]);
  }
  return out;
}

result<std::vector<search_hit>> ivfpq_index::search_planned(const query_plan& plan, const search_params& sp) const {
  IVF_TRY(sp.validate());
  if (!trained()) return fail(errc::not_trained, "search before train: call train() first");
  if (sp.refine_factor > 0 && !store_)
    return fail(errc::invalid_argument, "refine_factor=" + str(sp.refine_factor) +
                                            ": needs raw vectors, but the index has keep_raw_vectors=false");
  if (plan.query.size() != params_.dimension ||
      plan.query_table.size() != codebooks_->num_sub_vectors() * codebooks_->ksub())
    return fail(errc::invalid_argument, "query_plan does not match these codebooks (query of " +
                                            str(plan.query.size()) + " floats, dimension=" + str(params_.dimension) + ")");
  if (!plan.probe_table.empty()) {  // LOPQ tables (query_plan.hpp): one entry per probe, each naming a table
    const std::size_t tables = plan.local_tables.size() / plan.query_table.size();
    bool ok = plan.probe_table.size() == plan.lists.size() && plan.local_tables.size() % plan.query_table.size() == 0;
    for (std::size_t i = 0; ok && i < plan.probe_table.size(); ++i)
      ok = plan.probe_table[i] == local_codebooks::k_global_group || plan.probe_table[i] < tables;
    if (!ok)
      return fail(errc::invalid_argument, "query_plan: probe_table of " + str(plan.probe_table.size()) +
                                              " entries does not match its " + str(plan.lists.size()) +
                                              " probed lists and " + str(tables) + " local tables");
  }
  for (std::uint32_t list : plan.lists)
    if (list >= lists_.size())
      return fail(errc::invalid_argument, "query_plan probes list " + str(list) + ": must be < num_partitions=" +
                                              str(lists_.size()));
  const codebook_set& cb = *codebooks_;
  if (sp.polysemous_ht > 0) {
    const std::size_t max_ht = 8 * cb.code_size();
    if (!params_.polysemous)
      return fail(errc::invalid_argument, "polysemous_ht=" + str(sp.polysemous_ht) +
                                              ": needs an index created with polysemous=true (0 = off)");
    if (sp.polysemous_ht > max_ht)
      return fail(errc::invalid_argument, "polysemous_ht=" + str(sp.polysemous_ht) + ": must be in [0, " +
                                              str(max_ht) + "] (0 = off, " + str(max_ht) + " = keep every code)");
  }
  // Candidates: k × refine_factor when refining (LanceDB), capped by what the index holds.
  const std::size_t want = std::min(saturating_mul(sp.limit, std::max<std::size_t>(1, sp.refine_factor)), size());
  kernels::topk_heap heap(want);
  if (sp.polysemous_ht > 0 && params_.num_bits != 4) {
    // Polysemous: per probe, the query's own code (argmin of each table row) filters by Hamming first.
    std::vector<float> lut(cb.num_sub_vectors() * cb.ksub());
    std::vector<std::uint8_t> qcode(cb.code_size());
    scan_counters local;
    for (std::size_t i = 0; i < plan.lists.size(); ++i) {
      const inverted_list& list = lists_[plan.lists[i]];
      if (list.live() == 0) continue;
      const probe_table pt = cb.probe(plan, i, list.keeps_terms(), lut.data());
      if (pt.shared) cb.list_table(plan, i, lut.data());  // the query code: argmin of the list's own table
      query_code_from_table(lut.data(), cb.num_sub_vectors(), params_.num_bits, qcode.data());
      scan_list_polysemous(cb.kernels(), cb, list, pt, qcode.data(),
                           static_cast<unsigned>(sp.polysemous_ht), heap, local);
    }
    if (sp.counters) sp.counters->scanned += local.scanned, sp.counters->skipped += local.skipped;
  } else {
    scan_buffers buffers;
    const std::size_t scanned = scan_query(cb, lists_, plan, heap, buffers);
    if (sp.counters) sp.counters->scanned += scanned;
  }
  const auto cands = heap.take_sorted_entries();
  std::vector<search_hit> hits;
  finish_searches(&plan, 1, sp, &cands, &hits);
  return hits;
}

void ivfpq_index::finish_searches(const query_plan* plans, std::size_t n, const search_params& sp,
                                  const std::vector<kernels::topk_entry>* cands, std::vector<search_hit>* out) const {
  if (sp.refine_factor > 0) {
    // Re-rank on the raw vectors: exact distances, order by (distance, id) as the heap does. The row
    // rides with each candidate (lists keep rows); a list filled without rows falls back to the id map.
    std::vector<refine_query> queries(n);
    for (std::size_t i = 0; i < n; ++i) queries[i] = {plans[i].query.data(), &cands[i], &out[i]};
    refine_queries(*codebooks_, *store_, ids_, queries.data(), n, sp.limit);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t keep = std::min(sp.limit, cands[i].size());
    out[i].resize(keep);
    for (std::size_t j = 0; j < keep; ++j) out[i][j] = {cands[i][j].id, cands[i][j].dist};
  }
}

memory_stats ivfpq_index::memory() const {
  memory_stats m;
  m.vectors = size();
  for (const auto& l : lists_) {
    m.slots += l.size();
    m.code_bytes += l.used_code_bytes();
    m.id_bytes += l.used_id_bytes();
    m.tombstone_bytes += l.used_tombstone_bytes();
    m.row_bytes += l.used_row_bytes();
    m.term_bytes += l.used_term_bytes();
    m.list_capacity_bytes += l.code_bytes() + l.id_bytes() + l.tombstone_bytes() + l.row_bytes() + l.term_bytes();
  }
  m.id_map_bytes = ids_.memory_bytes();
  m.codebook_bytes = codebooks_ ? codebooks_->memory_bytes() : 0;
  if (store_) {
    m.vector_store_used_bytes = store_->used_bytes();
    m.vector_store_mapped_bytes = store_->mapped_bytes();
  }
  return m;
}

}  // namespace ivfstream
