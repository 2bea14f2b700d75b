// query_client (actors/query_client.hpp) against the embedded broker, with replies written by the test
// instead of a service: exactly one reply per request reaches the caller, whatever the service sends
// (its delivery is at least once: after a kill -9 a request can be answered twice); a second reply, and
// one that arrives after the wait gave up, are dropped and counted instead of piling up.
#define BOOST_TEST_MODULE query_client
#include <boost/test/unit_test.hpp>

#include "actors/query_client.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 4;

struct fixture {
  service_config c;
  std::unique_ptr<connectors::embedded_broker> broker;
  std::unique_ptr<query_client> client;
  std::unique_ptr<connectors::kafka_producer> server;  // plays the service: writes replies

  fixture() {
    c.kafka.topic_partitions = 2;
    auto b = connectors::embedded_broker::start(c);
    BOOST_REQUIRE_MESSAGE(b, (b ? "" : b.error().to_string()));
    broker = std::move(*b);
    auto cl = query_client::open(c, broker->bootstrap_servers());
    BOOST_REQUIRE_MESSAGE(cl, (cl ? "" : cl.error().to_string()));
    client = std::move(*cl);
    auto p = connectors::kafka_producer::create(connectors::kafka_client_config::from(c, broker->bootstrap_servers()));
    BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.error().to_string()));
    server = std::move(*p);
  }

  std::string send() {
    const float q[d] = {1, 2, 3, 4};
    auto id = client->send(q, 1, d);
    BOOST_REQUIRE_MESSAGE(id, (id ? "" : id.error().to_string()));
    return *id;
  }

  // A reply to `id` whose one hit says which answer it is.
  void reply(const std::string& id, std::uint64_t which) {
    connectors::query_response r;
    r.correlation_id = id;
    r.results.resize(1);
    r.results[0].ids = {which};
    r.results[0].distances = {0.5f};
    const auto bytes = connectors::encode_query_response(r);
    BOOST_REQUIRE(server->produce(client->reply_topic(), id.data(), id.size(), bytes.data(), bytes.size()));
    BOOST_REQUIRE(server->flush(10s));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_request_answered_twice_reaches_the_caller_once, fixture) {
  const std::string a = send();
  reply(a, 1);
  reply(a, 2);  // the same request answered again (a node killed before committing its offset)
  auto got = client->wait(a, 20s);
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
  BOOST_REQUIRE_EQUAL(got->results.size(), 1u);
  BOOST_TEST(got->results[0].ids.front() == 1u);  // the first reply
  // The id is answered now: waiting for it again is an error, not the duplicate.
  auto again = client->wait(a, 1s);
  BOOST_REQUIRE(!again);
  BOOST_TEST(again.error().code() == errc::not_found);
  BOOST_TEST(again.error().message().find(a) != std::string::npos, again.error().message());

  // The next request's wait reads past the duplicate, whether or not the first wait had read it.
  const std::string b = send();
  reply(b, 3);
  got = client->wait(b, 20s);
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
  BOOST_TEST(got->results[0].ids.front() == 3u);
  BOOST_TEST(client->dropped_replies() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_reply_after_the_wait_gave_up_is_dropped, fixture) {
  const std::string late = send();
  auto none = client->wait(late, 300ms);
  BOOST_REQUIRE(!none);
  BOOST_TEST(none.error().code() == errc::timeout);
  reply(late, 1);  // after the caller gave up
  const std::string next = send();
  reply(next, 2);
  auto got = client->wait(next, 20s);
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
  BOOST_TEST(got->results[0].ids.front() == 2u);
  BOOST_TEST(client->dropped_replies() == 1u);
  BOOST_TEST(!client->wait(late, 1s));  // given up: not_found, not the late reply
}
