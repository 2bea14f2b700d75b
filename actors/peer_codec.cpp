#include "actors/peer_codec.hpp"

#include <cmath>
#include <cstring>

#include <flatbuffers/flatbuffers.h>

#include "actors/internal/flatbuffer_edge.hpp"

#include "schemas/peer_generated.h"

namespace ivfstream::actors {
namespace fb = ivfstream::peer;

namespace {

constexpr std::uint16_t k_peer_format_version = 1;
constexpr const char* k_request_identifier = "IVPQ";
constexpr const char* k_reply_identifier = "IVPR";
// Verifier bounds: a reply holds one PeerCandidates table per query (≤ caps.max_vectors_per_request).
constexpr flatbuffers::uoffset_t k_max_depth = 8;
constexpr flatbuffers::uoffset_t k_max_tables = 1u << 20;
// Largest error message kept from a peer (it is echoed into replies and logs).
constexpr std::size_t k_max_error_message = 4096;

std::string sz(std::uint64_t v) { return std::to_string(v); }

bool all_finite(const flatbuffers::Vector<float>* v) {
  if (!v) return true;
  for (float x : *v)
    if (!std::isfinite(x)) return false;
  return true;
}

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

std::uint64_t fnv1a_u64(std::uint64_t h, std::uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));  // little-endian
  return fnv1a(h, b, sizeof b);
}

std::uint64_t fnv1a_floats(std::uint64_t h, const std::vector<float>& v) {
  for (float x : v) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    h = fnv1a_u64(h, bits);  // each float as its 32-bit pattern widened to 8 little-endian bytes
  }
  return h;
}

}  // namespace

std::uint64_t codebook_fingerprint(const codebook_set& cb) {
  const auto& p = cb.params();
  std::uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a_u64(h, p.dimension);
  h = fnv1a_u64(h, static_cast<std::uint64_t>(p.metric));
  h = fnv1a_u64(h, p.num_partitions);
  h = fnv1a_u64(h, p.num_sub_vectors);
  h = fnv1a_u64(h, p.num_bits);
  h = fnv1a_u64(h, p.opq ? 1 : 0);
  if (p.imi()) h = fnv1a_u64(fnv1a_u64(h, 0x696d69), p.imi_bits);  // flat leaves the hash as before
  // rq and lsq share one layout (their arrays alone would not tell them apart); pq leaves the hash as
  // before, so codebook records written by older versions still verify.
  if (p.additive()) h = fnv1a_u64(fnv1a_u64(h, 0x6171), static_cast<std::uint64_t>(p.quantizer));
  if (p.polysemous) h = fnv1a_u64(h, 0x706f6c79);  // the permuted codes are searched with a Hamming filter
  h = fnv1a_floats(h, cb.centroids());
  h = fnv1a_floats(h, cb.pq_codebooks());
  if (const local_codebooks* local = cb.local()) {  // LOPQ; without it the hash is as before
    h = fnv1a_u64(h, 0x6c6f7071);
    for (std::uint32_t g : local->list_group()) h = fnv1a_u64(h, g);
    h = fnv1a_floats(h, local->rotations());
    h = fnv1a_floats(h, local->pq_codebooks());
  }
  return fnv1a_floats(h, cb.rotation());
}

std::vector<char> encode_peer_request(const peer_request& r) {
  IVF_ASSERT(r.dimension > 0 && r.queries.size() % r.dimension == 0);
  flatbuffers::FlatBufferBuilder fbb(64 + r.queries.size() * sizeof(float));
  auto vectors = fbb.CreateVector(r.queries);
  fb::PeerSearchRequestBuilder b(fbb);
  b.add_version(k_peer_format_version);
  b.add_codebook_version(r.codebooks.version);
  b.add_codebook_fingerprint(r.codebooks.fingerprint);
  b.add_dimension(r.dimension);
  b.add_vectors(vectors);
  b.add_k(static_cast<std::uint32_t>(r.params.limit));
  b.add_nprobes(static_cast<std::uint32_t>(r.params.nprobes));
  b.add_refine_factor(static_cast<std::uint32_t>(r.params.refine_factor));
  b.add_polysemous_ht(static_cast<std::uint32_t>(r.params.polysemous_ht));
  b.add_budget_us(static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.budget.count())));
  fbb.Finish(b.Finish(), k_request_identifier);
  return internal::finish(fbb);
}

