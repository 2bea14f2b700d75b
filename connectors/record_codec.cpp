#include "connectors/record_codec.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <flatbuffers/flatbuffers.h>

#include "schemas/records_generated.h"

namespace ivfstream::connectors {
namespace wire = ivfstream::wire;

namespace {

// Verifier bounds: records are flat (depth ≤ 4) but a response may hold many QueryResult tables.
constexpr flatbuffers::uoffset_t k_max_depth = 16;
constexpr flatbuffers::uoffset_t k_max_tables = 1u << 20;

std::vector<std::uint8_t> finish(flatbuffers::FlatBufferBuilder& fbb) {
  const std::uint8_t* p = fbb.GetBufferPointer();
  return std::vector<std::uint8_t>(p, p + fbb.GetSize());
}

std::string sz(std::size_t v) { return std::to_string(v); }

// Common front door: size cap, identifier, Verifier. `root_name` appears in messages.
template <class Root>
result<const Root*> verify_root(const std::uint8_t* bytes, std::size_t size, const char* identifier,
                                const char* root_name, std::size_t max_bytes) {
  if (size > max_bytes) {
    return fail(errc::resource_exhausted, std::string(root_name) + " size=" + sz(size) +
                                              " bytes: over the limit of " + sz(max_bytes) + " bytes");
  }
  if (bytes == nullptr || size < sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength) {
    return fail(errc::corrupt_data, std::string("not a ") + root_name + ": " + sz(size) +
                                        " bytes is too short for a FlatBuffer");
  }
  if (!flatbuffers::BufferHasIdentifier(bytes, identifier)) {
    std::string found(reinterpret_cast<const char*>(bytes) + sizeof(flatbuffers::uoffset_t),
                      flatbuffers::kFileIdentifierLength);
    for (char& c : found) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    return fail(errc::corrupt_data, std::string("not a ") + root_name + ": file identifier '" + found +
                                        "', expected '" + identifier + "'");
  }
  flatbuffers::Verifier verifier(bytes, size, k_max_depth, k_max_tables);
  if (!verifier.VerifyBuffer<Root>(identifier)) {
    return fail(errc::corrupt_data, std::string(root_name) + ": FlatBuffers Verifier rejected the " +
                                        sz(size) + " bytes (truncated or malformed)");
  }
  return flatbuffers::GetRoot<Root>(bytes);
}

status check_version(const char* root_name, std::uint16_t version) {
  if (version != k_records_version) {
    return fail(errc::version_mismatch, std::string(root_name) + " version=" + std::to_string(version) +
                                            ": this reader supports version " +
                                            std::to_string(k_records_version));
  }
  return {};
}

// Checks every float of a row-major n × d block and reports the first non-finite one.
status check_finite(const char* what, const float* v, std::size_t n, std::size_t d) {
  for (std::size_t i = 0; i < n * d; ++i) {
    if (!std::isfinite(v[i])) {
      return fail(errc::non_finite, std::string(what) + "[" + sz(i / d) + "][" + sz(i % d) +
                                        "]=" + (std::isnan(v[i]) ? "nan" : (v[i] > 0 ? "inf" : "-inf")) +
                                        ": vectors must be finite");
    }
  }
  return {};
}

template <class T>
void copy_vector(const flatbuffers::Vector<T>* src, std::vector<T>& dst) {
  if (src == nullptr) return;
  dst.resize(src->size());
  // Little-endian scalars in the buffer; memcpy is exact on little-endian hosts, the loop elsewhere.
#if FLATBUFFERS_LITTLEENDIAN
  if (!dst.empty()) std::memcpy(dst.data(), src->Data(), dst.size() * sizeof(T));
#else
  for (flatbuffers::uoffset_t i = 0; i < src->size(); ++i) dst[i] = src->Get(i);
#endif
}

status check_correlation_id(const flatbuffers::String* id) {
  if (id == nullptr || id->size() == 0) {
    return fail(errc::invalid_argument, "QueryRequest correlation_id is empty: must be 1.." +
                                            sz(k_max_correlation_id_bytes) + " bytes");
  }
  if (id->size() > k_max_correlation_id_bytes) {
    return fail(errc::invalid_argument, "QueryRequest correlation_id length=" + sz(id->size()) +
                                            ": must be 1.." + sz(k_max_correlation_id_bytes) + " bytes");
  }
  return {};
}

// FlatBuffers reads scalars in place, which assumes the buffer starts 8-byte aligned; a Kafka payload
// points into a fetch buffer and may not be. Misaligned input is copied into aligned scratch first.
bool misaligned(const std::uint8_t* bytes) {
  return reinterpret_cast<std::uintptr_t>(bytes) % alignof(std::uint64_t) != 0;
}
template <class Fn>
auto with_aligned(const std::uint8_t* bytes, std::size_t size, Fn&& fn) {
  std::vector<std::uint64_t> scratch((size + 7) / 8);
  if (size != 0) std::memcpy(scratch.data(), bytes, size);
  return fn(reinterpret_cast<const std::uint8_t*>(scratch.data()));
}

}  // namespace

record_limits make_record_limits(const service_config& c) {
  record_limits l;
  l.dimension = static_cast<std::uint32_t>(c.index.dimension);
  l.max_k = c.caps.max_k;
  l.max_nprobes = c.caps.max_nprobes;
  l.max_refine_factor = c.caps.max_refine_factor;
  l.max_vectors_per_request = c.caps.max_vectors_per_request;
  l.max_request_bytes = static_cast<std::size_t>(c.caps.max_request_bytes);
  l.max_batch_vectors = static_cast<std::size_t>(c.caps.max_batch_vectors);
  l.max_batch_bytes = static_cast<std::size_t>(c.caps.max_batch_bytes);
  return l;
}

query_defaults make_query_defaults(const service_config& c) {
  query_defaults d;
  d.k = static_cast<std::uint32_t>(c.search.limit);
  d.nprobes = static_cast<std::uint32_t>(c.search.nprobes);
  d.refine_factor = static_cast<std::uint32_t>(c.search.refine_factor);
  d.deadline_ms = c.engine.query_deadline_ms;
  return d;
}

std::array<std::uint8_t, 8> vector_record_key(std::uint64_t id) noexcept {
  std::array<std::uint8_t, 8> key{};
  for (int i = 0; i < 8; ++i) key[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(id >> (56 - 8 * i));
  return key;
}

status validate_topic_name(std::string_view what, std::string_view topic) {
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument, std::string(what) + "='" + std::string(topic.substr(0, 64)) +
                                            (topic.size() > 64 ? "...'" : "'") + ": " + why);
  };
  if (topic.empty() || topic.size() > k_max_topic_name_bytes) {
    return bad("a Kafka topic name must be 1.." + sz(k_max_topic_name_bytes) + " bytes");
  }
  if (topic == "." || topic == "..") return bad("'.' and '..' are not valid Kafka topic names");
  for (char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return bad("a Kafka topic name may contain only [A-Za-z0-9._-]");
  }
  return {};
}

