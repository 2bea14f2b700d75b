// End to end on the embedded Kafka broker: upserts/deletes produced to the vectors topic become
// searchable; queries through the query topic answer exactly what the embedded API answers; malformed
// records land in the dead-letter topic with their reason and source offset; the stream goes on.
#define BOOST_TEST_MODULE kafka_e2e
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <thread>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/query_client.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 6000, batch = 250;

service_config make_config() {
  service_config c;
  c.kafka.topic_partitions = 4;
  c.index.dimension = d;
  c.index.num_partitions = 16;
  c.index.num_sub_vectors = 4;
  c.index.num_bits = 8;
  c.index.max_iterations = 10;
  c.engine.partition_actors = 3;
  c.engine.train_after = 3000;
  c.engine.data_dir = "";
  c.engine.checkpoint_interval_ms = 0;
  c.engine.checkpoint_interval_records = 0;
  c.search.nprobes = 6;
  c.search.limit = 10;
  return c;
}

struct fixture {
  fixture() : config(make_config()) {
    auto b = connectors::embedded_broker::start(config);
    BOOST_REQUIRE_MESSAGE(b, (b ? "" : b.error().to_string()));
    broker = std::move(*b);
    auto o = engine_options::from(config);
    o.scheduler_threads = 2;
    auto e = engine::open(o);
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    eng = std::move(*e);
    BOOST_REQUIRE(eng->create_index(config.index));
    auto s = kafka_service::start(*eng, config, broker->bootstrap_servers());
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
    service = std::move(*s);
    auto p = connectors::kafka_producer::create(connectors::kafka_client_config::from(config, broker->bootstrap_servers()));
    BOOST_REQUIRE(p);
    producer = std::move(*p);
  }
  ~fixture() {
    producer.reset();
    service.reset();
    eng.reset();
    broker.reset();
  }
  void produce(const std::vector<std::uint8_t>& bytes, std::uint64_t key_id) {
    const auto key = connectors::vector_record_key(key_id);
    BOOST_REQUIRE(producer->produce(config.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()));
    ++produced;
  }
  // Waits until every produced record was read and applied.
  void wait_applied(std::size_t expect_vectors) {
    BOOST_REQUIRE(producer->flush(10s));
    const auto until = std::chrono::steady_clock::now() + 150s;
    while (std::chrono::steady_clock::now() < until) {
      auto st = eng->stats();
      BOOST_REQUIRE(st);
      std::int64_t consumed = 0;
      for (const auto& [t, p, off] : st->offsets) consumed += off;
      if (consumed == static_cast<std::int64_t>(produced) && st->vectors == expect_vectors) return;
      std::this_thread::sleep_for(20ms);
    }
    auto st = eng->stats();
    BOOST_FAIL("not applied in time: vectors=" << st->vectors << " expected " << expect_vectors
                                              << " last_error=" << st->last_error);
  }
  service_config config;
  std::unique_ptr<connectors::embedded_broker> broker;
  std::unique_ptr<engine> eng;
  std::unique_ptr<kafka_service> service;
  std::unique_ptr<connectors::kafka_producer> producer;
  std::size_t produced = 0;
};

