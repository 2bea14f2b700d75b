#pragma once
// The bytes that cross a peer link (schemas/peer.fbs, spec in schemas/README.md "peer.fbs"): a batch of
// queries one node scatters to another, and that node's candidates for each query. Encoders build one
// FlatBuffer; decoders are the edge for bytes from the network: size cap, identifier, Verifier, version,
// then every length and value against the request before anything is allocated in proportion to it.
//
// Codebook identity. Two nodes may merge their candidates only if they scanned with the same codebooks:
// ADC distances from different codebooks are not comparable. A version number alone does not prove
// that (two nodes that trained on their own both call their codebooks version 1), so every request and
// reply also carries a fingerprint of the codebooks' contents, and a node answers a request whose
// (version, fingerprint) differs from its own with version_mismatch (the caller marks it partial).
// Pure functions; thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "actors/messages.hpp"
#include "actors/query_admission.hpp"
#include "actors/shard_coverage.hpp"
#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream::actors {

/// FNV-1a 64 over the parameters that shape a code (dimension, metric, num_partitions,
/// num_sub_vectors, num_bits, opq; then, only where set, imi and imi_bits, the additive quantizer
/// kind rq|lsq, polysemous) and the bytes of the centroids, PQ codebooks, LOPQ arrays and rotation
/// (little-endian float32, in that order). A flat, plain-PQ set hashes as it did before the optional
/// fields existed, so stored codebook records keep verifying. Costs one pass over the codebooks:
/// cache it per set.
std::uint64_t codebook_fingerprint(const codebook_set& cb);

/// Which codebooks a node searches with: version 0 = not trained.
struct codebook_identity {
  std::uint64_t version = 0;
  std::uint64_t fingerprint = 0;
  bool operator==(const codebook_identity& o) const { return version == o.version && fingerprint == o.fingerprint; }
  bool operator!=(const codebook_identity& o) const { return !(*this == o); }
};

/// A batch of queries as one node asks another (PeerSearchRequest).
struct peer_request {
  codebook_identity codebooks;       ///< the caller's
  std::uint32_t dimension = 0;       ///< d
  std::vector<float> queries;        ///< nq × d, row-major, nq ≥ 1
  search_params params;              ///< limit, nprobes, refine_factor, polysemous_ht
  std::chrono::microseconds budget{0};  ///< time left to the caller's deadline when sent
};

/// One query's candidates from one node: at most k' = limit × max(1, refine_factor), nearest first by
/// ADC distance (ties by id), one per id; exact_distance set when refine_factor > 0.
struct peer_result {
  std::vector<scan_candidate> candidates;
  std::vector<std::uint32_t> missing_partitions;  ///< the node's partitions that missed it (sorted)
};

/// A node's answer to a peer_request (PeerSearchReply); also what the local shard returns in-process.
struct peer_reply {
  codebook_identity codebooks;          ///< the answering node's
  std::vector<peer_result> results;     ///< nq, in request order; empty when failure is set
  std::optional<ivfstream::error> failure;
  std::uint64_t server_time_us = 0;     ///< receipt → reply
  /// The node's share of the vectors topic when it answered (actors/shard_coverage.hpp); unknown
  /// (topic_partitions 0) for a node without a Kafka feed.
  held_partitions held;
};

/// Largest topic_partitions a reply may report (Kafka's practical limit is far below).
inline constexpr std::uint32_t k_max_topic_partitions = 1u << 20;

/// Bounds a decoder enforces on bytes from the network.
struct peer_limits {
  query_caps caps;                                  ///< limit, nprobes, refine_factor, nq
  std::uint64_t max_request_bytes = 4u << 20;       ///< bytes of one PeerSearchRequest
  std::uint64_t max_reply_bytes = 256u << 20;       ///< bytes of one PeerSearchReply
};

/// One FlatBuffer "IVPQ". @pre queries.size() == nq × dimension.
std::vector<char> encode_peer_request(const peer_request& r);
/// Verifies and decodes a request. Errors: corrupt_data (size, identifier, Verifier, missing or
/// inconsistent arrays, non-finite floats), version_mismatch (format version ≠ 1),
/// resource_exhausted (over limits.caps), invalid_argument (k, nprobes or dimension 0).
result<peer_request> decode_peer_request(const std::vector<char>& bytes, const peer_limits& limits);

/// One FlatBuffer "IVPR" (a reply with failure set carries no results).
std::vector<char> encode_peer_reply(const peer_reply& r);
/// Verifies and decodes a reply to a request of `num_queries` queries asking for `max_candidates`
/// (k') candidates each. A reply carrying an error decodes to failure set (the node's own code and
/// message). Errors: corrupt_data (as above; results ≠ num_queries, more than max_candidates
/// candidates, lengths that differ, non-finite distances; topic_partitions over
/// k_max_topic_partitions, held partitions out of [0, topic_partitions), unsorted or repeated).
result<peer_reply> decode_peer_reply(const std::vector<char>& bytes, std::size_t num_queries,
                                     std::size_t max_candidates, const peer_limits& limits);

}  // namespace ivfstream::actors
