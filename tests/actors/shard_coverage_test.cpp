// shard_coverage (actors/shard_coverage.hpp): when the shards that answered a cluster search hold every
// vectors-topic partition between them, a peer that did not answer held nothing that is missing.
#define BOOST_TEST_MODULE shard_coverage
#include <boost/test/unit_test.hpp>

#include <thread>

#include "actors/shard_coverage.hpp"

using namespace ivfstream::actors;

BOOST_AUTO_TEST_CASE(shards_that_hold_every_partition_between_them_cover_the_topic) {
  BOOST_TEST(covers_every_partition({{6, {0, 2, 4}}, {6, {1, 3, 5}}}));
  BOOST_TEST(covers_every_partition({{6, {0, 1, 2, 3, 4, 5}}}));
  BOOST_TEST(covers_every_partition({{4, {0, 1}}, {4, {1, 2, 3}}}));  // overlap during a handover
  BOOST_TEST(covers_every_partition({{3, {0, 1, 2}}, {3, {}}}));     // a shard that holds nothing yet
}

BOOST_AUTO_TEST_CASE(a_gap_an_unknown_share_or_disagreeing_counts_cover_nothing) {
  BOOST_TEST(!covers_every_partition({}));
  BOOST_TEST(!covers_every_partition({{6, {0, 2, 4}}, {6, {1, 3}}}));        // partition 5 held by nobody
  BOOST_TEST(!covers_every_partition({{6, {0, 1, 2, 3, 4, 5}}, {0, {}}}));  // a shard without a Kafka feed
  BOOST_TEST(!covers_every_partition({{0, {}}}));
  BOOST_TEST(!covers_every_partition({{3, {0, 1, 2}}, {4, {3}}}));           // shards disagree on the topic
  BOOST_TEST(!covers_every_partition({{2, {0, 7}}}));                        // 7 is not a partition of a 2-partition topic
}

BOOST_AUTO_TEST_CASE(a_published_share_is_what_a_snapshot_returns_sorted) {
  shard_coverage c;
  BOOST_TEST(c.snapshot().topic_partitions == 0u);  // unknown until published
  c.publish({6, {4, 1, 4, 0}});
  const auto s = c.snapshot();
  BOOST_TEST(s.topic_partitions == 6u);
  BOOST_TEST(s.held == (std::vector<std::int32_t>{0, 1, 4}), boost::test_tools::per_element());
  // Writers and readers on different threads (the feed's and the shard search's).
  std::thread writer([&] {
    for (std::int32_t i = 0; i < 2000; ++i) c.publish({6, {i % 6}});
  });
  for (int i = 0; i < 2000; ++i) {
    const auto now = c.snapshot();
    BOOST_REQUIRE(now.topic_partitions == 6u);
    BOOST_REQUIRE(now.held.size() <= 3u);
  }
  writer.join();
  BOOST_TEST(c.snapshot().held == (std::vector<std::int32_t>{1999 % 6}), boost::test_tools::per_element());
}