std::vector<connectors::dead_letter> read_dead_letters(const fixture& f, std::size_t want) {
  const auto client = connectors::kafka_client_config::from(f.config, f.broker->bootstrap_servers());
  auto c = connectors::kafka_consumer::create(client);
  BOOST_REQUIRE(c);
  std::vector<connectors::topic_partition_offset> pos;
  for (std::int32_t p = 0; p < static_cast<std::int32_t>(f.config.kafka.topic_partitions); ++p)
    pos.push_back({f.config.kafka.topics.dead_letter, p, connectors::k_offset_beginning});
  BOOST_REQUIRE((*c)->assign(pos));
  std::vector<connectors::dead_letter> out;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (out.size() < want && std::chrono::steady_clock::now() < until) {
    auto b = (*c)->poll_batch(100, 50ms);
    BOOST_REQUIRE(b);
    for (auto& m : *b) {
      auto dl = connectors::decode_dead_letter(m.payload(), m.payload_size());
      BOOST_REQUIRE(dl);
      out.push_back(std::move(*dl));
    }
  }
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(stream_in_query_through_topic_equals_embedded_api, fixture) {
  const auto x = test::clustered_data(n, d, 30, 5);
  const auto ids = test::iota_ids(n, 1);
  for (std::size_t off = 0; off < n; off += batch)
    produce(connectors::encode_upserts(ids.data() + off, x.data() + off * d, batch, d), ids[off]);
  // Malformed records between the good ones: garbage, wrong dimension, NaN.
  const std::vector<std::uint8_t> garbage = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  produce(garbage, 999999);
  std::vector<float> short_vec(8, 1.f);
  std::uint64_t bad_id = 777777;
  produce(connectors::encode_upserts(&bad_id, short_vec.data(), 1, 8), bad_id);
  std::vector<float> nan_vec(d, 0.5f);
  nan_vec[3] = std::nanf("");
  produce(connectors::encode_upserts(&bad_id, nan_vec.data(), 1, d), bad_id);
  // Delete the first two batches (same keys as their upserts, so ordered after them), and move batch 3.
  produce(connectors::encode_deletes(ids.data(), batch), ids[0]);
  produce(connectors::encode_deletes(ids.data() + batch, batch), ids[batch]);
  std::vector<float> moved(batch * d);
  for (std::size_t i = 0; i < batch; ++i) std::copy_n(x.data() + (n - 1 - i) * d, d, moved.data() + i * d);
  produce(connectors::encode_upserts(ids.data() + 2 * batch, moved.data(), batch, d), ids[2 * batch]);
  wait_applied(n - 2 * batch);

  auto st = eng->stats();
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->codebook_version, 1u);
  BOOST_CHECK_EQUAL(st->dead_letters, 3u);

  // Dead letters carry the reason and the source offset.
  auto letters = read_dead_letters(*this, 3);
  BOOST_REQUIRE_EQUAL(letters.size(), 3u);
  std::set<std::uint8_t> codes;
  for (const auto& l : letters) {
    codes.insert(l.error_code);
    BOOST_CHECK_EQUAL(l.source_topic, config.kafka.topics.vectors);
    BOOST_CHECK_GE(l.source_offset, 0);
    BOOST_CHECK(!l.reason.empty());
  }
  BOOST_CHECK(codes.count(static_cast<std::uint8_t>(errc::corrupt_data)));
  BOOST_CHECK(codes.count(static_cast<std::uint8_t>(errc::dimension_mismatch)));
  BOOST_CHECK(codes.count(static_cast<std::uint8_t>(errc::non_finite)));

  // Queries through the topic = the embedded API, hit for hit.
  auto client = query_client::open(config, broker->bootstrap_servers());
  BOOST_REQUIRE_MESSAGE(client, (client ? "" : client.error().to_string()));
  const auto q = test::clustered_data(12, d, 30, 6);
  for (std::size_t i = 0; i < 12; ++i) {
    query_options o;
    o.k = 10;
    o.nprobes = 6;
    o.refine_factor = i % 2 ? 2u : 0u;
    auto reply = (*client)->query(q.data() + i * d, 1, d, o, 10s);
    BOOST_REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().to_string()));
    BOOST_CHECK_EQUAL(reply->error_code, 0);
    BOOST_CHECK(!reply->partial);
    auto local = eng->search(q.data() + i * d, d).nprobes(6).limit(10).refine_factor(*o.refine_factor).to_list();
    BOOST_REQUIRE(local);
    BOOST_REQUIRE_EQUAL(reply->results.size(), 1u);
    BOOST_REQUIRE_EQUAL(reply->results[0].ids.size(), local->hits.size());
    for (std::size_t j = 0; j < local->hits.size(); ++j) {
      BOOST_CHECK_EQUAL(reply->results[0].ids[j], local->hits[j].id);
      BOOST_CHECK_EQUAL(reply->results[0].distances[j], local->hits[j].distance);
      BOOST_CHECK_GT(reply->results[0].ids[j], 2 * batch);  // deleted ids never come back
    }
  }
  // A request with several vectors runs as one batched search and answers each vector exactly as a
  // search of that vector alone does.
  auto multi = (*client)->query(q.data(), 12, d, query_options{5u, 4u, 2u, 0}, 10s);
  BOOST_REQUIRE(multi);
  BOOST_CHECK_EQUAL(multi->error_code, 0);
  BOOST_REQUIRE_EQUAL(multi->results.size(), 12u);
  for (std::size_t i = 0; i < 12; ++i) {
    auto local = eng->search(q.data() + i * d, d).nprobes(4).limit(5).refine_factor(2).to_list();
    BOOST_REQUIRE(local);
    BOOST_REQUIRE_EQUAL(multi->results[i].ids.size(), local->hits.size());
    for (std::size_t j = 0; j < local->hits.size(); ++j) {
      BOOST_CHECK_EQUAL(multi->results[i].ids[j], local->hits[j].id);
      BOOST_CHECK_EQUAL(multi->results[i].distances[j], local->hits[j].distance);
    }
  }
  // Moved ids are found at their new place (exact distance 0).
  auto moved_hit = (*client)->query(moved.data(), 1, d, query_options{1u, 16u, 4u, 0}, 10s);
  BOOST_REQUIRE(moved_hit);
  BOOST_REQUIRE_EQUAL(moved_hit->results[0].ids.size(), 1u);
  BOOST_CHECK_EQUAL(moved_hit->results[0].distances[0], 0.f);
}

