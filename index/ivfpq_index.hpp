#pragma once
// The single-process IVF-PQ library: train, add (upsert), remove, search (one or a batch of queries,
// nprobes/limit/refine_factor as LanceDB), compact, save/load. Knows nothing of CAF or Kafka.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/id_map.hpp"
#include "index/index_params.hpp"
#include "index/inverted_list.hpp"
#include "index/memory_stats.hpp"
#include "index/query_plan.hpp"
#include "index/search_hit.hpp"
#include "index/snapshot_files.hpp"
#include "index/vector_store.hpp"

namespace ivfstream {
namespace kernels {
class topk_heap;
struct topk_entry;
}

/// Where and how an index keeps what is not in its lists.
struct index_options {
  /// Directory of the vector store segments (must not already hold segments). Empty = a private
  /// store in anonymous memory (huge-page advised; no files), freed with the index.
  std::string storage_dir;
  /// Bytes of rows per vector store segment file.
  std::size_t segment_bytes = k_default_segment_bytes;
  /// A list is compacted automatically once its tombstones exceed this fraction of its slots
  /// (checked after add/remove on the lists they touched). 0 compacts at once; ≥ 1 never.
  double compact_fraction = 0.25;
  /// The vector store is garbage-collected (collect_garbage) once its dead rows — those of replaced
  /// and deleted vectors — exceed this fraction of its rows (checked after add/remove). Each
  /// collection copies the live rows once, so at 0.5 it costs at most one row copy per dead row.
  /// 0 collects at once; ≥ 1 never.
  double vector_gc_fraction = 0.5;
};

/// An IVF-PQ index over u64 ids (layout of its parts: codebook_set, inverted_list, id_map, vector_store).
/// Thread-safety: const members (search, search_batch, save, memory, accessors) may run concurrently
/// with each other; every non-const member needs exclusive access (one writer, no readers).
class ivfpq_index {
public:
  /// An empty, untrained index. Errors: invalid params, bad options, storage_dir unusable.
  static result<ivfpq_index> create(const index_params& p, index_options opts = {});

  /// Trains the codebooks on x (n × d). On an index that already holds vectors this retrains
  /// (codebook version + 1) and re-encodes every live vector from the vector store (needs
  /// keep_raw_vectors). Errors: see codebook_set::train.
  status train(const float* x, std::size_t n);
  /// Same, checking the caller's dimension d against params().dimension.
  status train(const float* x, std::size_t n, std::size_t d);
  /// Adds n vectors (x: n × d) with their ids; an id already present is replaced (its old slot is
  /// tombstoned; within one call the last occurrence wins). All-or-nothing: a bad vector rejects
  /// the whole call. Errors: not_trained, NaN/Inf, zero vector under cosine.
  status add(const std::uint64_t* ids, const float* x, std::size_t n);
  /// Same, checking d.
  status add(const std::uint64_t* ids, const float* x, std::size_t n, std::size_t d);
  /// Swaps in codebooks trained elsewhere (a trainer, another node) and re-encodes every live vector
  /// from the vector store. cb must have the same dimension, metric, num_partitions, num_sub_vectors
  /// and num_bits as params(). Errors: invalid_argument (mismatch, or vectors held without raw vectors).
  status adopt_codebooks(std::shared_ptr<const codebook_set> cb);
  /// Deletes ids (unknown ids are ignored).
  status remove(const std::uint64_t* ids, std::size_t n);

  /// k nearest of q (params().dimension floats), nearest first, distances in LanceDB semantics.
  /// Returns min(limit, size()) hits at most (fewer if the probed lists hold fewer).
  /// Errors: not_trained, limit = 0, nprobes = 0, NaN/Inf in q, refine without raw vectors.
  result<std::vector<search_hit>> search(const float* q, const search_params& sp) const;
  /// Same, checking the caller's dimension d.
  result<std::vector<search_hit>> search(const float* q, std::size_t d, const search_params& sp) const;
  /// nq queries (q: nq × d); answer i is what search(q + i·d) returns.
  result<std::vector<std::vector<search_hit>>> search_batch(const float* q, std::size_t nq,
                                                            const search_params& sp) const;
  /// Same, checking d.
  result<std::vector<std::vector<search_hit>>> search_batch(const float* q, std::size_t nq, std::size_t d,
                                                            const search_params& sp) const;
  /// Answers one planned query (codebook_set::plan_query with these codebooks): scan, merge, refine.
  result<std::vector<search_hit>> search_planned(const query_plan& plan, const search_params& sp) const;

