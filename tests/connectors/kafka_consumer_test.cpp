#define BOOST_TEST_MODULE kafka_consumer
#include <boost/test/unit_test.hpp>

#include <set>

#include "connectors/record_codec.hpp"
#include "kafka_test_support.hpp"

using namespace ivfstream;
using namespace ivfstream::connectors;
using namespace ivfstream::connectors::test;

namespace {

std::vector<std::uint8_t> upsert_record(std::uint64_t id, std::size_t d = 4) {
  std::vector<float> v(d);
  for (std::size_t j = 0; j < d; ++j) v[j] = static_cast<float>(id) + 0.25f * static_cast<float>(j);
  return encode_upserts(&id, v.data(), 1, d);
}

std::uint64_t first_id(const record_copy& r) {
  auto d = decode_vector_record(r.payload.data(), r.payload.size(), record_limits{});
  BOOST_REQUIRE_MESSAGE(d.has_value(), (d ? std::string() : d.error().to_string()));
  return d->ids.at(0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_record_kind_round_trips_through_the_broker) {
  auto broker = start_broker({{"vectors", 1}, {"queries", 1}, {"replies", 1}, {"dead", 1}});
  auto producer = make_producer(broker->bootstrap_servers());
  std::vector<delivery_report> reports;
  kafka_producer_options with_reports;
  with_reports.on_delivery = [&](const delivery_report& r) { reports.push_back(r); };
  auto producer2 = make_producer(broker->bootstrap_servers(), with_reports);

  const std::vector<std::uint64_t> ids{11, 12, 13};
  const std::vector<float> vecs{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const auto upserts = encode_upserts(ids.data(), vecs.data(), 3, 4, 77);
  const auto deletes = encode_deletes(ids.data(), 2);
  query_request_fields qf;
  qf.correlation_id = "q-1";
  qf.reply_topic = "replies";
  qf.dimension = 4;
  qf.vectors = vecs.data();
  qf.num_queries = 3;
  qf.k = 5;
  const auto request = encode_query_request(qf);
  query_response resp;
  resp.correlation_id = "q-1";
  resp.results = {{{11, 12}, {0.0f, 1.0f}}};
  const auto response = encode_query_response(resp);
  dead_letter dl;
  dl.source_topic = "vectors";
  dl.source_offset = 5;
  dl.reason = "test";
  const auto dead = encode_dead_letter(dl);

  const auto key = vector_record_key(ids[0]);
  BOOST_REQUIRE(producer2->produce("vectors", key.data(), key.size(), upserts.data(), upserts.size(), 0, 1));
  BOOST_REQUIRE(producer2->produce("vectors", key.data(), key.size(), deletes.data(), deletes.size(), 0, 2));
  BOOST_REQUIRE(producer2->produce("queries", qf.correlation_id.data(), qf.correlation_id.size(), request.data(),
                                   request.size(), k_any_partition, 3));
  BOOST_REQUIRE(producer2->produce("replies", "q-1", 3, response.data(), response.size(), k_any_partition, 4));
  BOOST_REQUIRE(producer2->produce("dead", nullptr, 0, dead.data(), dead.size(), k_any_partition, 5));
  BOOST_REQUIRE(producer2->flush(10s));
  BOOST_REQUIRE(reports.size() == 5u);
  std::map<std::uint64_t, delivery_report> by_tag;
  for (const auto& r : reports) {
    BOOST_TEST(!r.failure.has_value());
    by_tag.emplace(r.tag, r);
  }
  BOOST_REQUIRE(by_tag.size() == 5u);
  BOOST_TEST(by_tag.at(1).topic == "vectors");
  BOOST_TEST(by_tag.at(1).offset == 0);  // the two vectors records, in order
  BOOST_TEST(by_tag.at(2).offset == 1);
  BOOST_TEST(by_tag.at(3).topic == "queries");
  BOOST_TEST(producer2->delivered() == 5u);

  auto consumer = make_consumer(broker->bootstrap_servers());
  BOOST_REQUIRE(consumer->assign({{"vectors", 0, k_offset_beginning},
                                  {"queries", 0, k_offset_beginning},
                                  {"replies", 0, k_offset_beginning},
                                  {"dead", 0, k_offset_beginning}}));
  const auto got = consume_n(*consumer, 5);
  BOOST_REQUIRE(got.size() == 5u);
  const record_limits lim{};
  for (const record_copy& r : got) {
    if (r.topic == "vectors" && r.offset == 0) {
      BOOST_TEST(r.key == std::vector<std::uint8_t>(key.begin(), key.end()), boost::test_tools::per_element());
      auto d = decode_vector_record(r.payload.data(), r.payload.size(), lim);
      BOOST_REQUIRE(d.has_value());
      BOOST_TEST(d->ids == ids, boost::test_tools::per_element());
      BOOST_TEST(d->vectors == vecs, boost::test_tools::per_element());
      BOOST_TEST(d->created_at_us == 77u);
    } else if (r.topic == "vectors") {
      auto d = decode_vector_record(r.payload.data(), r.payload.size(), lim);
      BOOST_REQUIRE(d.has_value());
      BOOST_TEST((d->kind == vector_record_kind::remove));
      BOOST_TEST(d->ids.size() == 2u);
    } else if (r.topic == "queries") {
      auto q = decode_query_request(r.payload.data(), r.payload.size(), lim, query_defaults{});
      BOOST_REQUIRE(q.has_value());
      BOOST_TEST(q->correlation_id == "q-1");
      BOOST_TEST(q->num_queries == 3u);
      BOOST_TEST(q->params.limit == 5u);
      BOOST_TEST(q->vectors == vecs, boost::test_tools::per_element());
    } else if (r.topic == "replies") {
      auto q = decode_query_response(r.payload.data(), r.payload.size());
      BOOST_REQUIRE(q.has_value());
      BOOST_TEST(q->results.at(0).ids == resp.results[0].ids, boost::test_tools::per_element());
    } else {
      auto q = decode_dead_letter(r.payload.data(), r.payload.size());
      BOOST_REQUIRE(q.has_value());
      BOOST_TEST(q->source_offset == 5);
    }
  }
}

BOOST_AUTO_TEST_CASE(seek_replays_exactly_from_the_given_offset) {
  auto broker = start_broker({{"vectors", 2}});
  auto producer = make_producer(broker->bootstrap_servers());
  for (std::uint64_t id = 0; id < 20; ++id) {
    const auto rec = upsert_record(id);
    BOOST_REQUIRE(producer->produce("vectors", nullptr, 0, rec.data(), rec.size(), static_cast<std::int32_t>(id % 2)));
  }
  BOOST_REQUIRE(producer->flush(10s));

  auto consumer = make_consumer(broker->bootstrap_servers());
  // Start partition 0 at offset 3 and partition 1 at offset 7 (as from a checkpoint).
  BOOST_REQUIRE(consumer->assign({{"vectors", 0, 3}, {"vectors", 1, 7}}));
  auto got = consume_n(*consumer, 7 + 3);
  BOOST_REQUIRE(got.size() == 10u);
  std::map<std::int32_t, std::vector<std::int64_t>> offsets;
  for (const auto& r : got) {
    offsets[r.partition].push_back(r.offset);
    BOOST_TEST(first_id(r) == static_cast<std::uint64_t>(r.offset * 2 + r.partition));
  }
  BOOST_TEST(offsets[0] == (std::vector<std::int64_t>{3, 4, 5, 6, 7, 8, 9}), boost::test_tools::per_element());
  BOOST_TEST(offsets[1] == (std::vector<std::int64_t>{7, 8, 9}), boost::test_tools::per_element());

  // Seek back and replay: exactly the records from there, in order.
  BOOST_REQUIRE(consumer->seek({{"vectors", 0, 8}, {"vectors", 1, 1}}, 5s));
  got = consume_n(*consumer, 2 + 9);
  BOOST_REQUIRE(got.size() == 11u);
  offsets.clear();
  for (const auto& r : got) offsets[r.partition].push_back(r.offset);
  BOOST_TEST(offsets[0] == (std::vector<std::int64_t>{8, 9}), boost::test_tools::per_element());
  BOOST_TEST(offsets[1] == (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}), boost::test_tools::per_element());
  BOOST_TEST(consume_n(*consumer, 1, 300ms).empty());  // nothing more

  auto wm = consumer->watermarks("vectors", 1, 5s);
  BOOST_REQUIRE(wm.has_value());
  BOOST_TEST(wm->first == 0);
  BOOST_TEST(wm->second == 10);
}

BOOST_AUTO_TEST_CASE(group_assignment_starts_where_the_engine_says_and_commits_explicitly) {
  auto broker = start_broker({{"vectors", 2}});
  auto producer = make_producer(broker->bootstrap_servers());
  for (std::uint64_t id = 0; id < 10; ++id) {
    const auto rec = upsert_record(id);
    BOOST_REQUIRE(producer->produce("vectors", nullptr, 0, rec.data(), rec.size(), static_cast<std::int32_t>(id % 2)));
  }
  BOOST_REQUIRE(producer->flush(10s));

  std::vector<topic_partition> assigned;
  kafka_consumer_options o;
  o.group_id = "g-assign";
  o.session_timeout_ms = 3000;  // the mock coordinator's rejoin waits up to about this long
  o.on_assign = [&](const std::vector<topic_partition>& parts) {
    assigned = parts;
    // Checkpoint says: partition 0 from offset 4; partition 1 from the committed offset (none → earliest).
    return std::vector<topic_partition_offset>{{"vectors", 0, 4}};
  };
  auto consumer = make_consumer(broker->bootstrap_servers(), o);
  BOOST_REQUIRE(consumer->subscribe({"vectors"}));
  auto got = consume_n(*consumer, 1 + 5);
  BOOST_REQUIRE(got.size() == 6u);
  BOOST_TEST(assigned.size() == 2u);
  std::size_t p0 = 0;
  for (const auto& r : got) {
    if (r.partition == 0) {
      BOOST_TEST(r.offset == 4);
      ++p0;
    }
  }
  BOOST_TEST(p0 == 1u);

  // Explicit commit, read back.
  BOOST_REQUIRE(consumer->commit({{"vectors", 0, 5}, {"vectors", 1, 3}}));
  auto c = consumer->committed({{"vectors", 0}, {"vectors", 1}}, 5s);
  BOOST_REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().to_string()));
  BOOST_TEST(c->at(0).offset == 5);
  BOOST_TEST(c->at(1).offset == 3);
  BOOST_REQUIRE(consumer->close());

