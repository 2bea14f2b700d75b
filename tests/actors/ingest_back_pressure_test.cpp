// Back-pressure from the partitions to the Kafka consumer: when ingest outruns indexing (here a
// partition that keeps stalling), the ingest actor pauses the vectors consumer once
// engine.max_pending_vectors vectors are staged but not yet applied, resumes it as the partitions
// catch up, and the backlog stays within the bound (plus at most one record). Nothing is lost: every
// produced id is searchable afterwards, once.
#define BOOST_TEST_MODULE ingest_back_pressure
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "actors/engine.hpp"
#include "actors/engine_impl.hpp"
#include "actors/kafka_service.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 20000, record_vectors = 100;
constexpr std::uint64_t bound = 1000;  // engine.max_pending_vectors

service_config make_config() {
  service_config c;
  c.kafka.topic_partitions = 4;
  c.index.dimension = d;
  c.index.num_partitions = 16;
  c.index.num_sub_vectors = 4;
  c.index.num_bits = 8;
  c.index.max_iterations = 5;
  c.engine.partition_actors = 2;
  c.engine.train_after = 2000;
  c.engine.data_dir = "";
  c.engine.checkpoint_interval_ms = 0;
  c.engine.checkpoint_interval_records = 0;
  c.engine.max_pending_vectors = bound;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(backlog_stays_within_the_bound_and_nothing_is_lost) {
  const auto config = make_config();
  auto broker = connectors::embedded_broker::start(config);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  auto o = engine_options::from(config);
  o.scheduler_threads = 2;
  auto eng = engine::open(o);
  BOOST_REQUIRE_MESSAGE(eng, (eng ? "" : eng.error().to_string()));
  auto& e = **eng;
  const auto x = test::clustered_data(n, d, 30, 7);
  const auto ids = test::iota_ids(n, 1);
  // Trained up front, so every Kafka vector goes straight to the partitions (no training burst).
  BOOST_REQUIRE(e.create_index(config.index, x.data(), 2000));
  auto service = kafka_service::start(e, config, (*broker)->bootstrap_servers());
  BOOST_REQUIRE_MESSAGE(service, (service ? "" : service.error().to_string()));
  auto producer =
      connectors::kafka_producer::create(connectors::kafka_client_config::from(config, (*broker)->bootstrap_servers()));
  BOOST_REQUIRE(producer);

  // Partition 0 keeps stalling while the stream arrives: indexing is slower than ingest.
  std::atomic<bool> stalling{true};
  std::thread staller([&] {
    const auto slow = e.internals().partitions.at(0);
    while (stalling) {
      caf::anon_send(slow, actors::delay_atom::value, std::uint32_t{4});
      std::this_thread::sleep_for(4ms);
    }
  });
  std::size_t records = 0;
  for (std::size_t off = 0; off < n; off += record_vectors, ++records) {
    const auto bytes = connectors::encode_upserts(ids.data() + off, x.data() + off * d, record_vectors, d);
    const auto key = connectors::vector_record_key(ids[off]);
    BOOST_REQUIRE((*producer)->produce(config.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()));
  }
  BOOST_REQUIRE((*producer)->flush(10s));

  // While the partition stalls, the consumer gets paused at the bound: the stall lasts at least 1.5 s
  // and until the consumer was paused (a loaded machine may take longer to get there; 150 s at most).
  std::uint64_t peak_seen = 0;
  const auto stall_from = std::chrono::steady_clock::now();
  for (;;) {
    auto st = e.stats();
    BOOST_REQUIRE(st);
    peak_seen = std::max(peak_seen, st->pending_vectors);
    const auto now = std::chrono::steady_clock::now();
    if (now >= stall_from + 1500ms && (st->consumer_pauses > 0 || now >= stall_from + 150s)) break;
    std::this_thread::sleep_for(5ms);
  }
  stalling = false;
  staller.join();

  // Then everything arrives: every offset read, every id searchable once.
  const auto until = std::chrono::steady_clock::now() + 150s;
  engine_stats last;
  while (std::chrono::steady_clock::now() < until) {
    auto st = e.stats();
    BOOST_REQUIRE(st);
    last = *st;
    peak_seen = std::max(peak_seen, st->pending_vectors);
    std::int64_t consumed = 0;
    for (const auto& [t, p, off] : st->offsets) consumed += off;
    // Acks trail the partitions' own counts: wait for them too (pending back to 0).
    if (consumed == static_cast<std::int64_t>(records) && st->vectors == n && st->applied_vectors == n &&
        st->pending_vectors == 0)
      break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST_MESSAGE("pauses=" << last.consumer_pauses << " peak_pending=" << last.peak_pending_vectors);
  BOOST_TEST(last.vectors == n);
  BOOST_TEST(last.applied_vectors == n);
  BOOST_TEST(last.dead_letters == 0u);
  BOOST_TEST(last.consumer_pauses > 0u);
  BOOST_TEST(last.peak_pending_vectors <= bound + record_vectors);
  BOOST_TEST(peak_seen <= bound + record_vectors);
  BOOST_TEST(last.pending_vectors == 0u);
  service->reset();
  eng->reset();
  producer->reset();
  broker->reset();
}
