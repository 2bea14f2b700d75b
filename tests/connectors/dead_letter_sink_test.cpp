#define BOOST_TEST_MODULE dead_letter_sink
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "connectors/dead_letter_sink.hpp"
#include "connectors/record_codec.hpp"
#include "kafka_test_support.hpp"

using namespace ivfstream;
using namespace ivfstream::connectors;
using namespace ivfstream::connectors::test;

namespace {

constexpr std::uint32_t k_dim = 4;

std::vector<std::uint8_t> upserts(std::vector<std::uint64_t> ids, std::size_t d = k_dim, float poison = 0.0f,
                                  bool poisoned = false) {
  std::vector<float> v(ids.size() * d);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  if (poisoned) v[v.size() / 2] = poison;
  return encode_upserts(ids.data(), v.data(), ids.size(), d);
}

std::vector<std::uint8_t> query(std::uint32_t nq, std::uint32_t k) {
  std::vector<float> v(nq * k_dim, 0.5f);
  query_request_fields f;
  f.correlation_id = "c";
  f.reply_topic = "replies";
  f.dimension = k_dim;
  f.vectors = v.data();
  f.num_queries = nq;
  f.k = k;
  return encode_query_request(f);
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// What a test expects of each produced record: good (delivered) or rejected with a code and reason.
struct expectation {
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::optional<errc> rejected;
  std::string reason;
};

}  // namespace

BOOST_AUTO_TEST_CASE(malformed_records_go_to_the_dead_letter_topic_and_good_ones_through) {
  auto broker = start_broker({{"vectors", 1}, {"queries", 1}, {"dead", 1}});
  auto producer = make_producer(broker->bootstrap_servers());

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto truncated = upserts({1, 2});
  truncated.resize(truncated.size() - 12);
  std::vector<expectation> plan{
      {"vectors", upserts({1, 2}), std::nullopt, ""},
      {"vectors", bytes_of("garbage, not a flatbuffer"), errc::corrupt_data, "not a VectorRecord: file identifier"},
      {"vectors", upserts({3}), std::nullopt, ""},
      {"vectors", truncated, errc::corrupt_data, "FlatBuffers Verifier rejected"},
      {"vectors", upserts({4}, 8), errc::dimension_mismatch, "UpsertBatch dimension=8: the index dimension is 4"},
      {"vectors", upserts({5, 6}, k_dim, nan, true), errc::non_finite, "UpsertBatch vectors[1][0]=nan"},
      {"vectors", upserts({7, 8}, k_dim, inf, true), errc::non_finite, "UpsertBatch vectors[1][0]=inf"},
      {"vectors", upserts({9, 10, 11, 12}), errc::resource_exhausted, "UpsertBatch ids=4: over the limit of 3 per record"},
      {"vectors", upserts({13}), std::nullopt, ""},
      {"queries", query(1, 5), std::nullopt, ""},
      {"queries", query(1, 500), errc::resource_exhausted, "QueryRequest k=500: over the limit max_k=100"},
      {"queries", query(9, 5), errc::resource_exhausted, "QueryRequest vectors=9: over the limit of 8 per request"},
      {"queries", query(2, 5), std::nullopt, ""},
  };
  for (const auto& e : plan) {
    BOOST_REQUIRE(producer->produce(e.topic, nullptr, 0, e.payload.data(), e.payload.size(), 0));
  }
  BOOST_REQUIRE(producer->flush(10s));

  // The ingest side: decode everything, dead-letter what fails, keep what passes.
  record_limits limits;
  limits.dimension = k_dim;
  limits.max_batch_vectors = 3;
  limits.max_k = 100;
  limits.max_vectors_per_request = 8;
  dead_letter_sink sink(*producer, "dead");
  auto consumer = make_consumer(broker->bootstrap_servers());
  BOOST_REQUIRE(consumer->assign({{"vectors", 0, k_offset_beginning}, {"queries", 0, k_offset_beginning}}));
  std::vector<std::uint64_t> indexed_ids;
  std::size_t good_queries = 0;
  std::size_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + 150s;  // generous: TSan/ASan on a loaded machine
  while (seen < plan.size() && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer->poll_batch(64, 100ms);
    BOOST_REQUIRE(batch.has_value());
    for (const kafka_message& m : *batch) {
      ++seen;
      if (m.topic() == "vectors") {
        auto r = decode_vector_record(m.payload(), m.payload_size(), limits);
        if (r) {
          indexed_ids.insert(indexed_ids.end(), r->ids.begin(), r->ids.end());
        } else {
          BOOST_REQUIRE(sink.reject(m, r.error()));
        }
      } else {
        auto q = decode_query_request(m.payload(), m.payload_size(), limits, query_defaults{});
        if (q) {
          ++good_queries;
        } else {
          BOOST_REQUIRE(sink.reject(m, q.error()));
        }
      }
    }
  }
  BOOST_REQUIRE(seen == plan.size());
  BOOST_REQUIRE(producer->flush(10s));
  BOOST_TEST(indexed_ids == (std::vector<std::uint64_t>{1, 2, 3, 13}), boost::test_tools::per_element());
  BOOST_TEST(good_queries == 2u);
  BOOST_TEST(sink.total() == 8u);
  BOOST_TEST(sink.count(errc::corrupt_data) == 2u);
  BOOST_TEST(sink.count(errc::dimension_mismatch) == 1u);
  BOOST_TEST(sink.count(errc::non_finite) == 2u);
  BOOST_TEST(sink.count(errc::resource_exhausted) == 3u);
  BOOST_TEST(sink.failed() == 0u);
  BOOST_TEST(sink.summary() == "dimension_mismatch=1 non_finite=2 corrupt_data=2 resource_exhausted=3");

  // The dead-letter topic holds one DeadLetter per rejected record, with its source coordinates
  // and bytes (topics are consumed interleaved, so match letters by source topic and offset).
  auto reader = make_consumer(broker->bootstrap_servers());
  BOOST_REQUIRE(reader->assign({{"dead", 0, k_offset_beginning}}));
  const auto letters = consume_n(*reader, 8);
  BOOST_REQUIRE(letters.size() == 8u);
  std::map<std::pair<std::string, std::int64_t>, dead_letter> by_source;
  for (const auto& l : letters) {
    auto d = decode_dead_letter(l.payload.data(), l.payload.size());
    BOOST_REQUIRE(d.has_value());
    by_source.emplace(std::make_pair(d->source_topic, d->source_offset), *d);
  }
  BOOST_REQUIRE(by_source.size() == 8u);
  std::int64_t offset_in_topic[2] = {0, 0};
  for (const auto& e : plan) {
    const std::int64_t source_offset = offset_in_topic[e.topic == "vectors" ? 0 : 1]++;
    if (!e.rejected) continue;
    BOOST_TEST_CONTEXT("rejected record " << e.topic << "@" << source_offset) {
      auto it = by_source.find({e.topic, source_offset});
      BOOST_REQUIRE(it != by_source.end());
      const dead_letter* d = &it->second;
      BOOST_TEST(d->source_partition == 0);
      BOOST_TEST(d->source_offset == source_offset);
      BOOST_TEST(d->error_code == static_cast<std::uint8_t>(*e.rejected));
      BOOST_TEST(d->reason.find(e.reason) != std::string::npos, d->reason);
      BOOST_TEST(d->payload == e.payload, boost::test_tools::per_element());
      BOOST_TEST(d->rejected_at_us > 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(oversized_payloads_are_truncated_and_said_so) {
  auto broker = start_broker({{"dead", 1}});
  auto producer = make_producer(broker->bootstrap_servers());
  dead_letter_sink sink(*producer, "dead", 16);
  const std::vector<std::uint8_t> big(100, 7);
  BOOST_REQUIRE(sink.reject("vectors", 3, 42, nullptr, 0, big.data(), big.size(),
                            error(errc::resource_exhausted, "VectorRecord size=100 bytes: over the limit of 64 bytes")));
  BOOST_REQUIRE(producer->flush(10s));
  auto reader = make_consumer(broker->bootstrap_servers());
  BOOST_REQUIRE(reader->assign({{"dead", 0, k_offset_beginning}}));
  const auto got = consume_n(*reader, 1);
  BOOST_REQUIRE(got.size() == 1u);
  auto d = decode_dead_letter(got[0].payload.data(), got[0].payload.size());
  BOOST_REQUIRE(d.has_value());
  BOOST_TEST(d->payload.size() == 16u);
  BOOST_TEST(d->source_partition == 3);
  BOOST_TEST(d->source_offset == 42);
  BOOST_TEST(d->reason == "VectorRecord size=100 bytes: over the limit of 64 bytes (payload truncated to 16 of 100 bytes)");
  BOOST_TEST(sink.count(errc::resource_exhausted) == 1u);
}
