// The peer wire format (schemas/peer.fbs via actors/peer_codec.hpp): round trips, and the decoders as
// the edge for bytes from the network (identifier, Verifier, caps, lengths, finiteness).
#define BOOST_TEST_MODULE peer_codec
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "actors/peer_codec.hpp"
#include "schemas/peer_generated.h"
#include "index/codebook_set.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;

namespace {

peer_request sample_request() {
  peer_request r;
  r.codebooks = {3, 0x1234abcdULL};
  r.dimension = 4;
  r.queries = {1, 2, 3, 4, 5, 6, 7, 8};
  r.params.limit = 5;
  r.params.nprobes = 7;
  r.params.refine_factor = 2;
  r.budget = std::chrono::microseconds(250000);
  return r;
}

peer_reply sample_reply() {
  peer_reply r;
  r.codebooks = {3, 0x1234abcdULL};
  r.results.resize(2);
  r.results[0].candidates = {{7, 0.5f, 0.25f}, {9, 0.75f, 0.5f}};
  r.results[1].candidates = {{11, 1.5f, 1.25f}};
  r.results[1].missing_partitions = {2};
  r.server_time_us = 42;
  r.held = {6, {1, 4}};
  return r;
}

std::string message_of(const error& e) { return e.to_string(); }

}  // namespace

BOOST_AUTO_TEST_CASE(request_round_trips) {
  const auto r = sample_request();
  auto back = decode_peer_request(encode_peer_request(r), peer_limits{});
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : message_of(back.error())));
  BOOST_TEST((back->codebooks == r.codebooks));
  BOOST_TEST(back->dimension == 4u);
  BOOST_TEST(back->queries == r.queries, boost::test_tools::per_element());
  BOOST_TEST(back->params.limit == 5u);
  BOOST_TEST(back->params.nprobes == 7u);
  BOOST_TEST(back->params.refine_factor == 2u);
  BOOST_TEST(back->budget.count() == 250000);
}

BOOST_AUTO_TEST_CASE(reply_round_trips) {
  const auto r = sample_reply();
  auto back = decode_peer_reply(encode_peer_reply(r), 2, 10, peer_limits{});
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : message_of(back.error())));
  BOOST_TEST(!back->failure);
  BOOST_TEST((back->codebooks == r.codebooks));
  BOOST_REQUIRE_EQUAL(back->results.size(), 2u);
  BOOST_REQUIRE_EQUAL(back->results[0].candidates.size(), 2u);
  BOOST_TEST(back->results[0].candidates[1].id == 9u);
  BOOST_TEST(back->results[0].candidates[1].distance == 0.75f);
  BOOST_TEST(back->results[0].candidates[1].exact_distance == 0.5f);
  BOOST_TEST(back->results[1].missing_partitions == std::vector<std::uint32_t>{2}, boost::test_tools::per_element());
  BOOST_TEST(back->server_time_us == 42u);
  BOOST_TEST(back->held.topic_partitions == 6u);
  BOOST_TEST(back->held.held == (std::vector<std::int32_t>{1, 4}), boost::test_tools::per_element());
}

// A coordinator excuses a down peer when the others hold every partition: a reply must not be able to
// claim partitions the topic does not have, nor count one twice.
BOOST_AUTO_TEST_CASE(held_partitions_outside_the_topic_or_out_of_order_are_corrupt_data) {
  for (const held_partitions& bad : {held_partitions{6, {1, 6}}, held_partitions{6, {-1, 2}}, held_partitions{6, {4, 1}},
                                     held_partitions{6, {2, 2}}, held_partitions{0, {0}},
                                     held_partitions{k_max_topic_partitions + 1, {}}}) {
    auto r = sample_reply();
    r.held = bad;
    auto back = decode_peer_reply(encode_peer_reply(r), 2, 10, peer_limits{});
    BOOST_REQUIRE(!back);
    BOOST_TEST((back.error().code() == errc::corrupt_data));
    BOOST_TEST(message_of(back.error()).find("PeerSearchReply") != std::string::npos, message_of(back.error()));
  }
  auto unknown = sample_reply();
  unknown.held = {};
  auto back = decode_peer_reply(encode_peer_reply(unknown), 2, 10, peer_limits{});
  BOOST_REQUIRE(back);
  BOOST_TEST(back->held.topic_partitions == 0u);
  BOOST_TEST(back->held.held.empty());
}

BOOST_AUTO_TEST_CASE(an_error_reply_carries_the_nodes_code_and_message) {
  peer_reply r;
  r.failure = fail(errc::version_mismatch, "codebooks version=2: this node has version=3");
  auto back = decode_peer_reply(encode_peer_reply(r), 5, 10, peer_limits{});
  BOOST_REQUIRE(back);
  BOOST_REQUIRE(back->failure);
  BOOST_TEST(back->failure->code() == errc::version_mismatch);
  BOOST_TEST(back->failure->message() == "codebooks version=2: this node has version=3");
}

