// Loss reporting: when the broker has dropped records (the mock keeps ~5 MB per partition) that a
// restart would resume from — its checkpoint offset is below the log start — the engine counts the
// lost records (engine_stats::lost_records, and a log line), indexes what is left, and goes on.
#define BOOST_TEST_MODULE retention_loss
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <thread>
#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// 1000 × 128-d floats ≈ 520 KB per record: 24 records are well past the mock's ~5 MB per partition.
constexpr std::size_t d = 128, record_vectors = 1000, first_records = 2, later_records = 24;

service_config make_config(const fs::path& dir) {
  service_config c;
  c.kafka.topic_partitions = 1;
  c.index.dimension = d;
  c.index.num_partitions = 16;
  c.index.num_sub_vectors = 16;
  c.index.num_bits = 8;
  c.index.max_iterations = 5;
  c.engine.partition_actors = 2;
  c.engine.train_after = 2000;
  c.engine.data_dir = dir.string();
  c.engine.checkpoint_interval_ms = 0;
  c.engine.checkpoint_interval_records = 0;
  return c;
}

struct node {
  std::unique_ptr<engine> eng;
  std::unique_ptr<kafka_service> service;
  node(const service_config& c, const std::string& bootstrap) {
    auto o = engine_options::from(c);
    o.scheduler_threads = 2;
    auto e = engine::open(o);
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    eng = std::move(*e);
    auto s = kafka_service::start(*eng, c, bootstrap);
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
    service = std::move(*s);
  }
  ~node() {
    service.reset();
    eng.reset();
  }
  // Waits until the vectors topic was read up to `next` (offset of partition 0).
  engine_stats wait_read(std::int64_t next) {
    const auto until = std::chrono::steady_clock::now() + 150s;
    engine_stats last;
    while (std::chrono::steady_clock::now() < until) {
      auto st = eng->stats();
      BOOST_REQUIRE(st);
      last = *st;
      // Offsets are noted when a record is staged; pending_vectors = 0 once the partitions applied it.
      for (const auto& [t, p, off] : st->offsets)
        if (off >= next && st->pending_vectors == 0) return last;
      std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("topic not read up to " << next << ": last_error=" << last.last_error);
    return last;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(records_dropped_below_a_restart_offset_are_counted_not_skipped_silently) {
  const auto dir = fs::temp_directory_path() / ("ivf_retention_loss_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto config = make_config(dir);
  auto broker = connectors::embedded_broker::start(config);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  const std::string bootstrap = (*broker)->bootstrap_servers();
  auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(config, bootstrap));
  BOOST_REQUIRE(producer);
  const std::size_t n = (first_records + later_records) * record_vectors;
  const auto x = test::clustered_data(n, d, 20, 3);
  const auto ids = test::iota_ids(n, 1);
  auto produce = [&](std::size_t from_record, std::size_t to_record) {
    for (std::size_t r = from_record; r < to_record; ++r) {
      const std::size_t off = r * record_vectors;
      const auto bytes = connectors::encode_upserts(ids.data() + off, x.data() + off * d, record_vectors, d);
      const auto key = connectors::vector_record_key(ids[off]);
      BOOST_REQUIRE((*producer)->produce(config.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()));
      BOOST_REQUIRE((*producer)->flush(10s));
    }
  };

  {  // First life: reads two records (trains on them), checkpoints at offset 2, stops.
    node a(config, bootstrap);
    BOOST_REQUIRE(a.eng->create_index(config.index));
    produce(0, first_records);
    const auto st = a.wait_read(first_records);
    BOOST_TEST(st.lost_records == 0u);
    auto seq = a.eng->checkpoint();
    BOOST_REQUIRE_MESSAGE(seq, (seq ? "" : seq.error().to_string()));
  }
  // While it is down, the topic grows past what the broker keeps: the oldest records are dropped.
  produce(first_records, first_records + later_records);
  auto c = connectors::kafka_consumer::create(connectors::kafka_client_config::from(config, bootstrap));
  BOOST_REQUIRE(c);
  auto w = (*c)->watermarks(config.kafka.topics.vectors, 0, 10s);
  BOOST_REQUIRE(w);
  const std::int64_t low = w->first, high = w->second;
  BOOST_TEST_MESSAGE("log start " << low << ", end " << high);
  BOOST_REQUIRE_EQUAL(high, static_cast<std::int64_t>(first_records + later_records));
  BOOST_REQUIRE_MESSAGE(low > static_cast<std::int64_t>(first_records), "the mock broker kept everything");

  // Second life: resumes at offset 2, finds the log starting at `low`: reports low − 2 lost records.
  node b(config, bootstrap);
  const auto st = b.wait_read(high);
  BOOST_TEST(st.lost_records == static_cast<std::uint64_t>(low) - first_records);
  BOOST_TEST(st.vectors == static_cast<std::uint64_t>(first_records + (high - low)) * record_vectors);
  producer->reset();
  c->reset();
  broker->reset();
  fs::remove_all(dir);
}