// ---- encoders -------------------------------------------------------------------------------

std::vector<std::uint8_t> encode_upserts(const std::uint64_t* ids, const float* vectors, std::size_t n,
                                         std::size_t d, std::uint64_t created_at_us) {
  IVF_ASSERT(n == 0 || (ids != nullptr && vectors != nullptr && d >= 1));
  IVF_ASSERT(d <= std::numeric_limits<std::uint32_t>::max());
  flatbuffers::FlatBufferBuilder fbb(64 + n * (8 + 4 * d));
  auto ids_off = fbb.CreateVector(ids, n);
  auto vec_off = fbb.CreateVector(vectors, n * d);
  auto batch = wire::CreateUpsertBatch(fbb, ids_off, static_cast<std::uint32_t>(d), vec_off);
  auto root = wire::CreateVectorRecord(fbb, k_records_version, wire::VectorBatch::UpsertBatch,
                                       batch.Union(), created_at_us);
  fbb.Finish(root, k_vector_record_identifier);
  return finish(fbb);
}

std::vector<std::uint8_t> encode_deletes(const std::uint64_t* ids, std::size_t n,
                                         std::uint64_t created_at_us) {
  IVF_ASSERT(n == 0 || ids != nullptr);
  flatbuffers::FlatBufferBuilder fbb(64 + n * 8);
  auto ids_off = fbb.CreateVector(ids, n);
  auto batch = wire::CreateDeleteBatch(fbb, ids_off);
  auto root = wire::CreateVectorRecord(fbb, k_records_version, wire::VectorBatch::DeleteBatch,
                                       batch.Union(), created_at_us);
  fbb.Finish(root, k_vector_record_identifier);
  return finish(fbb);
}