BOOST_AUTO_TEST_CASE(garbage_and_foreign_bytes_are_corrupt_data) {
  std::vector<char> junk(64, '\x5a');
  auto a = decode_peer_request(junk, peer_limits{});
  BOOST_REQUIRE(!a);
  BOOST_TEST(a.error().code() == errc::corrupt_data);
  // A reply is not a request.
  auto b = decode_peer_request(encode_peer_reply(sample_reply()), peer_limits{});
  BOOST_REQUIRE(!b);
  BOOST_TEST(b.error().code() == errc::corrupt_data);
  BOOST_TEST(b.error().message().find("IVPQ") != std::string::npos, b.error().message());
  // Every truncation of a valid request is refused, never read past its end.
  const auto full = encode_peer_request(sample_request());
  for (std::size_t len = 0; len < full.size(); ++len) {
    auto t = decode_peer_request(std::vector<char>(full.begin(), full.begin() + len), peer_limits{});
    BOOST_TEST(!t, "prefix of " << len << " bytes decoded");
  }
}

BOOST_AUTO_TEST_CASE(requests_over_the_caps_are_resource_exhausted) {
  peer_limits limits;
  limits.caps.max_k = 4;
  auto a = decode_peer_request(encode_peer_request(sample_request()), limits);
  BOOST_REQUIRE(!a);
  BOOST_TEST(a.error().code() == errc::resource_exhausted);
  BOOST_TEST(a.error().message().find("caps.max_k=4") != std::string::npos, a.error().message());
  limits = {};
  limits.max_request_bytes = 16;
  auto b = decode_peer_request(encode_peer_request(sample_request()), limits);
  BOOST_REQUIRE(!b);
  BOOST_TEST(b.error().code() == errc::resource_exhausted);
}

BOOST_AUTO_TEST_CASE(non_finite_queries_and_bad_shapes_are_refused) {
  auto r = sample_request();
  r.queries[3] = std::nanf("");
  auto a = decode_peer_request(encode_peer_request(r), peer_limits{});
  BOOST_REQUIRE(!a);
  BOOST_TEST(a.error().code() == errc::non_finite);
  r = sample_request();
  r.dimension = 3;
  r.queries.resize(9);
  r.dimension = 3;
  auto ok = decode_peer_request(encode_peer_request(r), peer_limits{});
  BOOST_TEST(static_cast<bool>(ok));
}

BOOST_AUTO_TEST_CASE(replies_that_do_not_match_the_request_are_corrupt_data) {
  const auto bytes = encode_peer_reply(sample_reply());
  auto wrong_count = decode_peer_reply(bytes, 3, 10, peer_limits{});
  BOOST_REQUIRE(!wrong_count);
  BOOST_TEST(wrong_count.error().code() == errc::corrupt_data);
  auto too_many = decode_peer_reply(bytes, 2, 1, peer_limits{});
  BOOST_REQUIRE(!too_many);
  BOOST_TEST(too_many.error().message().find("more than the 1 asked for") != std::string::npos,
             too_many.error().message());
  auto inf = sample_reply();
  inf.results[0].candidates[0].distance = INFINITY;
  auto bad = decode_peer_reply(encode_peer_reply(inf), 2, 10, peer_limits{});
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().code() == errc::corrupt_data);
}

BOOST_AUTO_TEST_CASE(fingerprint_tells_codebooks_apart) {
  index_params p;
  p.dimension = 8;
  p.num_partitions = 4;
  p.num_sub_vectors = 2;
  p.num_bits = 4;
  p.max_iterations = 5;
  const auto x = test::clustered_data(500, 8, 6, 1);
  const auto y = test::clustered_data(500, 8, 6, 2);
  auto a = codebook_set::train(p, x.data(), 500);
  auto a2 = codebook_set::train(p, x.data(), 500);
  auto b = codebook_set::train(p, y.data(), 500);
  BOOST_REQUIRE(a && a2 && b);
  BOOST_TEST(codebook_fingerprint(**a) == codebook_fingerprint(**a2));  // same data, same seed
  BOOST_TEST(codebook_fingerprint(**a) != codebook_fingerprint(**b));
  BOOST_TEST((*a)->version() == (*b)->version());  // which the version alone would not show
}

