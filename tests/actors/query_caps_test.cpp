// The [caps] on what one query may cost: k, nprobes, refine_factor, query vectors per request,
// request bytes and query vectors in flight. A query over a cap gets an error naming the value and
// the cap (embedded API: an error result; query topic: an error reply) and is never run; queries
// within the caps are answered.
#define BOOST_TEST_MODULE query_caps
#include <boost/test/unit_test.hpp>

#include <thread>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/query_admission.hpp"
#include "actors/query_client.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 2000;

actors::query_caps small_caps() {
  actors::query_caps c;
  c.max_k = 5;
  c.max_nprobes = 4;
  c.max_refine_factor = 2;
  c.max_vectors_per_request = 4;
  c.max_inflight_queries = 6;
  return c;
}

search_params params(std::size_t k, std::size_t nprobes, std::size_t refine) {
  search_params p;
  p.limit = k;
  p.nprobes = nprobes;
  p.refine_factor = refine;
  return p;
}

template <class T>
std::string error_of(const result<T>& r) {
  return r ? std::string("(ok)") : r.error().message();
}

template <class T>
bool exhausted(const result<T>& r) {
  return !r && r.error().code() == errc::resource_exhausted;
}

index_params small_index() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(query_admission_rules)

BOOST_AUTO_TEST_CASE(each_cap_refuses_one_over_and_admits_the_cap_itself) {
  actors::query_admission a(small_caps());
  BOOST_TEST(a.check(params(5, 4, 2), 4).has_value());
  BOOST_TEST(error_of(a.check(params(6, 4, 2))) == "search limit=6: over the cap caps.max_k=5");
  BOOST_TEST(error_of(a.check(params(5, 5, 2))) == "search nprobes=5: over the cap caps.max_nprobes=4");
  BOOST_TEST(error_of(a.check(params(5, 4, 3))) == "search refine_factor=3: over the cap caps.max_refine_factor=2");
  BOOST_TEST(error_of(a.check(params(5, 4, 2), 5)) ==
             "query vectors=5: over the cap caps.max_vectors_per_request=4");
  BOOST_TEST(exhausted(a.check(params(std::size_t{1} << 40, 1, 0))));
}

BOOST_AUTO_TEST_CASE(in_flight_slots_are_taken_and_given_back) {
  actors::query_admission a(small_caps());
  BOOST_TEST(a.acquire(params(1, 1, 0), 4).has_value());
  BOOST_TEST(a.acquire(params(1, 1, 0), 2).has_value());
  BOOST_TEST(a.inflight() == 6u);
  const auto full = a.acquire(params(1, 1, 0), 1);
  BOOST_TEST(error_of(full) == "in-flight queries=7: over the cap caps.max_inflight_queries=6");
  BOOST_TEST(a.inflight() == 6u);  // a refused request holds nothing
  a.release(2);
  BOOST_TEST(a.acquire(params(1, 1, 0), 2).has_value());
  // A request over a parameter cap takes no slot either.
  a.release(6);
  BOOST_TEST(exhausted(a.acquire(params(6, 1, 0), 1)));
  BOOST_TEST(a.inflight() == 0u);
}