std::vector<std::uint8_t> encode_query_request(const query_request_fields& r) {
  const std::size_t nf = std::size_t{r.num_queries} * r.dimension;
  IVF_ASSERT(nf == 0 || r.vectors != nullptr);
  flatbuffers::FlatBufferBuilder fbb(256 + nf * 4);
  auto cid = fbb.CreateString(r.correlation_id);
  auto topic = fbb.CreateString(r.reply_topic);
  auto vecs = fbb.CreateVector(r.vectors, nf);
  auto opt = [](const std::optional<std::uint32_t>& v) {
    return v ? flatbuffers::Optional<std::uint32_t>(*v) : flatbuffers::Optional<std::uint32_t>();
  };
  auto root = wire::CreateQueryRequest(fbb, k_records_version, cid, topic, r.dimension, vecs, opt(r.k),
                                       opt(r.nprobes), opt(r.refine_factor), r.deadline_ms);
  fbb.Finish(root, k_query_request_identifier);
  return finish(fbb);
}

std::vector<std::uint8_t> encode_query_response(const query_response& r) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto cid = fbb.CreateString(r.correlation_id);
  std::vector<flatbuffers::Offset<wire::QueryResult>> results;
  results.reserve(r.results.size());
  for (const query_hits& h : r.results) {
    IVF_ASSERT(h.ids.size() == h.distances.size());
    auto ids = fbb.CreateVector(h.ids);
    auto dists = fbb.CreateVector(h.distances);
    results.push_back(wire::CreateQueryResult(fbb, ids, dists));
  }
  auto results_off = fbb.CreateVector(results);
  auto missing = fbb.CreateVector(r.missing_partitions);
  auto msg = fbb.CreateString(r.error_message);
  // An empty list is left out (absent field): replies of a single node are byte-identical to before.
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> peers;
  if (!r.missing_peers.empty()) peers = fbb.CreateVectorOfStrings(r.missing_peers);
  auto root = wire::CreateQueryResponse(fbb, k_records_version, cid, results_off, r.partial, missing,
                                        r.error_code, msg, r.server_time_us, peers);
  fbb.Finish(root, k_query_response_identifier);
  return finish(fbb);
}

std::vector<std::uint8_t> encode_dead_letter(const dead_letter& d) {
  flatbuffers::FlatBufferBuilder fbb(256 + d.payload.size() + d.source_key.size());
  auto topic = fbb.CreateString(d.source_topic);
  auto reason = fbb.CreateString(d.reason);
  auto payload = fbb.CreateVector(d.payload);
  auto key = fbb.CreateVector(d.source_key);
  auto root = wire::CreateDeadLetter(fbb, k_records_version, topic, d.source_partition, d.source_offset,
                                     d.error_code, reason, payload, key, d.rejected_at_us);
  fbb.Finish(root, k_dead_letter_identifier);
  return finish(fbb);
}

// ---- decoders -------------------------------------------------------------------------------

result<decoded_vector_record> decode_vector_record(const std::uint8_t* bytes, std::size_t size,
                                                   const record_limits& limits) {
  if (misaligned(bytes)) {
    return with_aligned(bytes, size, [&](const std::uint8_t* b) { return decode_vector_record(b, size, limits); });
  }
  auto root_r = verify_root<wire::VectorRecord>(bytes, size, k_vector_record_identifier, "VectorRecord",
                                                limits.max_batch_bytes);
  if (!root_r) return std::move(root_r).error();
  const wire::VectorRecord* root = *root_r;
  IVF_TRY(check_version("VectorRecord", root->version()));

  decoded_vector_record out;
  out.created_at_us = root->created_at_us();
  const flatbuffers::Vector<std::uint64_t>* ids = nullptr;
  switch (root->batch_type()) {
    case wire::VectorBatch::UpsertBatch: {
      const wire::UpsertBatch* b = root->batch_as_UpsertBatch();
      // The Verifier accepts a union whose type is set but whose table is absent.
      if (b == nullptr) return fail(errc::corrupt_data, "VectorRecord batch_type=UpsertBatch but the batch is missing");
      out.kind = vector_record_kind::upsert;
      ids = b->ids();
      const std::size_t n = ids ? ids->size() : 0;
      const std::size_t d = b->dimension();
      if (d == 0) return fail(errc::corrupt_data, "UpsertBatch dimension=0: must be >= 1");
      if (limits.dimension != 0 && d != limits.dimension) {
        return fail(errc::dimension_mismatch, "UpsertBatch dimension=" + sz(d) +
                                                  ": the index dimension is " + sz(limits.dimension));
      }
      const std::size_t nv = b->vectors() ? b->vectors()->size() : 0;
      // n ≤ 2^32 and d < 2^32, so n · d fits in 64 bits.
      if (nv != n * d) {
        return fail(errc::corrupt_data, "UpsertBatch vectors length=" + sz(nv) + ": must be ids (" +
                                            sz(n) + ") × dimension (" + sz(d) + ") = " + sz(n * d));
      }
      out.dimension = static_cast<std::uint32_t>(d);
      break;
    }
    case wire::VectorBatch::DeleteBatch:
      out.kind = vector_record_kind::remove;
      if (root->batch_as_DeleteBatch() == nullptr)
        return fail(errc::corrupt_data, "VectorRecord batch_type=DeleteBatch but the batch is missing");
      ids = root->batch_as_DeleteBatch()->ids();
      break;
    default:
      return fail(errc::corrupt_data, "VectorRecord batch_type=" +
                                          std::to_string(static_cast<int>(root->batch_type())) +
                                          ": must be UpsertBatch (1) or DeleteBatch (2)");
  }
  const std::size_t n = ids ? ids->size() : 0;
  const char* kind_name = out.kind == vector_record_kind::upsert ? "UpsertBatch" : "DeleteBatch";
  if (n == 0) return fail(errc::invalid_argument, std::string(kind_name) + " has 0 ids: must be >= 1");
  if (n > limits.max_batch_vectors) {
    return fail(errc::resource_exhausted, std::string(kind_name) + " ids=" + sz(n) +
                                              ": over the limit of " + sz(limits.max_batch_vectors) +
                                              " per record");
  }
  if (out.kind == vector_record_kind::upsert) {
    copy_vector(root->batch_as_UpsertBatch()->vectors(), out.vectors);
    IVF_TRY(check_finite("UpsertBatch vectors", out.vectors.data(), n, out.dimension));
  }
  copy_vector(ids, out.ids);
  return out;
}

