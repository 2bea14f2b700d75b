// What a node reports as its share of the vectors topic (issue 6, actors/shard_coverage.hpp): a
// partition the consumer group hands it counts as held only once the node has read it up to where the
// log ended at the assignment, so that a coordinator never calls an answer whole while the partition's
// new owner is still replaying it. An empty partition is held at once. One vector_feed in group mode on
// the embedded broker, polled a few records at a time.
#define BOOST_TEST_MODULE feed_coverage
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>

#include "actors/shard_coverage.hpp"
#include "actors/vector_feed.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/actors/actor_test_support.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(a_partition_counts_as_held_only_once_it_is_replayed) {
  constexpr std::size_t d = 8, records = 300;
  const auto config = test::group_node_config(d, 2);
  auto broker = connectors::embedded_broker::start(config);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  const std::string bootstrap = (*broker)->bootstrap_servers();
  auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(config, bootstrap));
  BOOST_REQUIRE(producer);
  // Everything into partition 0; partition 1 stays empty.
  for (std::uint64_t id = 0; id < records; ++id) {
    std::vector<float> v(d, static_cast<float>(id));
    const auto bytes = connectors::encode_upserts(&id, v.data(), 1, d);
    const auto key = connectors::vector_record_key(id);
    BOOST_REQUIRE((*producer)->produce(config.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size(), 0));
  }
  BOOST_REQUIRE((*producer)->flush(10s));

  auto coverage = std::make_shared<actors::shard_coverage>();
  auto feed = actors::vector_feed::open(config, bootstrap, {}, coverage);
  BOOST_REQUIRE_MESSAGE(feed, (feed ? "" : feed.error().to_string()));
  BOOST_REQUIRE((*feed)->group_mode());
  std::size_t delivered = 0, snapshots_while_replaying = 0;
  const auto until = std::chrono::steady_clock::now() + 120s;  // the mock group's join takes seconds
  while (delivered < records && std::chrono::steady_clock::now() < until) {
    auto batch = (*feed)->poll(5, 200ms);
    BOOST_REQUIRE_MESSAGE(batch, (batch ? "" : batch.error().to_string()));
    for (const auto& r : *batch) {
      BOOST_REQUIRE(!r.rejected);
      BOOST_REQUIRE_EQUAL(r.partition, 0);
    }
    delivered += batch->size();
    if ((*feed)->assigned().size() != 2) continue;  // one member: it gets both partitions at once
    const auto share = coverage->snapshot();
    BOOST_REQUIRE_EQUAL(share.topic_partitions, 2u);
    const bool holds0 = std::count(share.held.begin(), share.held.end(), 0) == 1;
    const bool holds1 = std::count(share.held.begin(), share.held.end(), 1) == 1;
    BOOST_CHECK(holds1);                                                  // empty: held at once
    BOOST_CHECK_MESSAGE(holds0 == (delivered == records), "delivered " << delivered << " of " << records
                                                                      << ", partition 0 held: " << holds0);
    if (!holds0) ++snapshots_while_replaying;
  }
  BOOST_REQUIRE_EQUAL(delivered, records);
  BOOST_CHECK_GT(snapshots_while_replaying, 0u);  // 5 records a poll: many polls happened mid-replay
  const auto share = coverage->snapshot();
  BOOST_CHECK((share.held == std::vector<std::int32_t>{0, 1}));
  feed->reset();
  BOOST_CHECK(coverage->snapshot().held.empty());  // no feed: nothing known
  producer->reset();
  broker->reset();
}
