#define BOOST_TEST_MODULE kafka_client_config
#include <boost/test/unit_test.hpp>

#include <mutex>

#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"

using namespace ivfstream;
using namespace ivfstream::connectors;

namespace {

kafka_client_config with(std::map<std::string, std::string> props) {
  kafka_client_config c;
  c.bootstrap_servers = "127.0.0.1:1";  // never contacted
  c.properties = std::move(props);
  c.log_sink = [](int, std::string_view, std::string_view) {};
  return c;
}

std::string error_of(const status& s) { return s ? std::string("<ok>") : s.error().message(); }

}  // namespace

BOOST_AUTO_TEST_CASE(valid_passthrough_properties_are_accepted) {
  BOOST_TEST(error_of(check_kafka_client_config(with({{"linger.ms", "5"}, {"socket.keepalive.enable", "true"}}))) ==
             "<ok>");
  BOOST_TEST(error_of(check_kafka_client_config(with({{"security.protocol", "SASL_PLAINTEXT"},
                                                      {"sasl.mechanism", "PLAIN"},
                                                      {"sasl.username", "alice"},
                                                      {"sasl.password", "hunter2"}}))) == "<ok>");
}

BOOST_AUTO_TEST_CASE(unknown_property_names_the_property_and_librdkafka_text) {
  const std::string msg = error_of(check_kafka_client_config(with({{"no.such.property", "1"}})));
  BOOST_TEST(msg == "kafka.properties.no.such.property=1: No such configuration property: \"no.such.property\"");
}

BOOST_AUTO_TEST_CASE(bad_values_carry_librdkafka_text) {
  std::string msg = error_of(check_kafka_client_config(with({{"security.protocol", "CARRIER_PIGEON"}})));
  BOOST_TEST(msg.rfind("kafka.properties.security.protocol=CARRIER_PIGEON: Invalid value \"CARRIER_PIGEON\"", 0) == 0,
             msg);
  msg = error_of(check_kafka_client_config(with({{"linger.ms", "-7"}})));
  BOOST_TEST(msg.rfind("kafka.properties.linger.ms=-7: ", 0) == 0, msg);
  // Refused only when the client is created (librdkafka checks the combination then).
  msg = error_of(check_kafka_client_config(with({{"security.protocol", "SASL_PLAINTEXT"}, {"sasl.mechanism", "FOO"}})));
  BOOST_TEST(msg == "kafka.properties.sasl.mechanism=FOO: Unsupported SASL mechanism: FOO");
}

BOOST_AUTO_TEST_CASE(producer_and_consumer_creation_report_the_same_errors) {
  auto p = kafka_producer::create(with({{"sasl.mechanism", "PLAIN"}, {"security.protocol", "nope"}}));
  BOOST_REQUIRE(!p.has_value());
  BOOST_TEST(p.error().message().find("kafka.properties.security.protocol=nope") != std::string::npos,
             p.error().message());
  auto c = kafka_consumer::create(with({{"fetch.wait.max.ms", "abc"}}));
  BOOST_REQUIRE(!c.has_value());
  BOOST_TEST(c.error().message().find("kafka.properties.fetch.wait.max.ms=abc") != std::string::npos,
             c.error().message());
  kafka_consumer_options o;
  o.auto_offset_reset = "middle";
  auto c2 = kafka_consumer::create(with({}), o);
  BOOST_REQUIRE(!c2.has_value());
  BOOST_TEST(c2.error().message() == "auto_offset_reset='middle': must be earliest or latest");
}

BOOST_AUTO_TEST_CASE(secret_values_never_appear_in_errors_or_logs) {
  // An invalid value for a secret-bearing property: the message names it, masks the value.
  std::string msg = error_of(check_kafka_client_config(with({{"ssl.key.password", "topsecret"}, {"bogus.key", "x"}})));
  BOOST_TEST(msg.find("topsecret") == std::string::npos, msg);

  // Everything librdkafka logs passes the mask.
  std::mutex mu;
  std::vector<std::string> lines;
  kafka_client_config c = with({{"sasl.password", "hunter2"}, {"debug", "conf,generic"}});
  c.log_sink = [&](int, std::string_view fac, std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(std::string(fac) + ": " + std::string(line));
  };
  BOOST_TEST(error_of(check_kafka_client_config(c)) == "<ok>");
  std::lock_guard<std::mutex> lock(mu);
  BOOST_TEST(!lines.empty());
  for (const auto& l : lines) BOOST_TEST(l.find("hunter2") == std::string::npos, l);
}

BOOST_AUTO_TEST_CASE(from_service_config_takes_the_passthrough_properties) {
  service_config s;
  s.kafka.client_id = "node-7";
  s.kafka.properties["security.protocol"] = "SSL";
  const auto c = kafka_client_config::from(s, "10.0.0.1:9093");
  BOOST_TEST(c.bootstrap_servers == "10.0.0.1:9093");
  BOOST_TEST(c.client_id == "node-7");
  BOOST_TEST(c.properties.at("security.protocol") == "SSL");
}
