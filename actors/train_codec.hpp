#pragma once
// The bytes of distributed training between nodes (schemas/training.fbs, spec in schemas/README.md
// "training.fbs"): the leader's request for one iteration's k-means statistics, and a peer's answer.
// Decoders are the edge for bytes from the network: size cap, identifier, Verifier, format version,
// then every length and value against the parameters before anything is allocated in proportion to it.
// Pure functions; thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "index/error.hpp"
#include "index/index_params.hpp"
#include "kernels/kmeans_stats.hpp"

namespace ivfstream::actors {

/// Which k-means problem a request is about.
/// census: no statistics; the peer answers how many sample rows it has and how many vectors they stand
/// for (the leader weighs the nodes by it, actors/cluster_trainer.hpp). It opens a round.
enum class train_phase : std::uint8_t { coarse = 0, pq = 1, census = 2 };

/// One iteration's question (TrainStatsRequest).
struct train_request {
  std::uint64_t round = 0;      ///< one training; a peer freezes its sample per round
  train_phase phase = train_phase::coarse;
  std::uint32_t dimension = 0;
  metric metric_kind = metric::l2;
  std::uint32_t num_partitions = 0;
  std::uint32_t num_sub_vectors = 0;
  std::uint32_t num_bits = 0;
  std::uint32_t max_rows = 0;   ///< 0 = the whole sample
  std::vector<float> coarse;    ///< num_partitions × dimension; empty for census
  std::vector<float> pq;        ///< phase pq: M × ksub × dsub; else empty
};

/// A peer's answer (TrainStatsReply).
struct train_reply {
  std::uint64_t round = 0;
  std::uint64_t rows = 0;                      ///< sample rows covered (census: rows it has, before max_rows)
  std::uint64_t population = 0;                ///< census: vectors those rows stand for (0 = not said)
  std::vector<kernels::kmeans_stats> stats;    ///< 1 (coarse) or M (pq); empty when failure is set
  std::optional<ivfstream::error> failure;
};

/// Largest message of either kind a decoder accepts (4096 lists × 4096 dimensions of float centroids
/// and their double sums are far below).
inline constexpr std::uint64_t k_max_train_message_bytes = std::uint64_t{1} << 30;

/// One FlatBuffer "IVTQ". @pre the array sizes match the parameters (as decode checks).
std::vector<char> encode_train_request(const train_request& r);
/// Verifies and decodes a request. Errors: resource_exhausted (over max_bytes), corrupt_data
/// (identifier, Verifier, array sizes that do not match the parameters, non-finite values),
/// version_mismatch (format version ≠ 1), invalid_argument (phase > 2, metric, or parameters that no
/// index could have: dimension 0, M not dividing d, num_bits outside 1..16).
result<train_request> decode_train_request(const std::vector<char>& bytes,
                                           std::uint64_t max_bytes = k_max_train_message_bytes);

/// One FlatBuffer "IVTR" (a reply with failure set carries no statistics).
std::vector<char> encode_train_reply(const train_reply& r);
/// Verifies and decodes the reply to `request`. A reply carrying an error decodes to failure set.
/// Errors: corrupt_data (as above; another round, stats count ≠ 1 or M (0 for census), a k or d that is
/// not the request's, array lengths that differ from k × d, non-finite values, counts that do not sum
/// to rows; a census answer whose population is below its rows).
result<train_reply> decode_train_reply(const std::vector<char>& bytes, const train_request& request,
                                       std::uint64_t max_bytes = k_max_train_message_bytes);

/// The index parameters a request was made for: `own` with the request's shape checked against it.
/// Errors: invalid_argument naming the first field that differs (dimension, metric, num_partitions,
/// num_sub_vectors, num_bits) with both values.
status check_train_request(const train_request& r, const index_params& own);

/// The peer's side: the statistics of the n prepared rows of `sample` (n × d; when max_rows < n, the
/// max_rows rows at a stride of n / max_rows) for `r`; a request that check_train_request refuses is
/// answered with that failure, and one whose centroids are so far from the rows that the statistics
/// overflow float (never sent: the decoder refuses non-finite values) with invalid_argument. A census
/// is answered with rows = n and population (at least n), no statistics.
train_reply answer_train_request(const train_request& r, const index_params& own, const float* sample,
                                 std::size_t n, std::uint64_t population);

}  // namespace ivfstream::actors
