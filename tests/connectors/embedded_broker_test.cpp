#define BOOST_TEST_MODULE embedded_broker
#include <boost/test/unit_test.hpp>

#include "connectors/record_codec.hpp"
#include "kafka_test_support.hpp"

using namespace ivfstream;
using namespace ivfstream::connectors;
using namespace ivfstream::connectors::test;

BOOST_AUTO_TEST_CASE(starts_on_an_ephemeral_local_port_with_the_requested_topics) {
  auto broker = start_broker({{"a", 3}, {"b", 1}}, 2);
  const std::string& bs = broker->bootstrap_servers();
  BOOST_TEST(bs.rfind("127.0.0.1:", 0) == 0, bs);
  BOOST_TEST(bs.find(',') != std::string::npos, bs);  // two brokers
  BOOST_TEST(broker->broker_count() == 2);
  auto producer = make_producer(bs);
  auto a = producer->partition_count("a", 30s);
  BOOST_REQUIRE_MESSAGE(a.has_value(), (a ? std::string() : a.error().to_string()));
  BOOST_TEST(*a == 3);
  BOOST_REQUIRE(broker->create_topic("c", 5));
  auto c = producer->partition_count("c", 30s);
  BOOST_REQUIRE(c.has_value());
  BOOST_TEST(*c == 5);
}

BOOST_AUTO_TEST_CASE(two_brokers_run_side_by_side) {
  auto one = start_broker({{"t", 1}});
  auto two = start_broker({{"t", 1}});
  BOOST_TEST(one->bootstrap_servers() != two->bootstrap_servers());
  auto p1 = make_producer(one->bootstrap_servers());
  produce_sync(*p1, "t", {1, 2, 3});
  auto c2 = make_consumer(two->bootstrap_servers());
  BOOST_REQUIRE(c2->assign({{"t", 0, k_offset_beginning}}));
  BOOST_TEST(consume_n(*c2, 1, 500ms).empty());  // separate clusters
  auto wm = c2->watermarks("t", 0, 30s);
  BOOST_REQUIRE(wm.has_value());
  BOOST_TEST(wm->second == 0);
}

BOOST_AUTO_TEST_CASE(service_topics_follow_the_configuration) {
  service_config config;
  config.kafka.topic_partitions = 6;
  config.kafka.topics.vectors = "vv";
  auto broker = embedded_broker::start(config);
  BOOST_REQUIRE_MESSAGE(broker.has_value(), (broker ? std::string() : broker.error().to_string()));
  auto producer = make_producer((*broker)->bootstrap_servers());
  BOOST_TEST(*producer->partition_count("vv", 30s) == 6);
  BOOST_TEST(*producer->partition_count(config.kafka.topics.queries, 30s) == 6);
  BOOST_TEST(*producer->partition_count(config.kafka.topics.dead_letter, 30s) == 6);
  BOOST_TEST(*producer->partition_count(config.kafka.topics.codebooks, 30s) == 1);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_errors) {
  auto b = embedded_broker::start(0);
  BOOST_REQUIRE(!b.has_value());
  BOOST_TEST(b.error().message() == "embedded broker_count=0: must be in 1..16");
  auto ok = start_broker({});
  const status s = ok->create_topic("x", 0);
  BOOST_REQUIRE(!s);
  BOOST_TEST(s.error().message() == "topic 'x' partitions=0: must be in 1..100000");
}

BOOST_AUTO_TEST_CASE(each_partition_keeps_only_its_newest_records_beyond_about_5_mb) {
  // Documented limit of the mock cluster: this is why the demo spreads topics over many partitions.
  auto broker = start_broker({{"v", 1}});
  auto producer = make_producer(broker->bootstrap_servers());
  const std::size_t n = 1000, d = 128;  // 512 KB per record
  std::vector<float> v(n * d, 0.5f);
  std::vector<std::uint64_t> ids(n, 1);
  const auto rec = encode_upserts(ids.data(), v.data(), n, d);
  for (int i = 0; i < 20; ++i) BOOST_REQUIRE(producer->produce("v", nullptr, 0, rec.data(), rec.size(), 0));
  BOOST_REQUIRE(producer->flush(20s));
  auto consumer = make_consumer(broker->bootstrap_servers());
  auto wm = consumer->watermarks("v", 0, 30s);
  BOOST_REQUIRE(wm.has_value());
  BOOST_TEST(wm->second == 20);
  BOOST_TEST(wm->first > 0);  // the oldest records are gone
  const double kept_mb = static_cast<double>(wm->second - wm->first) * static_cast<double>(rec.size()) / 1e6;
  BOOST_TEST_MESSAGE("mock partition keeps " << (wm->second - wm->first) << " records = " << kept_mb << " MB");
  BOOST_TEST(kept_mb < 8.0);
}
