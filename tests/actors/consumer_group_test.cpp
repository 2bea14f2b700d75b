// Sharding over Kafka partitions (issue 6): nodes in one consumer group split the vectors topic's
// partitions; each indexes only its own; a node that joins takes partitions away (the old owner drops
// their vectors), a node that leaves hands them back (the new owner replays them). Nothing is lost or
// held twice. Two engines in one process on the embedded broker; session.timeout.ms 3000 (the mock
// group needs ~3 s per join; 1000 never settles).
#define BOOST_TEST_MODULE consumer_group_test
#include <boost/test/unit_test.hpp>

#include <thread>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/partition_ownership.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 2000, per_record = 50;
constexpr std::int32_t k_partitions = 4;

service_config make_config() { return test::group_node_config(d, k_partitions); }

using node = test::kafka_node;
// Same training set on every node: same codebooks (codebook sharing is a separate concern).
using test::start_kafka_node;
using test::wait_for;

/// Top-10 ids of every 97th vector (every list probed, exact re-ranking of 100 candidates).
std::vector<std::vector<std::uint64_t>> answers(const node& nd, const std::vector<float>& x) {
  std::vector<std::vector<std::uint64_t>> out;
  for (std::size_t i = 0; i < n; i += 97) {
    auto hits = nd.eng->search(x.data() + i * d, d).nprobes(16).limit(10).refine_factor(10).to_list();
    BOOST_REQUIRE_MESSAGE(hits, (hits ? "" : hits.error().to_string()));
    BOOST_REQUIRE(!hits->partial);
    out.emplace_back();
    for (const auto& h : hits->hits) out.back().push_back(h.id);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ownership_drops_only_partitions_that_do_not_come_back) {
  actors::partition_ownership own;
  const actors::topic_partition_key p0{"v", 0}, p1{"v", 1};
  own.assign({p0, p1});
  const std::uint64_t a[] = {1, 2, 3}, b[] = {4, 5};
  own.note_upsert(p0, a, 3);
  own.note_upsert(p1, b, 2);
  const std::uint64_t moved = 3;
  own.note_upsert(p1, &moved, 1);  // id 3 re-upserted through partition 1
  own.note_delete(&a[0], 1);       // id 1 deleted
  own.revoke({p0, p1});            // eager rebalance: everything revoked first ...
  BOOST_TEST(!own.owns(p0));
  auto [ids, gone] = own.assign({p1});  // ... then partition 1 comes back
  BOOST_TEST(ids == std::vector<std::uint64_t>({2}), boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(gone.size(), 1u);
  BOOST_TEST(gone[0].second == 0);
  BOOST_TEST(own.ids_of(p1) == 3u);
  BOOST_TEST(own.owns(p1));
}

BOOST_AUTO_TEST_CASE(two_nodes_split_the_partitions_and_a_leaving_node_hands_them_back) {
  const service_config c = make_config();
  auto b = connectors::embedded_broker::start(c);
  BOOST_REQUIRE_MESSAGE(b, (b ? "" : b.error().to_string()));
  const std::string bootstrap = (*b)->bootstrap_servers();
  const auto training = test::clustered_data(3000, d, 20, 3);
  const auto x = test::clustered_data(n, d, 20, 4);
  const auto ids = test::iota_ids(n, 1);
  {
    auto p = connectors::kafka_producer::create(connectors::kafka_client_config::from(c, bootstrap));
    BOOST_REQUIRE(p);
    for (std::size_t off = 0, r = 0; off < n; off += per_record, ++r) {
      const auto rec = connectors::encode_upserts(ids.data() + off, x.data() + off * d, per_record, d);
      BOOST_REQUIRE((*p)->produce(c.kafka.topics.vectors, nullptr, 0, rec.data(), rec.size(),
                                  static_cast<std::int32_t>(r % k_partitions)));
    }
    BOOST_REQUIRE((*p)->flush(10s));
  }

  node a = start_kafka_node(c, bootstrap, training);
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return a.vectors() == n; }, 150s), "node a alone: " << a.vectors());
  const auto alone = answers(a, x);

  node bn = start_kafka_node(c, bootstrap, training);
  // after the rebalance each holds its own partitions' vectors, none twice
  const bool split = wait_for(
      [&] {
        const auto va = a.vectors(), vb = bn.vectors();
        return va > 0 && vb > 0 && va + vb == n;
      },
      150s);
  BOOST_REQUIRE_MESSAGE(split, "after join: a=" << a.vectors() << " b=" << bn.vectors());
  BOOST_TEST_MESSAGE("split: a=" << a.vectors() << " b=" << bn.vectors());

  // b leaves: a gets every partition back and replays b's
  bn.service.reset();
  bn.eng.reset();
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return a.vectors() == n; }, 150s), "after leave: a=" << a.vectors());
  // nothing lost: the same answers as when a held everything the first time
  const auto after = answers(a, x);
  BOOST_REQUIRE_EQUAL(after.size(), alone.size());
  for (std::size_t q = 0; q < after.size(); ++q) BOOST_TEST(after[q] == alone[q], boost::test_tools::per_element());
  a.service.reset();
  a.eng.reset();
}