BOOST_FIXTURE_TEST_CASE(bad_requests_get_error_replies_or_dead_letters, fixture) {
  const auto x = test::clustered_data(3000, d, 30, 8);
  const auto ids = test::iota_ids(3000, 1);
  for (std::size_t off = 0; off < 3000; off += batch)
    produce(connectors::encode_upserts(ids.data() + off, x.data() + off * d, batch, d), ids[off]);
  wait_applied(3000);
  auto client = query_client::open(config, broker->bootstrap_servers());
  BOOST_REQUIRE(client);
  // k over the cap: an error reply naming the value.
  query_options o;
  o.k = config.caps.max_k + 1;
  auto r = (*client)->query(x.data(), 1, d, o, 10s);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_CHECK_EQUAL(r->error_code, static_cast<std::uint8_t>(errc::resource_exhausted));
  BOOST_CHECK_NE(r->error_message.find(std::to_string(config.caps.max_k + 1)), std::string::npos);
  // Wrong dimension: an error reply.
  std::vector<float> q7(7, 0.1f);
  auto r2 = (*client)->query(q7.data(), 1, 7, {}, 10s);
  BOOST_REQUIRE(r2);
  BOOST_CHECK_EQUAL(r2->error_code, static_cast<std::uint8_t>(errc::dimension_mismatch));
  // Garbage on the query topic: no reply address, so a dead letter; the service keeps answering.
  BOOST_REQUIRE((*client)->send_raw({9, 9, 9, 9}));
  auto ok = (*client)->query(x.data(), 1, d, {}, 10s);
  BOOST_REQUIRE(ok);
  BOOST_CHECK_EQUAL(ok->error_code, 0);
  BOOST_CHECK_EQUAL(ok->results[0].ids[0], 1u);
  auto letters = read_dead_letters(*this, 1);
  BOOST_REQUIRE_EQUAL(letters.size(), 1u);
  BOOST_CHECK_EQUAL(letters[0].source_topic, config.kafka.topics.queries);
  BOOST_CHECK_EQUAL(letters[0].error_code, static_cast<std::uint8_t>(errc::corrupt_data));
}
