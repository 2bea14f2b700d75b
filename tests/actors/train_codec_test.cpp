// The bytes of distributed training (actors/train_codec.hpp, schemas/training.fbs): round trips, and
// every malformed or mismatched message refused with a message naming what is wrong.
#define BOOST_TEST_MODULE train_codec
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "actors/train_codec.hpp"
#include "schemas/training_generated.h"
#include "index/distributed_training.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;

namespace {

index_params shape() {
  index_params p;
  p.dimension = 8;
  p.num_partitions = 4;
  p.num_sub_vectors = 2;
  p.num_bits = 4;
  return p;
}

train_request request(train_phase phase) {
  const index_params p = shape();
  train_request r;
  r.round = 77;
  r.phase = phase;
  r.dimension = 8;
  r.num_partitions = 4;
  r.num_sub_vectors = 2;
  r.num_bits = 4;
  const auto x = test::clustered_data(64, 8, 4, 5);
  r.coarse.assign(x.begin(), x.begin() + 4 * 8);
  if (phase == train_phase::pq) r.pq.assign(x.begin(), x.begin() + p.ksub() * p.dimension);
  return r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(a_request_and_its_answer_round_trip_and_equal_local_statistics) {
  const index_params p = shape();
  const auto sample = test::clustered_data(300, 8, 4, 6);
  for (auto phase : {train_phase::coarse, train_phase::pq}) {
    const train_request r = request(phase);
    auto back = decode_train_request(encode_train_request(r));
    BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
    BOOST_TEST(back->round == 77u);
    BOOST_TEST((back->coarse == r.coarse));
    BOOST_TEST((back->pq == r.pq));
    const train_reply answer = answer_train_request(*back, p, sample.data(), 300, 300);
    BOOST_REQUIRE(!answer.failure);
    auto decoded = decode_train_reply(encode_train_reply(answer), r);
    BOOST_REQUIRE_MESSAGE(decoded, (decoded ? "" : decoded.error().to_string()));
    BOOST_TEST(decoded->rows == 300u);
    const auto expect = phase == train_phase::coarse
                            ? std::vector<kernels::kmeans_stats>{coarse_stats(p, sample.data(), 300, r.coarse)}
                            : pq_stats(p, sample.data(), 300, r.coarse, r.pq);
    BOOST_REQUIRE_EQUAL(decoded->stats.size(), expect.size());
    for (std::size_t m = 0; m < expect.size(); ++m) {
      BOOST_TEST((decoded->stats[m].sums == expect[m].sums));
      BOOST_TEST((decoded->stats[m].counts == expect[m].counts));
      BOOST_TEST((decoded->stats[m].far_row == expect[m].far_row));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_census_says_the_rows_and_the_population_and_nothing_else) {
  const index_params p = shape();
  const auto sample = test::clustered_data(300, 8, 4, 6);
  train_request r = request(train_phase::census);
  r.coarse.clear();
  auto back = decode_train_request(encode_train_request(r));
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST((back->phase == train_phase::census));
  const train_reply answer = answer_train_request(*back, p, sample.data(), 300, 90000);
  BOOST_REQUIRE(!answer.failure);
  auto decoded = decode_train_reply(encode_train_reply(answer), r);
  BOOST_REQUIRE_MESSAGE(decoded, (decoded ? "" : decoded.error().to_string()));
  BOOST_TEST(decoded->rows == 300u);
  BOOST_TEST(decoded->population == 90000u);
  BOOST_TEST(decoded->stats.empty());
  // A population below the rows is read as the rows on the peer's side, refused on the leader's.
  BOOST_TEST(answer_train_request(r, p, sample.data(), 300, 7).population == 300u);
  train_reply bad = answer;
  bad.population = 299;
  auto refused = decode_train_reply(encode_train_reply(bad), r);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(contains(refused.error().message(), "population=299 is below rows=300"), refused.error().message());
  bad = answer_train_request(request(train_phase::coarse), p, sample.data(), 300, 300);  // statistics in it
  refused = decode_train_reply(encode_train_reply(bad), r);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(contains(refused.error().message(), "census answer carries 1 statistics"), refused.error().message());
  // Centroids in a census are refused as the wrong size.
  train_request with_centroids = request(train_phase::census);
  auto wrong = decode_train_request(encode_train_request(with_centroids));
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.error().code() == errc::corrupt_data);
}

BOOST_AUTO_TEST_CASE(max_rows_takes_rows_spread_over_the_sample) {
  const index_params p = shape();
  const auto sample = test::clustered_data(300, 8, 4, 6);
  train_request r = request(train_phase::coarse);
  r.max_rows = 100;
  const train_reply answer = answer_train_request(r, p, sample.data(), 300, 300);
  BOOST_REQUIRE(!answer.failure);
  BOOST_TEST(answer.rows == 100u);
  std::vector<float> every_third;
  for (std::size_t i = 0; i < 300; i += 3) every_third.insert(every_third.end(), &sample[i * 8], &sample[i * 8] + 8);
  BOOST_TEST((answer.stats.front().sums == coarse_stats(p, every_third.data(), 100, r.coarse).sums));
}

BOOST_AUTO_TEST_CASE(malformed_requests_are_refused_with_the_reason) {
  auto refused = [](const std::vector<char>& bytes, errc code, const std::string& part) {
    auto r = decode_train_request(bytes);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().code() == code);
    BOOST_TEST(contains(r.error().message(), part), r.error().message());
  };
  refused({'x', 'y'}, errc::corrupt_data, "too short");
  auto good = encode_train_request(request(train_phase::pq));
  auto foreign = good;
  foreign[4] = 'Z';
  refused(foreign, errc::corrupt_data, "file identifier");
  refused(std::vector<char>(good.begin(), good.begin() + good.size() / 2), errc::corrupt_data, "Verifier");
  auto big = decode_train_request(good, 16);
  BOOST_REQUIRE(!big);
  BOOST_TEST(big.error().code() == errc::resource_exhausted);

  train_request r = request(train_phase::coarse);
  r.coarse.pop_back();
  refused(encode_train_request(r), errc::corrupt_data, "coarse has 31 floats");
  r = request(train_phase::coarse);
  r.coarse[3] = std::numeric_limits<float>::quiet_NaN();
  refused(encode_train_request(r), errc::corrupt_data, "NaN");
  r = request(train_phase::coarse);
  r.num_sub_vectors = 3;
  refused(encode_train_request(r), errc::invalid_argument, "num_sub_vectors=3");
}

BOOST_AUTO_TEST_CASE(a_request_for_another_index_shape_is_answered_with_both_values) {
  index_params own = shape();
  own.num_bits = 6;
  const auto sample = test::clustered_data(100, 8, 4, 6);
  const train_request r = request(train_phase::coarse);
  const train_reply answer = answer_train_request(r, own, sample.data(), 100, 100);
  BOOST_REQUIRE(answer.failure);
  BOOST_TEST(contains(answer.failure->message(), "num_bits=4"), answer.failure->message());
  BOOST_TEST(contains(answer.failure->message(), "num_bits=6"), answer.failure->message());
  // The refusal travels: the leader decodes it as a failure with the peer's code and message.
  auto decoded = decode_train_reply(encode_train_reply(answer), r);
  BOOST_REQUIRE(decoded);
  BOOST_REQUIRE(decoded->failure);
  BOOST_TEST(decoded->failure->code() == errc::invalid_argument);
  BOOST_TEST(decoded->failure->message() == answer.failure->message());
}

BOOST_AUTO_TEST_CASE(centroids_too_far_for_float_are_answered_with_a_failure_not_infinite_statistics) {
  const index_params p = shape();
  const auto sample = test::clustered_data(20, 8, 4, 6);
  // Finite centroids whose residuals and sub-centroids lie on opposite sides of ±3e38: every row's
  // squared distance overflows float (the train_message fuzz target's first finding: such statistics
  // used to be sent, and the leader refused them as corrupt).
  train_request r = request(train_phase::pq);
  std::fill(r.coarse.begin(), r.coarse.end(), 3e38f);
  std::fill(r.pq.begin(), r.pq.end(), -3e38f);
  const train_reply a = answer_train_request(r, p, sample.data(), 20, 20);
  BOOST_REQUIRE(a.failure.has_value());
  BOOST_TEST(a.failure->code() == errc::invalid_argument);
  BOOST_TEST(contains(a.failure->message(), "overflow float"), a.failure->message());
  BOOST_TEST(contains(a.failure->message(), "largest |value| 3e+38"), a.failure->message());
  BOOST_TEST(a.stats.empty());
  auto d = decode_train_reply(encode_train_reply(a), r);  // travels as a failure the leader names
  BOOST_REQUIRE(d);
  BOOST_REQUIRE(d->failure.has_value());
  BOOST_TEST(d->failure->message() == a.failure->message());
}

BOOST_AUTO_TEST_CASE(replies_that_do_not_fit_the_request_are_refused) {
  const index_params p = shape();
  const auto sample = test::clustered_data(100, 8, 4, 6);
  const train_request r = request(train_phase::pq);
  train_reply good = answer_train_request(r, p, sample.data(), 100, 100);
  BOOST_REQUIRE(!good.failure);
  auto refused = [&](const train_reply& bad, const std::string& part) {
    auto d = decode_train_reply(encode_train_reply(bad), r);
    BOOST_REQUIRE(!d);
    BOOST_TEST(d.error().code() == errc::corrupt_data);
    BOOST_TEST(contains(d.error().message(), part), d.error().message());
  };
  train_reply bad = good;
  bad.round = 78;
  refused(bad, "round=78");
  bad = good;
  bad.stats.pop_back();
  refused(bad, "1 statistics, the request needs 2");
  bad = good;
  bad.rows = 99;
  refused(bad, "rows=99");
  bad = good;
  bad.stats[0].sums.pop_back();
  refused(bad, "array lengths");
  bad = good;
  bad.stats[1].far_row[0] = std::numeric_limits<float>::infinity();
  refused(bad, "NaN or Inf");
  // Counts that each fit but whose sum wraps around to rows (3 × 2^63 ≡ 2^63 mod 2^64).
  bad = good;
  bad.rows = std::uint64_t{1} << 63;
  for (auto& s : bad.stats) {
    std::fill(s.counts.begin(), s.counts.end(), 0);
    std::fill(s.counts.begin(), s.counts.begin() + 3, bad.rows);
  }
  refused(bad, "cluster counts sum past rows=9223372036854775808");
}

// Found by the train_message fuzz target (tests/fuzz/README.md): the FlatBuffers 2.0.8 Verifier checks a
// vector's 4-byte length prefix, not that 8-byte elements are 8-aligned, so a reply whose [ulong]
// counts or [double] sums sit at 4 mod 8 was read with misaligned loads (UBSan: "load of misaligned
// address ... for type 'const unsigned long'"). The decoder now copies every array out with memcpy
// (internal::copy_scalars). CI's UBSan stage runs this suite; a normal x86 build does not fault.
BOOST_AUTO_TEST_CASE(a_reply_with_misaligned_8_byte_arrays_is_read_without_misaligned_loads) {
  const std::vector<unsigned char> raw = {
      0x18, 0x00, 0x00, 0x00, 0x49, 0x56, 0x54, 0x52, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x20, 0x00,
      0x1e, 0x00, 0x10, 0x00, 0x08, 0x02, 0x04, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
      0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x48, 0x01, 0x00, 0x00,
      0x04, 0x00, 0x00, 0x00, 0xd2, 0xfe, 0xff, 0xff, 0x04, 0x00, 0x80, 0x00, 0x04, 0x00, 0x00, 0x00,
      0x9c, 0x00, 0x00, 0x00, 0x70, 0x00, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0xfc, 0x75, 0x57, 0x40, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0xae, 0x58, 0x7e, 0x40, 0x82, 0x6f, 0xf6, 0xbf, 0xcc, 0xf5, 0xea, 0xbf, 0x86, 0x92, 0x60, 0x3f,
      0xb1, 0x6d, 0x2c, 0xbf, 0x5e, 0x94, 0x83, 0x3f, 0xd8, 0xf6, 0x0e, 0xc0, 0xb3, 0x10, 0x51, 0x40,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x04, 0x00, 0x00, 0x00, 0x16, 0x7b, 0xd1, 0x41, 0x3a, 0xe7, 0x85, 0x41, 0x00, 0x00, 0x80, 0xbf,
      0x00, 0x00, 0x80, 0xbf, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x17, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0xc0, 0x4d, 0xa2, 0x19, 0x40, 0x00, 0x00, 0x00, 0xe8, 0xec, 0x7e, 0x05, 0xc0,
      0x00, 0x00, 0x00, 0x40, 0x88, 0xce, 0x0f, 0xc0, 0x00, 0x00, 0x00, 0x60, 0x08, 0x85, 0xec, 0x3f,
      0x00, 0x00, 0x00, 0x90, 0xec, 0xee, 0xfb, 0x3f, 0x00, 0x00, 0x00, 0xb0, 0x84, 0xfa, 0x00, 0x40,
      0x00, 0x00, 0x00, 0x00, 0x65, 0x8b, 0x18, 0xc0, 0x00, 0x00, 0x80, 0x7d, 0xc2, 0xaa, 0x18, 0x40,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x12, 0x00, 0x28, 0x00, 0x04, 0x00, 0x08, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x14, 0x00,
      0x18, 0x00, 0x1c, 0x00, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
      0x9c, 0x00, 0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x28, 0xe1, 0x4a, 0x3b, 0x40, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0xee, 0x67, 0xc0, 0xbf, 0x7a, 0x3e, 0x2b, 0xbf, 0xda, 0x30, 0xac, 0xbf, 0x20, 0xb0, 0xd4, 0x3c,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0xdd, 0x93, 0x1a, 0x40, 0xfc, 0x4e, 0xc5, 0xbf, 0xb0, 0x38, 0x47, 0x3f, 0x36, 0x86, 0x3e, 0xbe,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x04, 0x00, 0x00, 0x00, 0x44, 0x64, 0x8f, 0x3f, 0x00, 0x00, 0x80, 0xbf, 0x14, 0x6a, 0x15, 0x41,
      0x00, 0x00, 0x80, 0xbf, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x40, 0xa5, 0xbc, 0x07, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x97, 0xfe, 0x0f, 0x40,
      0xff, 0xff, 0xff, 0x56, 0x05, 0x8d, 0x10, 0xc0, 0x00, 0x00, 0x00, 0x40, 0x51, 0xf7, 0xdd, 0xbf,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x91, 0x26, 0x19, 0x40, 0x00, 0x00, 0x00, 0xc0, 0x11, 0xe7, 0x12, 0xc0,
      0x00, 0x00, 0x00, 0xe0, 0x19, 0x44, 0xfc, 0x3f, 0x00, 0x00, 0x00, 0xdc, 0x5e, 0x5a, 0x05, 0xc0,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  const std::vector<char> bytes(raw.begin(), raw.end());
  // The input is the case claimed: some table's sums or counts are not 8-byte aligned in the buffer.
  const auto* root = flatbuffers::GetRoot<ivfstream::training::TrainStatsReply>(bytes.data());
  bool misaligned = false;
  for (const auto* s : *root->stats()) {
    if (s->sums() && s->sums()->size() > 0)
      misaligned |= (reinterpret_cast<const char*>(s->sums()->Data()) - bytes.data()) % 8 != 0;
    if (s->counts() && s->counts()->size() > 0)
      misaligned |= (reinterpret_cast<const char*>(s->counts()->Data()) - bytes.data()) % 8 != 0;
  }
  BOOST_REQUIRE(misaligned);
  train_request r;  // what the fuzz input answered: train_message_requests()[1] (pq, d 8, 4 lists, M 2 × 2 bits)
  r.round = 7;
  r.phase = train_phase::pq;
  r.dimension = 8;
  r.num_partitions = 4;
  r.num_sub_vectors = 2;
  r.num_bits = 2;
  auto d = decode_train_reply(bytes, r);
  BOOST_TEST_MESSAGE("misaligned reply: " << (d ? "accepted" : d.error().to_string()));
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error().code() == errc::corrupt_data);
}