BOOST_AUTO_TEST_CASE(fingerprint_tells_quantizer_kinds_apart_and_keeps_plain_pq_stable) {
  // Identical arrays under different kinds: rq and lsq share a layout, polysemous only changes how
  // codes are searched, so the kind itself must be hashed.
  index_params p;
  p.dimension = 8;
  p.num_partitions = 4;
  p.num_sub_vectors = 2;
  p.num_bits = 8;
  p.max_iterations = 3;
  p.quantizer = quantizer_kind::rq;
  const auto x = test::clustered_data(600, 8, 6, 1);
  auto rq = codebook_set::train(p, x.data(), 600);
  BOOST_REQUIRE(rq);
  auto as_lsq = p;
  as_lsq.quantizer = quantizer_kind::lsq;
  auto lsq = codebook_set::from_parts(as_lsq, 1, (*rq)->centroids(), (*rq)->pq_codebooks());
  BOOST_REQUIRE_MESSAGE(lsq, (lsq ? "" : lsq.error().to_string()));
  auto rq_again = codebook_set::from_parts(p, 1, (*rq)->centroids(), (*rq)->pq_codebooks());
  BOOST_REQUIRE(rq_again);
  BOOST_TEST(codebook_fingerprint(**rq) == codebook_fingerprint(**rq_again));
  BOOST_TEST(codebook_fingerprint(**rq) != codebook_fingerprint(**lsq));

  index_params q;
  q.dimension = 4;
  q.num_partitions = 2;
  q.num_sub_vectors = 2;
  q.num_bits = 8;
  std::vector<float> centroids(2 * 4), codebooks(2 * 256 * 2);
  for (std::size_t i = 0; i < centroids.size(); ++i) centroids[i] = 0.5f * static_cast<float>(i);
  for (std::size_t i = 0; i < codebooks.size(); ++i) codebooks[i] = 0.25f * static_cast<float>(i % 97);
  auto plain = codebook_set::from_parts(q, 1, centroids, codebooks);
  auto q_poly = q;
  q_poly.polysemous = true;
  auto poly = codebook_set::from_parts(q_poly, 1, centroids, codebooks);
  BOOST_REQUIRE(plain && poly);
  BOOST_TEST(codebook_fingerprint(**plain) != codebook_fingerprint(**poly));
  // A flat plain-PQ set hashes exactly as before the optional fields were added (value computed by
  // the code at d3859ac): codebook records already on a topic must keep verifying after an upgrade.
  BOOST_TEST(codebook_fingerprint(**plain) == 0xbf6cf2e8e2cdca9aULL);
}

// Found by fuzz_peer_message (scripts/fuzz.sh, 2026-11-27): a reply (2 queries, up to 10 candidates
// each) whose ids vector starts 4 bytes off 8-byte alignment. The FlatBuffers Verifier checks only the
// vector's 4-byte length prefix, so the decoder read the ids with misaligned 8-byte loads (UBSan:
// "load of misaligned address ... for type 'const unsigned long'"). It now copies each id; the
// reply is still refused (its second answer is inconsistent), with no misaligned load (CI's UBSan
// stage runs this suite; a normal x86 build does not fault on such loads).
BOOST_AUTO_TEST_CASE(a_reply_with_misaligned_ids_is_read_without_misaligned_loads) {
  const std::vector<unsigned char> raw = {
      0x1c, 0x00, 0x00, 0x00, 0x49, 0x56, 0x50, 0x52, 0x00, 0x00, 0x12, 0x00, 0x2c, 0x00, 0x2a, 0x00,
      0x1c, 0x00, 0x14, 0x00, 0x10, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x12, 0x00, 0x00, 0x00,
      0x2c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00,
      0x97, 0xfe, 0x15, 0x9a, 0x3c, 0xfd, 0x07, 0x75, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xc4, 0xff, 0xff, 0xff,
      0x2c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
      0x9a, 0x99, 0x99, 0x3e, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3e, 0x01, 0x00, 0x00, 0x00,
      0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x14, 0x00, 0x04, 0x00, 0x08, 0x00,
      0x0c, 0x00, 0x10, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
      0x0c, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0xa0, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x03, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x3f, 0x00, 0x49, 0x56, 0x52, 0x14, 0x00, 0xa0, 0x3f, 0x00, 0x00, 0x00, 0x40,
      0x03, 0x00, 0x00, 0x00, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
      0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
      0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
      0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
      0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
      0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
      0xcd, 0xcd, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  const std::vector<char> bytes(raw.begin(), raw.end());
  // The input is the case claimed: some answer's ids are not 8-byte aligned in the buffer.
  const auto* root = flatbuffers::GetRoot<ivfstream::peer::PeerSearchReply>(bytes.data());
  bool misaligned = false;
  for (const auto* q : *root->results())
    if (q->ids() && q->ids()->size() > 0)
      misaligned |= (reinterpret_cast<const char*>(q->ids()->Data()) - bytes.data()) % 8 != 0;
  BOOST_REQUIRE(misaligned);
  // results[0] (misaligned ids) is read before results[1] turns out inconsistent: corrupt_data, and
  // before the fix a misaligned load on the way.
  auto r = decode_peer_reply(bytes, 2, 10, peer_limits{});
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().code() == errc::corrupt_data);
  BOOST_TEST(r.error().message().find("results[1]") != std::string::npos, r.error().message());
}