  /// Writes the index to `path` (FlatBuffers, schemas/index_snapshot.fbs) and the raw vectors to a new
  /// generation `path + ".vectors.<N>"` named in it (layout in schemas/README.md). Crash-consistent
  /// (index/snapshot_files.hpp): the snapshot is renamed into place last, so after a crash load()
  /// gives the old or the new index, never a mix; older generations are removed after.
  /// Errors: io_error, resource_exhausted (snapshot over FlatBuffers' 2 GiB limit).
  status save(const std::string& path) const;
  /// Test hook (crash simulation): save up to and including step `last`, then stop as a dying process
  /// would (temp files left, older generation kept). save(path) = save_until(path, save_step::done).
  status save_until(const std::string& path, save_step last) const;
  /// Reads what save wrote. Every byte is verified: a truncated, foreign or inconsistent file is
  /// errc::corrupt_data (an unknown format_version errc::version_mismatch), never a crash.
  static result<ivfpq_index> load(const std::string& path, index_options opts = {});

  /// Compacts every list (drops tombstones). Search results are unchanged.
  status compact();
  /// Rewrites the vector store to the live rows only (kept in row order; the id map follows) and
  /// releases the segment files no longer needed. Search results are unchanged. Errors: io_error.
  status collect_garbage();
  /// Rows of the vector store that belong to no live id (0 without raw vectors).
  std::uint64_t dead_vector_rows() const noexcept { return store_ ? store_->size() - ids_.size() : 0; }
  /// The vector store (nullptr when keep_raw_vectors is false): read-only view for tools and tests.
  const vector_store* store() const noexcept { return store_.get(); }

  bool trained() const noexcept { return codebooks_ != nullptr; }
  /// Live vectors.
  std::size_t size() const noexcept { return ids_.size(); }
  const index_params& params() const noexcept { return params_; }
  const index_options& options() const noexcept { return options_; }
  /// The current codebooks (nullptr before training).
  std::shared_ptr<const codebook_set> codebooks() const { return codebooks_; }
  memory_stats memory() const;
  /// num_partitions lists (empty before training).
  const std::vector<inverted_list>& lists() const noexcept { return lists_; }
  /// Location of a live id, or nullopt.
  std::optional<entry_location> find(std::uint64_t id) const { return ids_.find(id); }
  /// The prepared raw vector of a live id (d floats), or nullptr (unknown id or no raw vectors).
  const float* raw_vector(std::uint64_t id) const;

private:
  friend class list_rebalancer;  // index/list_rebalance.cpp: splits/merges lists in place
  ivfpq_index(const index_params& p, index_options opts) : params_(p), options_(std::move(opts)) {}
  status check_dimension(std::size_t d, const char* what) const;
  /// Appends prepared vectors to lists, store and id map (no validation).
  status insert_prepared(const std::uint64_t* ids, const float* prepared, std::size_t n);
  void maybe_compact(std::uint32_t list);
  status maybe_collect_garbage();
  void compact_list(std::uint32_t list);
  /// An empty list for the current codebooks (with the fast-scan block copy when num_bits = 4).
  inverted_list empty_list() const;
  status reencode_all();
  /// The hits of n scanned queries from their candidates (cands[i]: topk_heap::take_sorted_entries of
  /// query i): re-ranked on the raw vectors when refining (index/refine.hpp: rows from the candidates'
  /// payloads, prefetched across the n queries), cut to limit, written to out[i].
  void finish_searches(const query_plan* plans, std::size_t n, const search_params& sp,
                       const std::vector<kernels::topk_entry>* cands, std::vector<search_hit>* out) const;

  index_params params_;
  index_options options_;
  std::shared_ptr<const codebook_set> codebooks_;
  std::vector<inverted_list> lists_;
  id_map ids_;
  std::unique_ptr<vector_store> store_;   // null when keep_raw_vectors is false
};

}  // namespace ivfstream