std::optional<reply_address> peek_reply_address(const std::uint8_t* bytes, std::size_t size) {
  if (misaligned(bytes)) {
    return with_aligned(bytes, size, [&](const std::uint8_t* b) { return peek_reply_address(b, size); });
  }
  auto root_r = verify_root<wire::QueryRequest>(bytes, size, k_query_request_identifier, "QueryRequest",
                                                std::numeric_limits<std::size_t>::max());
  if (!root_r) return std::nullopt;
  const wire::QueryRequest* root = *root_r;
  if (!check_correlation_id(root->correlation_id()) || root->reply_topic() == nullptr) return std::nullopt;
  std::string topic = root->reply_topic()->str();
  if (!validate_topic_name("reply_topic", topic)) return std::nullopt;
  return reply_address{root->correlation_id()->str(), std::move(topic)};
}

result<decoded_query_request> decode_query_request(const std::uint8_t* bytes, std::size_t size,
                                                   const record_limits& limits,
                                                   const query_defaults& defaults) {
  if (misaligned(bytes)) {
    return with_aligned(bytes, size, [&](const std::uint8_t* b) { return decode_query_request(b, size, limits, defaults); });
  }
  auto root_r = verify_root<wire::QueryRequest>(bytes, size, k_query_request_identifier, "QueryRequest",
                                                limits.max_request_bytes);
  if (!root_r) return std::move(root_r).error();
  const wire::QueryRequest* root = *root_r;
  IVF_TRY(check_version("QueryRequest", root->version()));
  IVF_TRY(check_correlation_id(root->correlation_id()));
  if (root->reply_topic() == nullptr) {
    return fail(errc::invalid_argument, "QueryRequest reply_topic is missing: must be a Kafka topic name");
  }
  IVF_TRY(validate_topic_name("QueryRequest reply_topic", root->reply_topic()->string_view()));

  const std::size_t d = root->dimension();
  if (d == 0) return fail(errc::corrupt_data, "QueryRequest dimension=0: must be >= 1");
  if (limits.dimension != 0 && d != limits.dimension) {
    return fail(errc::dimension_mismatch,
                "QueryRequest dimension=" + sz(d) + ": the index dimension is " + sz(limits.dimension));
  }
  const std::size_t nv = root->vectors() ? root->vectors()->size() : 0;
  if (nv == 0) return fail(errc::invalid_argument, "QueryRequest has 0 query vectors: must be >= 1");
  if (nv % d != 0) {
    return fail(errc::corrupt_data, "QueryRequest vectors length=" + sz(nv) +
                                        ": must be a multiple of dimension=" + sz(d));
  }
  const std::size_t nq = nv / d;
  if (nq > limits.max_vectors_per_request) {
    return fail(errc::resource_exhausted, "QueryRequest vectors=" + sz(nq) + ": over the limit of " +
                                              sz(limits.max_vectors_per_request) + " per request");
  }
  decoded_query_request out;
  const std::uint32_t k = root->k().value_or(defaults.k);
  const std::uint32_t nprobes = root->nprobes().value_or(defaults.nprobes);
  const std::uint32_t refine = root->refine_factor().value_or(defaults.refine_factor);
  if (k == 0) return fail(errc::invalid_argument, "QueryRequest k=0: must be 1.." + sz(limits.max_k));
  if (k > limits.max_k) {
    return fail(errc::resource_exhausted, "QueryRequest k=" + sz(k) + ": over the limit max_k=" + sz(limits.max_k));
  }
  if (nprobes == 0) {
    return fail(errc::invalid_argument, "QueryRequest nprobes=0: must be 1.." + sz(limits.max_nprobes));
  }
  if (nprobes > limits.max_nprobes) {
    return fail(errc::resource_exhausted,
                "QueryRequest nprobes=" + sz(nprobes) + ": over the limit max_nprobes=" + sz(limits.max_nprobes));
  }
  if (refine > limits.max_refine_factor) {
    return fail(errc::resource_exhausted, "QueryRequest refine_factor=" + sz(refine) +
                                              ": over the limit max_refine_factor=" +
                                              sz(limits.max_refine_factor));
  }
  out.correlation_id = root->correlation_id()->str();
  out.reply_topic = root->reply_topic()->str();
  out.dimension = static_cast<std::uint32_t>(d);
  out.num_queries = static_cast<std::uint32_t>(nq);
  copy_vector(root->vectors(), out.vectors);
  IVF_TRY(check_finite("QueryRequest vectors", out.vectors.data(), nq, d));
  out.params.limit = k;
  out.params.nprobes = nprobes;
  out.params.refine_factor = refine;
  out.deadline_ms = root->deadline_ms() != 0 ? root->deadline_ms() : defaults.deadline_ms;
  return out;
}

