#define BOOST_TEST_MODULE record_codec
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "connectors/record_codec.hpp"
#include "schemas/records_generated.h"

using namespace ivfstream;
using namespace ivfstream::connectors;

namespace {

record_limits limits_d(std::uint32_t d) {
  record_limits l;
  l.dimension = d;
  return l;
}

template <class T>
std::string error_of(const result<T>& r) {
  return r ? std::string("<ok>") : r.error().message();
}
template <class T>
errc code_of(const result<T>& r) {
  return r ? errc::internal : r.error().code();
}

std::vector<float> iota_vectors(std::size_t n, std::size_t d) {
  std::vector<float> v(n * d);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f - 3.0f;
  return v;
}

// A QueryRequest built by hand, so tests can write values the encoder would not.
std::vector<std::uint8_t> raw_query(std::uint32_t dim, const std::vector<float>& v, std::uint32_t k,
                                    std::uint16_t version = k_records_version, const char* topic = "replies") {
  flatbuffers::FlatBufferBuilder fbb;
  auto root = wire::CreateQueryRequestDirect(fbb, version, "c1", topic, dim, &v, k);
  fbb.Finish(root, k_query_request_identifier);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(upserts_round_trip_exactly) {
  const std::vector<std::uint64_t> ids{7, 1ull << 60, 3};
  const auto vecs = iota_vectors(3, 4);
  const auto bytes = encode_upserts(ids.data(), vecs.data(), 3, 4, 123456);
  BOOST_TEST(flatbuffers::BufferHasIdentifier(bytes.data(), "IVFV"));
  auto r = decode_vector_record(bytes.data(), bytes.size(), limits_d(4));
  BOOST_REQUIRE_MESSAGE(r.has_value(), error_of(r));
  BOOST_TEST((r->kind == vector_record_kind::upsert));
  BOOST_TEST(r->ids == ids, boost::test_tools::per_element());
  BOOST_TEST(r->vectors == vecs, boost::test_tools::per_element());
  BOOST_TEST(r->dimension == 4u);
  BOOST_TEST(r->created_at_us == 123456u);
}

BOOST_AUTO_TEST_CASE(deletes_round_trip_exactly) {
  const std::vector<std::uint64_t> ids{9, 8, 0};
  const auto bytes = encode_deletes(ids.data(), ids.size());
  auto r = decode_vector_record(bytes.data(), bytes.size(), limits_d(4));
  BOOST_REQUIRE_MESSAGE(r.has_value(), error_of(r));
  BOOST_TEST((r->kind == vector_record_kind::remove));
  BOOST_TEST(r->ids == ids, boost::test_tools::per_element());
  BOOST_TEST(r->vectors.empty());
}

BOOST_AUTO_TEST_CASE(misaligned_input_decodes) {
  const std::vector<std::uint64_t> ids{1, 2};
  const auto vecs = iota_vectors(2, 3);
  const auto bytes = encode_upserts(ids.data(), vecs.data(), 2, 3);
  std::vector<std::uint8_t> shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  auto r = decode_vector_record(shifted.data() + 1, bytes.size(), limits_d(3));
  BOOST_REQUIRE_MESSAGE(r.has_value(), error_of(r));
  BOOST_TEST(r->vectors == vecs, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vector_records_reject_bad_input_with_reasons) {
  const std::vector<std::uint64_t> ids{1, 2};
  auto vecs = iota_vectors(2, 4);
  const auto good = encode_upserts(ids.data(), vecs.data(), 2, 4);

  const std::string junk = "this is not a flatbuffer at all";
  auto r = decode_vector_record(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size(), limits_d(4));
  BOOST_TEST((code_of(r) == errc::corrupt_data));
  BOOST_TEST(error_of(r) == "not a VectorRecord: file identifier ' is ', expected 'IVFV'");

  r = decode_vector_record(good.data(), 3, limits_d(4));
  BOOST_TEST(error_of(r) == "not a VectorRecord: 3 bytes is too short for a FlatBuffer");

  auto truncated = good;
  truncated.resize(good.size() - 16);
  r = decode_vector_record(truncated.data(), truncated.size(), limits_d(4));
  BOOST_TEST((code_of(r) == errc::corrupt_data));
  BOOST_TEST(error_of(r).find("FlatBuffers Verifier rejected") != std::string::npos, error_of(r));

  // A query request on the vectors topic: right format family, wrong identifier.
  const std::vector<float> q(4, 1.0f);
  const auto query = raw_query(4, q, 5);
  r = decode_vector_record(query.data(), query.size(), limits_d(4));
  BOOST_TEST(error_of(r) == "not a VectorRecord: file identifier 'IVFQ', expected 'IVFV'");

  r = decode_vector_record(good.data(), good.size(), limits_d(8));
  BOOST_TEST((code_of(r) == errc::dimension_mismatch));
  BOOST_TEST(error_of(r) == "UpsertBatch dimension=4: the index dimension is 8");

  vecs[5] = std::numeric_limits<float>::quiet_NaN();
  auto nan_rec = encode_upserts(ids.data(), vecs.data(), 2, 4);
  r = decode_vector_record(nan_rec.data(), nan_rec.size(), limits_d(4));
  BOOST_TEST((code_of(r) == errc::non_finite));
  BOOST_TEST(error_of(r) == "UpsertBatch vectors[1][1]=nan: vectors must be finite");
  vecs[5] = -std::numeric_limits<float>::infinity();
  nan_rec = encode_upserts(ids.data(), vecs.data(), 2, 4);
  r = decode_vector_record(nan_rec.data(), nan_rec.size(), limits_d(4));
  BOOST_TEST(error_of(r) == "UpsertBatch vectors[1][1]=-inf: vectors must be finite");

  record_limits small = limits_d(4);
  small.max_batch_vectors = 1;
  r = decode_vector_record(good.data(), good.size(), small);
  BOOST_TEST((code_of(r) == errc::resource_exhausted));
  BOOST_TEST(error_of(r) == "UpsertBatch ids=2: over the limit of 1 per record");
  small = limits_d(4);
  small.max_batch_bytes = 64;
  r = decode_vector_record(good.data(), good.size(), small);
  BOOST_TEST(error_of(r) == "VectorRecord size=" + std::to_string(good.size()) +
                                " bytes: over the limit of 64 bytes");

  // Vectors length inconsistent with ids × dimension (built by hand).
  {
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<float> five(5, 1.0f);
    auto b = wire::CreateUpsertBatchDirect(fbb, &ids, 4, &five);
    fbb.Finish(wire::CreateVectorRecord(fbb, 1, wire::VectorBatch::UpsertBatch, b.Union()), "IVFV");
    r = decode_vector_record(fbb.GetBufferPointer(), fbb.GetSize(), limits_d(4));
    BOOST_TEST(error_of(r) == "UpsertBatch vectors length=5: must be ids (2) × dimension (4) = 8");
  }
  // Unknown version, missing batch, empty batch.
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto b = wire::CreateDeleteBatchDirect(fbb, &ids);
    fbb.Finish(wire::CreateVectorRecord(fbb, 2, wire::VectorBatch::DeleteBatch, b.Union()), "IVFV");
    r = decode_vector_record(fbb.GetBufferPointer(), fbb.GetSize(), limits_d(4));
    BOOST_TEST((code_of(r) == errc::version_mismatch));
    BOOST_TEST(error_of(r) == "VectorRecord version=2: this reader supports version 1");
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(wire::CreateVectorRecord(fbb, 1), "IVFV");
    r = decode_vector_record(fbb.GetBufferPointer(), fbb.GetSize(), limits_d(4));
    BOOST_TEST(error_of(r) == "VectorRecord batch_type=0: must be UpsertBatch (1) or DeleteBatch (2)");
  }
  const auto empty = encode_deletes(nullptr, 0);
  r = decode_vector_record(empty.data(), empty.size(), limits_d(4));
  BOOST_TEST(error_of(r) == "DeleteBatch has 0 ids: must be >= 1");
}

// Found by tests/fuzz (vector_record): a union whose type is set but whose table is absent passes
// the FlatBuffers Verifier; the decoder dereferenced the null batch.
BOOST_AUTO_TEST_CASE(vector_records_with_a_typed_but_absent_batch_are_corrupt) {
  for (auto type : {wire::VectorBatch::UpsertBatch, wire::VectorBatch::DeleteBatch}) {
    flatbuffers::FlatBufferBuilder fbb;
    auto root = wire::CreateVectorRecord(fbb, k_records_version, type, 0, 7);
    fbb.Finish(root, k_vector_record_identifier);
    auto r = decode_vector_record(fbb.GetBufferPointer(), fbb.GetSize(), limits_d(4));
    BOOST_TEST((code_of(r) == errc::corrupt_data));
    const std::string name = type == wire::VectorBatch::UpsertBatch ? "UpsertBatch" : "DeleteBatch";
    BOOST_TEST(error_of(r) == "VectorRecord batch_type=" + name + " but the batch is missing");
  }
}

BOOST_AUTO_TEST_CASE(query_requests_round_trip_with_defaults) {
  const auto q = iota_vectors(2, 4);
  query_request_fields f;
  f.correlation_id = "req-1";
  f.reply_topic = "my.replies";
  f.dimension = 4;
  f.vectors = q.data();
  f.num_queries = 2;
  f.k = 7;
  f.refine_factor = 0;  // explicit 0 must not be replaced by the default
  const auto bytes = encode_query_request(f);
  query_defaults defaults;
  defaults.nprobes = 13;
  defaults.refine_factor = 3;
  defaults.deadline_ms = 250;
  auto r = decode_query_request(bytes.data(), bytes.size(), limits_d(4), defaults);
  BOOST_REQUIRE_MESSAGE(r.has_value(), error_of(r));
  BOOST_TEST(r->correlation_id == "req-1");
  BOOST_TEST(r->reply_topic == "my.replies");
  BOOST_TEST(r->num_queries == 2u);
  BOOST_TEST(r->vectors == q, boost::test_tools::per_element());
  BOOST_TEST(r->params.limit == 7u);
  BOOST_TEST(r->params.nprobes == 13u);       // absent: server default
  BOOST_TEST(r->params.refine_factor == 0u);  // present: kept
  BOOST_TEST(r->deadline_ms == 250u);
  auto addr = peek_reply_address(bytes.data(), bytes.size());
  BOOST_REQUIRE(addr.has_value());
  BOOST_TEST(addr->correlation_id == "req-1");
  BOOST_TEST(addr->reply_topic == "my.replies");
}

BOOST_AUTO_TEST_CASE(query_requests_over_caps_are_rejected) {
  const std::vector<float> q(8, 0.25f);
  query_defaults defaults;
  record_limits lim = limits_d(4);
  lim.max_k = 100;
  auto bytes = raw_query(4, q, 101);
  auto r = decode_query_request(bytes.data(), bytes.size(), lim, defaults);
  BOOST_TEST((code_of(r) == errc::resource_exhausted));
  BOOST_TEST(error_of(r) == "QueryRequest k=101: over the limit max_k=100");
  // The reply address is still readable so that an error reply can be sent.
  BOOST_TEST(peek_reply_address(bytes.data(), bytes.size()).has_value());

  bytes = raw_query(4, q, 0);
  BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), lim, defaults)) ==
             "QueryRequest k=0: must be 1..100");
  lim.max_vectors_per_request = 1;
  bytes = raw_query(4, q, 5);
  BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), lim, defaults)) ==
             "QueryRequest vectors=2: over the limit of 1 per request");
  lim = limits_d(4);
  lim.max_nprobes = 4;
  {
    query_request_fields f;
    f.correlation_id = "c";
    f.reply_topic = "r";
    f.dimension = 4;
    f.vectors = q.data();
    f.num_queries = 2;
    f.nprobes = 5;
    bytes = encode_query_request(f);
    BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), lim, defaults)) ==
               "QueryRequest nprobes=5: over the limit max_nprobes=4");
    f.nprobes = 4;
    f.refine_factor = 1000;
    bytes = encode_query_request(f);
    BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), lim, defaults)) ==
               "QueryRequest refine_factor=1000: over the limit max_refine_factor=100");
  }
  lim = limits_d(4);
  lim.max_request_bytes = 100;
  bytes = raw_query(4, q, 5);
  BOOST_TEST((code_of(decode_query_request(bytes.data(), bytes.size(), lim, defaults)) == errc::resource_exhausted));

  bytes = raw_query(3, std::vector<float>(6, 1.0f), 5);
  BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), limits_d(4), defaults)) ==
             "QueryRequest dimension=3: the index dimension is 4");
  std::vector<float> inf_q = q;
  inf_q[6] = std::numeric_limits<float>::infinity();
  bytes = raw_query(4, inf_q, 5);
  BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), limits_d(4), defaults)) ==
             "QueryRequest vectors[1][2]=inf: vectors must be finite");
  bytes = raw_query(4, q, 5, 1, "bad topic!");
  BOOST_TEST(error_of(decode_query_request(bytes.data(), bytes.size(), limits_d(4), defaults)) ==
             "QueryRequest reply_topic='bad topic!': a Kafka topic name may contain only [A-Za-z0-9._-]");
  BOOST_TEST(!peek_reply_address(bytes.data(), bytes.size()).has_value());
}