result<peer_request> decode_peer_request(const std::vector<char>& bytes, const peer_limits& limits) {
  auto root = internal::verify_root<fb::PeerSearchRequest>(bytes, k_request_identifier, "PeerSearchRequest",
                                                     limits.max_request_bytes, k_peer_format_version, k_max_depth, k_max_tables);
  if (!root) return std::move(root).error();
  const fb::PeerSearchRequest& m = **root;
  peer_request out;
  out.codebooks = {m.codebook_version(), m.codebook_fingerprint()};
  out.dimension = m.dimension();
  if (out.dimension == 0) return fail(errc::invalid_argument, "PeerSearchRequest dimension=0: must be >= 1");
  const std::size_t n = internal::length(m.vectors());
  if (n == 0 || n % out.dimension != 0)
    return fail(errc::corrupt_data, "PeerSearchRequest vectors: " + sz(n) + " floats is not nq × dimension " +
                                        sz(out.dimension) + " with nq >= 1");
  if (!all_finite(m.vectors())) return fail(errc::non_finite, "PeerSearchRequest vectors: must be finite");
  out.params.limit = m.k();
  out.params.nprobes = m.nprobes();
  out.params.refine_factor = m.refine_factor();
  out.params.polysemous_ht = m.polysemous_ht();
  if (out.params.limit == 0) return fail(errc::invalid_argument, "PeerSearchRequest k=0: must be >= 1");
  if (out.params.nprobes == 0) return fail(errc::invalid_argument, "PeerSearchRequest nprobes=0: must be >= 1");
  IVF_TRY(query_admission(limits.caps).check(out.params, n / out.dimension));
  out.queries.assign(m.vectors()->begin(), m.vectors()->end());
  out.budget = std::chrono::microseconds(static_cast<std::int64_t>(
      std::min<std::uint64_t>(m.budget_us(), std::uint64_t{3600} * 1000000)));  // at most an hour
  return out;
}

std::vector<char> encode_peer_reply(const peer_reply& r) {
  flatbuffers::FlatBufferBuilder fbb(256);
  std::vector<flatbuffers::Offset<fb::PeerCandidates>> results;
  if (!r.failure) {
    results.reserve(r.results.size());
    std::vector<std::uint64_t> ids;
    std::vector<float> dist, exact;
    for (const auto& q : r.results) {
      ids.clear();
      dist.clear();
      exact.clear();
      for (const auto& c : q.candidates) {
        ids.push_back(c.id);
        dist.push_back(c.distance);
        exact.push_back(c.exact_distance);
      }
      auto fi = fbb.CreateVector(ids);
      auto fd = fbb.CreateVector(dist);
      auto fe = fbb.CreateVector(exact);
      auto fm = fbb.CreateVector(q.missing_partitions);
      results.push_back(fb::CreatePeerCandidates(fbb, fi, fd, fe, fm));
    }
  }
  auto fr = fbb.CreateVector(results);
  auto msg = r.failure ? fbb.CreateString(r.failure->message()) : fbb.CreateString("");
  auto held = fbb.CreateVector(r.held.held);
  fb::PeerSearchReplyBuilder b(fbb);
  b.add_version(k_peer_format_version);
  b.add_codebook_version(r.codebooks.version);
  b.add_codebook_fingerprint(r.codebooks.fingerprint);
  b.add_results(fr);
  b.add_error_code(r.failure ? static_cast<std::uint8_t>(r.failure->code()) : 0);
  b.add_error_message(msg);
  b.add_server_time_us(r.server_time_us);
  b.add_topic_partitions(r.held.topic_partitions);
  b.add_held_partitions(held);
  fbb.Finish(b.Finish(), k_reply_identifier);
  return internal::finish(fbb);
}

