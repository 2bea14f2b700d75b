#pragma once
// Payloads exchanged between the actors of one process. They never leave the process (what crosses a
// process boundary is FlatBuffers bytes, schemas/), so they are registered as unsafe message types:
// CAF moves them between mailboxes without serialising them.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"
#include "index/query_plan.hpp"
#include "index/search_hit.hpp"

namespace ivfstream::actors {

using clock = std::chrono::steady_clock;

/// Upserts and deletes for the lists one partition owns, already encoded by the ingest actor.
/// Ids in `ids` and `removes` are disjoint (the ingest actor collapses each batch to the last operation
/// per id), so the order in which a partition applies them does not matter.
struct partition_update {
  std::uint64_t codebook_version = 0;   ///< version the codes were encoded with
  std::vector<std::uint64_t> ids;       ///< n upserted ids
  std::vector<std::uint32_t> lists;     ///< n assigned lists, each owned by the receiving partition
  std::vector<std::uint8_t> codes;      ///< n × code_size bytes, row-major; empty = the partition encodes
  std::vector<float> vectors;           ///< n × d prepared vectors (normalised for cosine); required when
                                        ///< codes is empty; kept for refine when keep_raw_vectors
  std::vector<std::uint64_t> removes;   ///< ids to drop if this partition holds them
  bool empty() const { return ids.empty() && removes.empty(); }
};

/// One scan candidate of a partition: the ADC distance of its code and, when the request asked for
/// it (refine), the exact distance of its raw vector. Both in LanceDB semantics (metric.hpp).
struct scan_candidate {
  std::uint64_t id = 0;
  float distance = 0.f;        ///< estimated (ADC) distance
  float exact_distance = 0.f;  ///< exact distance; equals `distance` when not requested
};

/// Scan of some probes of one query plan. The plan and codebooks are shared read-only between the
/// partitions of one query.
struct scan_request {
  std::shared_ptr<const codebook_set> codebooks;
  std::shared_ptr<const query_plan> plan;
  std::vector<std::uint32_t> probes;  ///< indices into plan->lists of the lists this partition owns
  std::size_t k = 10;                 ///< candidates to return (k × refine_factor for refine)
  bool exact = false;                 ///< also compute exact distances of the candidates
};

/// Local top-k of one partition, nearest first.
struct scan_reply {
  std::uint32_t partition = 0;
  std::vector<scan_candidate> hits;
  std::optional<ivfstream::error> failure;  ///< set when the scan could not run (e.g. version skew)
};

/// One query as the query actor receives it.
struct search_request {
  std::vector<float> query;              ///< d floats
  search_params params;
  clock::time_point deadline;            ///< partitions that have not answered by then are reported
};

/// The answer to one query.
struct search_response {
  std::vector<search_hit> hits;                   ///< nearest first, at most params.limit
  bool partial = false;                           ///< some partitions missed the deadline or failed
  std::vector<std::uint32_t> missing_partitions;  ///< which ones (sorted)
  std::optional<ivfstream::error> failure;        ///< the query could not run at all
  std::uint64_t codebook_version = 0;             ///< the one version every partition answered with
  /// Cluster search (actors/cluster_search.hpp): peers ("host:port") whose data is absent from or
  /// incomplete in `hits` (down, missed the deadline, other codebooks, or some of their partitions
  /// missed it); `partial` is then true. Always empty for a single node's search.
  std::vector<std::string> missing_peers;
};

/// Several queries with the same parameters answered as one batch: planned together
/// (codebook_set::plan_queries: one GEMM for the coarse distances and the tables) and scattered as
/// one scan_batch per partition.
struct batch_search_request {
  std::vector<float> queries;            ///< nq × dimension floats, row-major
  std::size_t dimension = 0;             ///< floats per query (must equal the index's)
  search_params params;
  clock::time_point deadline;            ///< partitions that have not answered by then are reported
};

/// The answers of a batch, in query order. `failure` set: no query ran (e.g. a bad query vector).
struct batch_search_response {
  std::vector<search_response> results;  ///< nq answers
  std::optional<ivfstream::error> failure;
};

/// The scans one partition runs for a batch of queries (one message instead of one per query).
struct scan_batch {
  std::vector<std::uint32_t> query;      ///< index in the batch of each scan
  std::vector<scan_request> scans;
};

/// Answers of a scan_batch, in the same order.
struct scan_batch_reply {
  std::uint32_t partition = 0;
  std::vector<scan_reply> replies;
};

/// Counters and sizes of one partition.
struct partition_stats {
  std::uint32_t partition = 0;
  std::uint64_t codebook_version = 0;
  std::uint64_t live_vectors = 0;     ///< searchable vectors
  std::uint64_t stored_slots = 0;     ///< slots including tombstones
  std::uint64_t applied_updates = 0;  ///< partition_update messages applied
  std::uint64_t scans = 0;            ///< scan requests served
  std::vector<std::pair<std::uint32_t, std::uint64_t>> list_sizes;  ///< (list, live vectors)
  std::uint64_t shadow_version = 0;   ///< hot swap: version being built here, 0 = none
  std::uint64_t retired_version = 0;  ///< hot swap: previous version still readable, 0 = none
  std::uint64_t swap_bytes = 0;       ///< hot swap: bytes of that shadow or retired list set
  std::uint64_t vector_rows = 0;      ///< rows in the partition's vector store (live + not yet collected)
  std::uint64_t vector_collections = 0;  ///< vector-store garbage collections run
};

/// Where a partition snapshot went (or why it failed).
struct snapshot_reply {
  std::uint32_t partition = 0;
  std::string file;                          ///< file name relative to the checkpoint directory
  std::optional<ivfstream::error> failure;
};

/// A node's training sample (sample_atom, distributed training): its index parameters (none before
/// create_index), its prepared rows (n × dimension, row-major; empty when it keeps none) and how
/// many vectors they stand for (the retrain reservoir: every insert it was drawn from; the buffered
/// vectors before the first training: n).
struct training_sample {
  std::optional<index_params> params;
  std::vector<float> rows;
  std::uint64_t population = 0;
};

/// Outcome of a command (apply, install, create, train, upsert, checkpoint).
struct ack_reply {
  std::optional<ivfstream::error> failure;  ///< empty on success
  std::uint64_t count = 0;                  ///< what the command counts (vectors applied, …)
};

}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::ack_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::training_sample)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::index_params)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::search_params)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::partition_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::scan_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::scan_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::search_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::search_response)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::batch_search_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::batch_search_response)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::scan_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::scan_batch_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::partition_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::snapshot_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const ivfstream::codebook_set>)
