#pragma once
// Builds and decodes the Kafka records of schemas/records.fbs (spec: schemas/README.md).
// Decoders are the edge for untrusted bytes: they run the FlatBuffers Verifier and then check the
// identifier, version, dimension, lengths, NaN/Inf and every configured cap before anything reaches
// an actor. Every rejection is an ivfstream::error whose message names the value and the limit.
// All functions are pure and thread-safe.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/service_config.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"

namespace ivfstream::connectors {

/// Format version written into every root and the only one the decoders accept.
inline constexpr std::uint16_t k_records_version = 1;
/// 4-byte FlatBuffers file identifiers, one per root table.
inline constexpr char k_vector_record_identifier[] = "IVFV";
inline constexpr char k_query_request_identifier[] = "IVFQ";
inline constexpr char k_query_response_identifier[] = "IVFR";
inline constexpr char k_dead_letter_identifier[] = "IVFD";
/// Longest correlation id accepted, in bytes.
inline constexpr std::size_t k_max_correlation_id_bytes = 256;
/// Longest Kafka topic name (Kafka's own limit).
inline constexpr std::size_t k_max_topic_name_bytes = 249;

/// What a decoder accepts. Built from the service configuration (config/service_config.hpp:
/// make_record_limits) or by hand in tests. A value of 0 for a cap means "no such record allowed"
/// except `dimension`, where 0 means "any dimension" (used by tools that do not know the index).
struct record_limits {
  std::uint32_t dimension = 0;                   ///< required vector length d; 0 = any
  std::uint32_t max_k = 1000;                    ///< largest k in a query request
  std::uint32_t max_nprobes = 4096;              ///< largest nprobes in a query request
  std::uint32_t max_refine_factor = 100;         ///< largest refine_factor in a query request
  std::uint32_t max_vectors_per_request = 1024;  ///< largest nq in a query request
  std::size_t max_request_bytes = 4u << 20;      ///< largest query request, bytes
  std::size_t max_batch_vectors = 100000;        ///< largest id count in an upsert/delete record
  std::size_t max_batch_bytes = 64u << 20;       ///< largest vectors record, bytes
};

/// Server-side values used when a query request leaves a field out.
struct query_defaults {
  std::uint32_t k = 10;
  std::uint32_t nprobes = 20;
  std::uint32_t refine_factor = 0;
  std::uint32_t deadline_ms = 1000;
};

/// The decoder limits of a service: index.dimension and the [caps] section.
record_limits make_record_limits(const service_config& config);
/// The request defaults of a service: [search] limit/nprobes/refine_factor, engine.query_deadline_ms.
query_defaults make_query_defaults(const service_config& config);

/// One decoded vectors-topic record.
enum class vector_record_kind : std::uint8_t { upsert = 1, remove = 2 };

/// A verified upsert or delete batch, copied out of the record bytes.
struct decoded_vector_record {
  vector_record_kind kind = vector_record_kind::upsert;
  std::vector<std::uint64_t> ids;   ///< n ids
  std::uint32_t dimension = 0;      ///< d (upsert); 0 for a delete
  std::vector<float> vectors;       ///< upsert: n × d floats, row-major; delete: empty
  std::uint64_t created_at_us = 0;  ///< producer clock, µs since epoch; 0 = unknown
};

/// A verified query request with defaults applied.
struct decoded_query_request {
  std::string correlation_id;
  std::string reply_topic;
  std::uint32_t dimension = 0;      ///< d
  std::uint32_t num_queries = 0;    ///< nq ≥ 1
  std::vector<float> vectors;       ///< nq × d floats, row-major
  search_params params;             ///< k (limit), nprobes, refine_factor, all within the caps
  std::uint32_t deadline_ms = 0;    ///< relative deadline, > 0 (default applied)
};

/// Where to send the reply to a request; available even when the rest of the request is invalid.
struct reply_address {
  std::string correlation_id;
  std::string reply_topic;
};

/// The nearest neighbours of one query, nearest first. ids.size() == distances.size().
struct query_hits {
  std::vector<std::uint64_t> ids;
  std::vector<float> distances;
};

/// A reply to a query request (also what decode_query_response returns to clients).
struct query_response {
  std::string correlation_id;
  std::vector<query_hits> results;              ///< one per query vector; empty on error
  bool partial = false;                         ///< some partitions missed the deadline
  std::vector<std::uint32_t> missing_partitions;///< partition actors that missed it or failed
  std::uint8_t error_code = 0;                  ///< 0 = ok, else an ivfstream::errc value
  std::string error_message;                    ///< empty when ok
  std::uint64_t server_time_us = 0;             ///< receipt → reply, µs
  std::vector<std::string> missing_peers;       ///< scale-out: peers (host:port) left out; partial when any
};

/// A record that was rejected, as written to the dead-letter topic.
struct dead_letter {
  std::string source_topic;
  std::int32_t source_partition = 0;
  std::int64_t source_offset = 0;
  std::uint8_t error_code = 0;       ///< an ivfstream::errc value
  std::string reason;                ///< names the bad value and the limit
  std::vector<std::uint8_t> payload; ///< the original record value
  std::vector<std::uint8_t> source_key;
  std::uint64_t rejected_at_us = 0;
};

/// The message key for a vectors record: the first id, 8 bytes big-endian (see schemas/README.md:
/// records with the same key keep their order; producers that touch one id in several records must
/// give those records the same key).
std::array<std::uint8_t, 8> vector_record_key(std::uint64_t id) noexcept;

/// Builds an upsert record. ids: n values; vectors: n × d floats, row-major.
/// @pre d ≥ 1 when n ≥ 1 (programmer error otherwise).
std::vector<std::uint8_t> encode_upserts(const std::uint64_t* ids, const float* vectors, std::size_t n,
                                         std::size_t d, std::uint64_t created_at_us = 0);
/// Builds a delete record for n ids.
std::vector<std::uint8_t> encode_deletes(const std::uint64_t* ids, std::size_t n,
                                         std::uint64_t created_at_us = 0);

/// Fields of a query request to encode; an empty optional leaves the field out (server default).
struct query_request_fields {
  std::string correlation_id;
  std::string reply_topic;
  std::uint32_t dimension = 0;
  const float* vectors = nullptr;   ///< num_queries × dimension floats, row-major
  std::uint32_t num_queries = 0;
  std::optional<std::uint32_t> k;
  std::optional<std::uint32_t> nprobes;
  std::optional<std::uint32_t> refine_factor;
  std::uint32_t deadline_ms = 0;    ///< 0 = server default
};
/// Builds a query request.
std::vector<std::uint8_t> encode_query_request(const query_request_fields& request);
/// Builds a reply record.
std::vector<std::uint8_t> encode_query_response(const query_response& response);
/// Builds a dead-letter record.
std::vector<std::uint8_t> encode_dead_letter(const dead_letter& letter);

/// Verifies and decodes a vectors-topic record. Errors: corrupt_data (not a FlatBuffer, wrong
/// identifier, failed Verifier, missing or inconsistent fields), version_mismatch,
/// dimension_mismatch, non_finite, resource_exhausted (over max_batch_vectors / max_batch_bytes).
result<decoded_vector_record> decode_vector_record(const std::uint8_t* bytes, std::size_t size,
                                                   const record_limits& limits);
/// Verifies and decodes a query request, applying `defaults` to absent fields. Errors as above,
/// plus invalid_argument (k = 0, bad reply topic or correlation id) and resource_exhausted (k,
/// nprobes, refine_factor, vectors per request or bytes over the caps).
result<decoded_query_request> decode_query_request(const std::uint8_t* bytes, std::size_t size,
                                                   const record_limits& limits,
                                                   const query_defaults& defaults);
/// The correlation id and reply topic of a request that passes the Verifier (even if other checks
/// fail), so that an error reply can be sent; nullopt if they cannot be read or the topic is invalid.
std::optional<reply_address> peek_reply_address(const std::uint8_t* bytes, std::size_t size);
/// Verifies and decodes a reply record (client side).
result<query_response> decode_query_response(const std::uint8_t* bytes, std::size_t size);
/// Verifies and decodes a dead-letter record.
result<dead_letter> decode_dead_letter(const std::uint8_t* bytes, std::size_t size);

/// Checks a Kafka topic name: 1..249 bytes of [A-Za-z0-9._-], not "." or "..".
status validate_topic_name(std::string_view what, std::string_view topic);

}  // namespace ivfstream::connectors
