// The embedded engine end to end over the actors (no Kafka): equal to one ivfpq_index, deadlines
// reported as partial answers, async forms, restart from a checkpoint.
#define BOOST_TEST_MODULE engine
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <thread>

#include "actors/engine.hpp"
#include "actors/engine_impl.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 16, n = 4000;

index_params params() { return test::small_index_params(d); }

engine_options options(std::string dir = "") {
  engine_options o;
  o.partition_actors = 3;
  o.query_actors = 2;
  o.scheduler_threads = 2;
  o.data_dir = std::move(dir);
  return o;
}

using test::check_same;
using test::open_engine;

}  // namespace

BOOST_AUTO_TEST_CASE(engine_answers_what_one_index_answers) {
  const auto x = test::clustered_data(n, d, 25, 11);
  const auto ids = test::iota_ids(n, 1);
  auto e = open_engine(options());
  BOOST_REQUIRE(e->create_index(params(), x.data(), n));
  for (std::size_t off = 0; off < n; off += 500) BOOST_REQUIRE(e->upsert(ids.data() + off, x.data() + off * d, 500));
  auto idx = ivfpq_index::create(params());
  BOOST_REQUIRE(idx);
  BOOST_REQUIRE(idx->train(x.data(), n));
  BOOST_REQUIRE(idx->add(ids.data(), x.data(), n));
  const auto q = test::clustered_data(25, d, 25, 12);
  for (std::size_t i = 0; i < 25; ++i) {
    const search_params sp{10, 5, i % 2 ? 2u : 0u};
    auto want = idx->search(q.data() + i * d, sp);
    BOOST_REQUIRE(want);
    auto got = e->search(q.data() + i * d, d).nprobes(5).limit(10).refine_factor(sp.refine_factor).to_list();
    BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
    BOOST_CHECK(!got->partial);
    check_same(got->hits, *want);
    // Async forms give the same answer.
    auto fut = e->search(q.data() + i * d, d).nprobes(5).limit(10).refine_factor(sp.refine_factor).to_future();
    auto async = fut.get();
    BOOST_REQUIRE(async);
    check_same(async->hits, *want);
  }
  auto st = e->stats();
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->vectors, n);
  BOOST_CHECK_EQUAL(st->codebook_version, 1u);
}

BOOST_AUTO_TEST_CASE(index_trains_itself_after_train_after_vectors_and_deletes_apply) {
  auto o = options();
  o.train_after = 2000;
  auto e = open_engine(o);
  BOOST_REQUIRE(e->create_index(params()));
  const auto x = test::clustered_data(n, d, 25, 21);
  const auto ids = test::iota_ids(n, 1);
  BOOST_REQUIRE(e->upsert(ids.data(), x.data(), 1000));
  auto before = e->search(x.data(), d).to_list();
  BOOST_REQUIRE(!before);
  BOOST_CHECK(before.error().code() == errc::not_trained);
  BOOST_REQUIRE(e->upsert(ids.data() + 1000, x.data() + 1000 * d, n - 1000));
  auto st = e->stats();
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->vectors, n);
  // Every vector finds itself (exact distance 0 with refine).
  for (std::size_t i = 0; i < n; i += 401) {
    auto r = e->search(x.data() + i * d, d).nprobes(16).limit(1).refine_factor(4).to_list();
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_EQUAL(r->hits.size(), 1u);
    BOOST_CHECK_EQUAL(r->hits[0].id, ids[i]);
  }
  BOOST_REQUIRE(e->remove(ids.data(), 2000));
  for (std::size_t i = 0; i < 2000; i += 199) {
    auto r = e->search(x.data() + i * d, d).nprobes(16).limit(5).to_list();
    BOOST_REQUIRE(r);
    for (const auto& h : r->hits) BOOST_CHECK_GT(h.id, 2000u);
  }
}