result<query_response> decode_query_response(const std::uint8_t* bytes, std::size_t size) {
  if (misaligned(bytes)) {
    return with_aligned(bytes, size, [&](const std::uint8_t* b) { return decode_query_response(b, size); });
  }
  auto root_r = verify_root<wire::QueryResponse>(bytes, size, k_query_response_identifier,
                                                 "QueryResponse", std::numeric_limits<std::size_t>::max());
  if (!root_r) return std::move(root_r).error();
  const wire::QueryResponse* root = *root_r;
  IVF_TRY(check_version("QueryResponse", root->version()));
  query_response out;
  if (root->correlation_id()) out.correlation_id = root->correlation_id()->str();
  if (const auto* results = root->results()) {
    out.results.resize(results->size());
    for (flatbuffers::uoffset_t i = 0; i < results->size(); ++i) {
      const wire::QueryResult* r = results->Get(i);
      copy_vector(r->ids(), out.results[i].ids);
      copy_vector(r->distances(), out.results[i].distances);
      if (out.results[i].ids.size() != out.results[i].distances.size()) {
        return fail(errc::corrupt_data, "QueryResponse results[" + sz(i) + "]: ids=" +
                                            sz(out.results[i].ids.size()) + " but distances=" +
                                            sz(out.results[i].distances.size()) + ": must be equal");
      }
    }
  }
  out.partial = root->partial();
  copy_vector(root->missing_partitions(), out.missing_partitions);
  out.error_code = root->error_code();
  if (root->error_message()) out.error_message = root->error_message()->str();
  out.server_time_us = root->server_time_us();
  if (const auto* peers = root->missing_peers()) {
    for (flatbuffers::uoffset_t i = 0; i < peers->size(); ++i) {
      const auto* name = peers->Get(i);
      if (name == nullptr) return fail(errc::corrupt_data, "QueryResponse missing_peers[" + sz(i) + "]: null string");
      out.missing_peers.push_back(name->str());
    }
  }
  return out;
}

result<dead_letter> decode_dead_letter(const std::uint8_t* bytes, std::size_t size) {
  if (misaligned(bytes)) {
    return with_aligned(bytes, size, [&](const std::uint8_t* b) { return decode_dead_letter(b, size); });
  }
  auto root_r = verify_root<wire::DeadLetter>(bytes, size, k_dead_letter_identifier, "DeadLetter",
                                              std::numeric_limits<std::size_t>::max());
  if (!root_r) return std::move(root_r).error();
  const wire::DeadLetter* root = *root_r;
  IVF_TRY(check_version("DeadLetter", root->version()));
  dead_letter out;
  if (root->source_topic()) out.source_topic = root->source_topic()->str();
  out.source_partition = root->source_partition();
  out.source_offset = root->source_offset();
  out.error_code = root->error_code();
  if (root->reason()) out.reason = root->reason()->str();
  copy_vector(root->payload(), out.payload);
  copy_vector(root->source_key(), out.source_key);
  out.rejected_at_us = root->rejected_at_us();
  return out;
}

}  // namespace ivfstream::connectors