result<peer_reply> decode_peer_reply(const std::vector<char>& bytes, std::size_t num_queries,
                                     std::size_t max_candidates, const peer_limits& limits) {
  auto root = internal::verify_root<fb::PeerSearchReply>(bytes, k_reply_identifier, "PeerSearchReply",
                                                     limits.max_reply_bytes, k_peer_format_version, k_max_depth, k_max_tables);
  if (!root) return std::move(root).error();
  const fb::PeerSearchReply& m = **root;
  peer_reply out;
  out.codebooks = {m.codebook_version(), m.codebook_fingerprint()};
  out.server_time_us = m.server_time_us();
  // The node's share of the vectors topic: held partitions strictly ascending below topic_partitions,
  // so that a coordinator never counts a partition a hostile or broken reply only pretends to hold.
  const std::uint32_t topic_partitions = m.topic_partitions();
  if (topic_partitions > k_max_topic_partitions)
    return fail(errc::corrupt_data, "PeerSearchReply topic_partitions=" + sz(topic_partitions) + ": at most " +
                                        sz(k_max_topic_partitions));
  if (const auto* held = m.held_partitions()) {
    if (held->size() > topic_partitions)
      return fail(errc::corrupt_data, "PeerSearchReply held_partitions: " + sz(held->size()) +
                                          " entries for topic_partitions=" + sz(topic_partitions));
    std::int64_t previous = -1;
    for (flatbuffers::uoffset_t j = 0; j < held->size(); ++j) {
      const std::int32_t p = held->Get(j);
      if (p <= previous || static_cast<std::int64_t>(p) >= static_cast<std::int64_t>(topic_partitions))
        return fail(errc::corrupt_data, "PeerSearchReply held_partitions[" + sz(j) + "]=" + std::to_string(p) +
                                            ": must ascend strictly within [0, " + sz(topic_partitions) + ")");
      previous = p;
      out.held.held.push_back(p);
    }
  }
  out.held.topic_partitions = topic_partitions;
  if (m.error_code() != 0) {
    const auto code = m.error_code();
    const bool known = code >= static_cast<std::uint8_t>(errc::invalid_argument) &&
                       code <= static_cast<std::uint8_t>(errc::internal);
    std::string msg = m.error_message() ? m.error_message()->str() : std::string();
    if (msg.size() > k_max_error_message) msg.resize(k_max_error_message);
    out.failure = fail(known ? static_cast<errc>(code) : errc::internal,
                       known ? msg : "unknown error code " + sz(code) + ": " + msg);
    return out;
  }
  const std::size_t nr = internal::length(m.results());
  if (nr != num_queries)
    return fail(errc::corrupt_data, "PeerSearchReply results: " + sz(nr) + " answers to " + sz(num_queries) +
                                        " queries");
  out.results.resize(nr);
  for (std::size_t i = 0; i < nr; ++i) {
    const fb::PeerCandidates* q = m.results()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const std::size_t n = internal::length(q->ids());
    const std::string where = "PeerSearchReply results[" + sz(i) + "]";
    if (n > max_candidates)
      return fail(errc::corrupt_data, where + ": " + sz(n) + " candidates, more than the " + sz(max_candidates) +
                                          " asked for");
    if (internal::length(q->distances()) != n || internal::length(q->exact_distances()) != n)
      return fail(errc::corrupt_data, where + ": " + sz(n) + " ids but " + sz(internal::length(q->distances())) +
                                          " distances and " + sz(internal::length(q->exact_distances())) + " exact distances");
    if (!all_finite(q->distances()) || !all_finite(q->exact_distances()))
      return fail(errc::corrupt_data, where + ": distances must be finite");
    auto& dst = out.results[i];
    dst.candidates.resize(n);
    // The Verifier checks a vector's 4-byte length prefix, not that 8-byte elements are 8-aligned: a
    // hostile buffer can place ids at 4 mod 8 (our encoder never does), so each is read with memcpy.
    const auto* id_bytes = n ? reinterpret_cast<const unsigned char*>(q->ids()->Data()) : nullptr;
    for (flatbuffers::uoffset_t j = 0; j < n; ++j) {
      std::uint64_t id;
      std::memcpy(&id, id_bytes + std::size_t{j} * sizeof id, sizeof id);
      dst.candidates[j] = scan_candidate{flatbuffers::EndianScalar(id), q->distances()->Get(j),
                                         q->exact_distances()->Get(j)};
    }
    if (q->missing_partitions()) dst.missing_partitions.assign(q->missing_partitions()->begin(), q->missing_partitions()->end());
  }
  return out;
}

}  // namespace ivfstream::actors