BOOST_AUTO_TEST_CASE(a_partition_missing_the_deadline_is_reported_not_waited_for) {
  const auto x = test::clustered_data(n, d, 25, 31);
  const auto ids = test::iota_ids(n, 1);
  auto e = open_engine(options());
  BOOST_REQUIRE(e->create_index(params(), x.data(), n));
  BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n));
  // Partition 1 stalls for 4 s; a query with a 1 s deadline probing every list must come back at its
  // deadline, long before the stall ends, flagged partial with partition 1 missing. The other
  // partitions have that second to answer: generous on a loaded machine or under ASan, where one of
  // the 2 scheduler threads sleeps. The stall is sent urgent, as scans are (query_actor.cpp), so it is
  // ahead of the query's scan in the same queue: a normal-priority stall could be overtaken by the scan
  // (a fresh-clone CI run failed that way twice in a row).
  caf::anon_send<caf::message_priority::high>(e->internals().partitions[1], actors::delay_atom::value,
                                              std::uint32_t{4000});
  const auto start = std::chrono::steady_clock::now();
  auto r = e->search(x.data(), d).nprobes(16).limit(10).deadline(std::chrono::milliseconds(1000)).to_list();
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_CHECK(r->partial);
  BOOST_TEST(r->missing_partitions == (std::vector<std::uint32_t>{1}), boost::test_tools::per_element());
  BOOST_CHECK(!r->hits.empty());
  BOOST_CHECK(took < std::chrono::milliseconds(3800));  // returned before the stall ended
  // A deadline past the stall: partition 1 answers once it is over, nothing missing.
  auto ok = e->search(x.data(), d).nprobes(16).limit(10).deadline(std::chrono::milliseconds(60000)).to_list();
  BOOST_REQUIRE(ok);
  BOOST_CHECK(!ok->partial);
}

BOOST_AUTO_TEST_CASE(restart_from_a_checkpoint_restores_every_vector) {
  const auto dir = fs::temp_directory_path() / ("ivf_engine_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto x = test::clustered_data(n, d, 25, 41);
  const auto ids = test::iota_ids(n, 1);
  const auto q = test::clustered_data(10, d, 25, 42);
  std::vector<std::vector<search_hit>> before;
  {
    auto e = open_engine(options(dir.string()));
    BOOST_REQUIRE(e->create_index(params(), x.data(), n));
    BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n));
    BOOST_REQUIRE(e->remove(ids.data(), 100));
    auto seq = e->checkpoint();
    BOOST_REQUIRE_MESSAGE(seq, (seq ? "" : seq.error().to_string()));
    BOOST_CHECK_EQUAL(*seq, 1u);
    auto seq2 = e->checkpoint();
    BOOST_REQUIRE(seq2);
    BOOST_CHECK_EQUAL(*seq2, 2u);
    for (std::size_t i = 0; i < 10; ++i) {
      auto r = e->search(q.data() + i * d, d).nprobes(8).limit(10).refine_factor(2).to_list();
      BOOST_REQUIRE(r);
      before.push_back(r->hits);
    }
  }
  auto e = open_engine(options(dir.string()));
  BOOST_REQUIRE(e->create_index(params()));  // same parameters: a no-op on the restored index
  auto st = e->stats();
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->vectors, n - 100);
  BOOST_CHECK_EQUAL(st->last_checkpoint, 2u);
  for (std::size_t i = 0; i < 10; ++i) {
    auto r = e->search(q.data() + i * d, d).nprobes(8).limit(10).refine_factor(2).to_list();
    BOOST_REQUIRE(r);
    check_same(r->hits, before[i]);
  }
  e.reset();
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(bad_options_and_inputs_name_the_value) {
  auto o = options();
  o.partition_actors = 0;
  auto bad = engine::open(o);
  BOOST_REQUIRE(!bad);
  BOOST_CHECK_NE(bad.error().message().find("partition_actors=0"), std::string::npos);
  auto e = open_engine(options());
  std::uint64_t id = 1;
  float v[d] = {};
  auto r = e->upsert(&id, v, 1);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error().code() == errc::not_trained);
  auto bad_k = e->search(std::vector<float>(d, 0.f)).limit(0).to_list();
  BOOST_REQUIRE(!bad_k);
}