BOOST_AUTO_TEST_CASE(responses_and_dead_letters_round_trip) {
  query_response resp;
  resp.correlation_id = "abc";
  resp.results = {{{1, 2, 3}, {0.5f, 1.5f, 2.5f}}, {{}, {}}};
  resp.partial = true;
  resp.missing_partitions = {3};
  resp.server_time_us = 42;
  auto bytes = encode_query_response(resp);
  auto r = decode_query_response(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(r.has_value(), error_of(r));
  BOOST_TEST(r->correlation_id == "abc");
  BOOST_REQUIRE(r->results.size() == 2u);
  BOOST_TEST(r->results[0].ids == resp.results[0].ids, boost::test_tools::per_element());
  BOOST_TEST(r->results[0].distances == resp.results[0].distances, boost::test_tools::per_element());
  BOOST_TEST(r->results[1].ids.empty());
  BOOST_TEST(r->partial);
  BOOST_TEST(r->missing_partitions == resp.missing_partitions, boost::test_tools::per_element());
  BOOST_TEST(r->error_code == 0u);
  BOOST_TEST(r->server_time_us == 42u);
  BOOST_TEST(r->missing_peers.empty());  // a single node's reply leaves the field out

  // A scale-out reply names the peers left out of the answer.
  resp.missing_peers = {"127.0.0.1:7402", "[::1]:7403"};
  bytes = encode_query_response(resp);
  r = decode_query_response(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(r.has_value(), error_of(r));
  BOOST_TEST(r->missing_peers == resp.missing_peers, boost::test_tools::per_element());

  dead_letter d;
  d.source_topic = "vectors";
  d.source_partition = 2;
  d.source_offset = 99;
  d.error_code = static_cast<std::uint8_t>(errc::non_finite);
  d.reason = "why";
  d.payload = {1, 2, 3};
  d.source_key = {9};
  bytes = encode_dead_letter(d);
  auto dl = decode_dead_letter(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(dl.has_value(), error_of(dl));
  BOOST_TEST(dl->source_topic == "vectors");
  BOOST_TEST(dl->source_partition == 2);
  BOOST_TEST(dl->source_offset == 99);
  BOOST_TEST(dl->error_code == static_cast<std::uint8_t>(errc::non_finite));
  BOOST_TEST(dl->reason == "why");
  BOOST_TEST(dl->payload == d.payload, boost::test_tools::per_element());
  BOOST_TEST(dl->source_key == d.source_key, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vector_record_key_is_big_endian_first_id) {
  const auto key = vector_record_key(0x0102030405060708ull);
  const std::vector<std::uint8_t> got(key.begin(), key.end());
  const std::vector<std::uint8_t> want{1, 2, 3, 4, 5, 6, 7, 8};
  BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mutated_records_decode_or_fail_cleanly) {
  // Flip, truncate and splice bytes of valid records: every result is a value or an error, never a
  // crash or an out-of-bounds read (run under IVFSTREAM_SANITIZE=address,undefined to check the latter).
  const std::vector<std::uint64_t> ids{1, 2, 3};
  const auto vecs = iota_vectors(3, 4);
  query_request_fields f;
  f.correlation_id = "c";
  f.reply_topic = "r";
  f.dimension = 4;
  f.vectors = vecs.data();
  f.num_queries = 3;
  f.k = 3;
  query_response resp;
  resp.correlation_id = "c";
  resp.results = {{{1, 2}, {0.5f, 1.0f}}};
  dead_letter dl;
  dl.payload = {1, 2, 3};
  const std::vector<std::vector<std::uint8_t>> seeds{encode_upserts(ids.data(), vecs.data(), 3, 4),
                                                     encode_deletes(ids.data(), 3), encode_query_request(f),
                                                     encode_query_response(resp), encode_dead_letter(dl)};
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::size_t ok = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<std::uint8_t> b = seeds[next() % seeds.size()];
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      switch (next() % 3) {
        case 0: b[next() % b.size()] ^= static_cast<std::uint8_t>(1u << (next() % 8)); break;
        case 1: b[next() % b.size()] = static_cast<std::uint8_t>(next()); break;
        default: b.resize(next() % b.size()); break;
      }
    }
    auto v = decode_vector_record(b.data(), b.size(), limits_d(4));
    auto q = decode_query_request(b.data(), b.size(), limits_d(4), query_defaults{});
    auto r = decode_query_response(b.data(), b.size());
    auto d = decode_dead_letter(b.data(), b.size());
    (void)peek_reply_address(b.data(), b.size());
    for (bool good : {v.has_value(), q.has_value(), r.has_value(), d.has_value()}) (good ? ok : rejected)++;
    if (v) {
      BOOST_TEST_REQUIRE(v->ids.size() >= 1u);
      BOOST_TEST_REQUIRE(v->vectors.size() == (v->kind == vector_record_kind::upsert ? v->ids.size() * 4 : 0u));
    }
    if (q) BOOST_TEST_REQUIRE(q->vectors.size() == std::size_t{q->num_queries} * 4);
  }
  BOOST_TEST_MESSAGE("mutations: " << ok << " decoded, " << rejected << " rejected");
  BOOST_TEST(rejected > 0u);
}