  // A new member of the group without on_assign resumes from the committed offsets.
  kafka_consumer_options o2;
  o2.group_id = "g-assign";
  o2.session_timeout_ms = 3000;
  auto second = make_consumer(broker->bootstrap_servers(), o2);
  BOOST_REQUIRE(second->subscribe({"vectors"}));
  // Partition 0 holds offsets 0..4 (committed 5: nothing left); partition 1 resumes at 3.
  got = consume_n(*second, 2);
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].partition == 1);
  BOOST_TEST(got[0].offset == 3);
  BOOST_TEST(got[1].partition == 1);
  BOOST_TEST(got[1].offset == 4);
  BOOST_TEST(consume_n(*second, 1, 300ms).empty());
}

BOOST_AUTO_TEST_CASE(pause_stops_delivery_and_resume_continues_in_order) {
  auto broker = start_broker({{"vectors", 1}});
  auto producer = make_producer(broker->bootstrap_servers());
  auto consumer = make_consumer(broker->bootstrap_servers());
  BOOST_REQUIRE(consumer->assign({{"vectors", 0, k_offset_beginning}}));
  for (std::uint64_t id = 0; id < 3; ++id) produce_sync(*producer, "vectors", upsert_record(id));
  BOOST_REQUIRE(consume_n(*consumer, 3).size() == 3u);

  BOOST_REQUIRE(consumer->pause_all());
  for (std::uint64_t id = 3; id < 6; ++id) produce_sync(*producer, "vectors", upsert_record(id));
  BOOST_TEST(consume_n(*consumer, 1, 500ms).empty());  // paused: nothing delivered
  BOOST_REQUIRE(consumer->resume_all());
  auto got = consume_n(*consumer, 3);
  BOOST_REQUIRE(got.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(got[i].offset == static_cast<std::int64_t>(3 + i));
}

BOOST_AUTO_TEST_CASE(poll_batch_respects_the_batch_size) {
  auto broker = start_broker({{"vectors", 1}});
  auto producer = make_producer(broker->bootstrap_servers());
  for (std::uint64_t id = 0; id < 50; ++id) {
    const auto rec = upsert_record(id);
    BOOST_REQUIRE(producer->produce("vectors", nullptr, 0, rec.data(), rec.size(), 0));
  }
  BOOST_REQUIRE(producer->flush(10s));
  auto consumer = make_consumer(broker->bootstrap_servers());
  BOOST_REQUIRE(consumer->assign({{"vectors", 0, k_offset_beginning}}));
  std::size_t total = 0;
  std::int64_t next = 0;
  const auto deadline = std::chrono::steady_clock::now() + 150s;  // generous: TSan/ASan on a loaded machine
  while (total < 50 && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer->poll_batch(8, 100ms);
    BOOST_REQUIRE(batch.has_value());
    BOOST_TEST(batch->size() <= 8u);
    for (const auto& m : *batch) BOOST_TEST(m.offset() == next++);
    total += batch->size();
  }
  BOOST_TEST(total == 50u);
}
