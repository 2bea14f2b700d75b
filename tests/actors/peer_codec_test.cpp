// The peer wire format (schemas/peer.fbs via actors/peer_codec.hpp): round trips, and the decoders as
// the edge for bytes from the network (identifier, Verifier, caps, lengths, finiteness).
#define BOOST_TEST_MODULE peer_codec
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "actors/peer_codec.hpp"
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