BOOST_AUTO_TEST_CASE(concurrent_acquires_never_exceed_the_cap) {
  actors::query_admission a(small_caps());
  std::atomic<std::uint64_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!a.acquire(params(1, 1, 0), 2)) continue;
        std::uint64_t seen = a.inflight(), p = peak.load();
        while (seen > p && !peak.compare_exchange_weak(p, seen)) {
        }
        a.release(2);
      }
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(peak.load() <= 6u);
  BOOST_TEST(a.inflight() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(embedded_api)

BOOST_AUTO_TEST_CASE(search_over_a_cap_is_an_error_result_and_within_is_answered) {
  engine_options o;
  o.partition_actors = 2;
  o.scheduler_threads = 2;
  o.caps = small_caps();
  o.default_search = params(5, 4, 0);
  auto e = engine::open(o);
  BOOST_REQUIRE_MESSAGE(e, error_of(e));
  const auto x = test::clustered_data(n, d, 20, 5);
  BOOST_REQUIRE((*e)->create_index(small_index(), x.data(), n));
  const auto ids = test::iota_ids(n, 1);
  BOOST_REQUIRE((*e)->upsert(ids.data(), x.data(), n));
  auto& eng = **e;

  auto ok = eng.search(x.data(), d).limit(5).nprobes(4).refine_factor(2).to_list();
  BOOST_REQUIRE_MESSAGE(ok, error_of(ok));
  BOOST_TEST(ok->hits.size() == 5u);
  BOOST_TEST(ok->hits[0].id == 1u);

  const auto big_k = eng.search(x.data(), d).limit(1000000000).to_list();
  BOOST_TEST(exhausted(big_k));
  BOOST_TEST(error_of(big_k) == "search limit=1000000000: over the cap caps.max_k=5");
  BOOST_TEST(error_of(eng.search(x.data(), d).nprobes(5).to_list()) ==
             "search nprobes=5: over the cap caps.max_nprobes=4");
  BOOST_TEST(error_of(eng.search(x.data(), d).refine_factor(3).to_list()) ==
             "search refine_factor=3: over the cap caps.max_refine_factor=2");
  // The asynchronous forms refuse the same way (the callback gets the error).
  auto fut = eng.search(x.data(), d).limit(6).to_future();
  BOOST_TEST(exhausted(fut.get()));
  std::promise<result<search_result>> p;
  eng.search(x.data(), d).nprobes(99).then([&p](result<search_result> r) { p.set_value(std::move(r)); });
  BOOST_TEST(exhausted(p.get_future().get()));
  // Slots come back: many searches one after another (more than max_inflight_queries) all succeed.
  for (int i = 0; i < 20; ++i) {
    auto f = eng.search(x.data() + i * d, d).to_future().get();
    BOOST_REQUIRE_MESSAGE(f, error_of(f));
  }
}

BOOST_AUTO_TEST_CASE(default_search_over_a_cap_is_refused_at_open) {
  engine_options o;
  o.caps = small_caps();
  o.default_search = params(10, 4, 0);
  auto e = engine::open(o);
  BOOST_TEST(exhausted(e));
  BOOST_TEST(error_of(e) == "search limit=10: over the cap caps.max_k=5");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(query_topic)

// One service on the embedded broker with small caps; every cap is exceeded by one request.
BOOST_AUTO_TEST_CASE(request_over_a_cap_gets_an_error_reply_naming_it) {
  service_config c;
  c.kafka.topic_partitions = 2;
  c.index = small_index();
  c.engine.partition_actors = 2;
  c.engine.data_dir = "";
  c.engine.checkpoint_interval_ms = 0;
  c.engine.checkpoint_interval_records = 0;
  c.search = params(5, 4, 0);
  c.caps.max_k = 5;
  c.caps.max_nprobes = 4;
  c.caps.max_refine_factor = 2;
  c.caps.max_vectors_per_request = 8;
  c.caps.max_inflight_queries = 4;  // below max_vectors_per_request: a request of 5..8 vectors never fits
  c.caps.max_request_bytes = 1024;  // a request of 1 vector of 16 floats is ~150 bytes; 16 vectors ~1.1 kB
  auto broker = connectors::embedded_broker::start(c);
  BOOST_REQUIRE_MESSAGE(broker, error_of(broker));
  auto o = engine_options::from(c);
  o.scheduler_threads = 2;
  auto e = engine::open(o);
  BOOST_REQUIRE_MESSAGE(e, error_of(e));
  const auto x = test::clustered_data(n, d, 20, 6);
  BOOST_REQUIRE((*e)->create_index(c.index, x.data(), n));
  const auto ids = test::iota_ids(n, 1);
  BOOST_REQUIRE((*e)->upsert(ids.data(), x.data(), n));
  auto service = kafka_service::start(**e, c, (*broker)->bootstrap_servers());
  BOOST_REQUIRE_MESSAGE(service, error_of(service));
  auto client = query_client::open(c, (*broker)->bootstrap_servers());
  BOOST_REQUIRE_MESSAGE(client, error_of(client));
  auto& cl = **client;

  auto expect_refused = [&](std::size_t nq, const query_options& qo, const std::string& text) {
    auto r = cl.query(x.data(), nq, d, qo, 20s);
    BOOST_REQUIRE_MESSAGE(r, error_of(r));
    BOOST_TEST(r->error_code == static_cast<std::uint8_t>(errc::resource_exhausted), text);
    BOOST_TEST(r->error_message.find(text) != std::string::npos, r->error_message << " should contain " << text);
    BOOST_TEST(r->results.empty());
  };
  auto within = cl.query(x.data(), 4, d, query_options{5u, 4u, 2u, 0}, 20s);
  BOOST_REQUIRE_MESSAGE(within, error_of(within));
  BOOST_TEST(within->error_code == 0, within->error_message);
  BOOST_REQUIRE(within->results.size() == 4u);
  BOOST_TEST(within->results[0].ids.size() == 5u);

  expect_refused(1, query_options{6u, std::nullopt, std::nullopt, 0}, "max_k=5");
  expect_refused(1, query_options{std::nullopt, 5u, std::nullopt, 0}, "max_nprobes=4");
  expect_refused(1, query_options{std::nullopt, std::nullopt, 3u, 0}, "max_refine_factor=2");
  expect_refused(9, {}, "vectors=9");                   // vectors per request (8)
  expect_refused(16, {}, "1024 bytes");                // request bytes
  expect_refused(5, {}, "caps.max_inflight_queries=4");  // more vectors than may be in flight at once

  // The service still answers, and counted the refusal.
  auto after = cl.query(x.data(), 1, d, {}, 20s);
  BOOST_REQUIRE_MESSAGE(after, error_of(after));
  BOOST_TEST(after->error_code == 0, after->error_message);
  auto stats = (*service)->query_stats();
  BOOST_REQUIRE(stats);
  BOOST_TEST(stats->over_inflight == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
