// Continuous retraining through the embedded engine: a drifting stream is followed (recall@10 drops
// without retraining, and with it returns to within 0.02 of an index built from scratch on the same
// data); queries running through a swap never fail, never miss their deadline and every answer equals
// what exactly one codebook version answers; kill -9 during a swap restarts on one consistent version
// with nothing lost.
#define BOOST_TEST_MODULE hot_swap
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/send.hpp>

#include "actors/engine.hpp"
#include "actors/engine_impl.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 32;

index_params params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 32;
  p.num_sub_vectors = 8;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

engine_options options(bool retrain, std::string dir = "") {
  engine_options o;
  o.partition_actors = 3;
  o.query_actors = 2;
  o.scheduler_threads = 2;
  o.data_dir = std::move(dir);
  o.train_after = 3000;
  o.retrain.enabled = retrain;
  o.retrain.reservoir_size = 8000;
  o.retrain.error_window = 500;
  o.retrain.error_sample_every = 2;
  o.retrain.drift_threshold = 1.5;
  return o;
}

std::unique_ptr<engine> open_engine(const engine_options& o) {
  auto e = engine::open(o);
  BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
  return std::move(*e);
}

using test::stats_of;

double engine_recall(const engine& e, const std::vector<float>& x, const std::vector<float>& q, std::size_t nq,
                     const search_params& sp) {
  double sum = 0;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = e.search(q.data() + i * d, d).nprobes(sp.nprobes).limit(sp.limit).to_list();
    BOOST_REQUIRE(r);
    std::vector<std::uint64_t> found;
    for (const auto& h : r->hits) found.push_back(h.id);
    sum += test::recall(found, test::brute_force(metric::l2, q.data() + i * d, x.data(), x.size() / d, d, sp.limit));
  }
  return sum / double(nq);
}

}  // namespace

BOOST_AUTO_TEST_CASE(drifting_stream_recall_returns_to_a_fresh_rebuild) {
  constexpr std::size_t n = 24000, nq = 100;
  const auto x = test::drifting_stream(n, d, 16, 21);
  const auto ids = test::iota_ids(n);
  // Queries from both halves of the stream.
  auto q = test::drifting_stream(nq, d, 16, 21);
  const search_params sp{10, 4, 0};

  auto stale = open_engine(options(false));
  auto o = options(true);
  o.retrain.every_inserts = 4000;  // and on drift (1.5), and every 500 ms when anything was inserted
  o.retrain.every_ms = 500;        // since the last training began (so the last one sees the whole stream)
  o.retrain.reservoir_size = n;    // the last retrain samples the whole stream, as the fresh build does
  auto live = open_engine(o);
  for (auto* e : {stale.get(), live.get()}) {
    BOOST_REQUIRE(e->create_index(params()));
    for (std::size_t off = 0; off < n; off += 1000) BOOST_REQUIRE(e->upsert(ids.data() + off, x.data() + off * d, 1000));
  }
  // Settled: the last retrain began after the last insert and its swap is over. How many retrains
  // ran before depends on the machine's speed (a loaded one trains while the stream goes by), so
  // the wait is for this state, never for a fixed time. Generous: ASan, load.
  engine_stats s;
  const bool settled = test::wait_for(
      [&] {
        s = stats_of(*live);
        return s.vectors == n && s.retrain_phase == "idle" && s.inserts_since_training == 0 && s.swaps >= 1;
      },
      150s);
  BOOST_TEST_MESSAGE("swaps " << s.swaps << " version " << s.codebook_version << " drift " << s.drift
                              << " last train " << s.last_train_ms << " ms, swap " << s.last_swap_ms << " ms");
  BOOST_REQUIRE_MESSAGE(settled, "not settled: vectors " << s.vectors << " of " << n << ", phase " << s.retrain_phase
                                                        << ", swaps " << s.swaps << ", last error " << s.last_error);
  BOOST_CHECK_EQUAL(s.failed_swaps, 0u);
  BOOST_CHECK_EQUAL(s.reservoir_vectors, n);
  BOOST_CHECK_EQUAL(stats_of(*stale).codebook_version, 1u);

  // The reference: built from scratch on the same data with the params of the engine's last retrain
  // (seed 42 + its version, one training thread). On this data one build's recall@10 moves 0.59-0.66
  // with the k-means seed alone, more than the bound, so a reference of another seed tests the seed.
  auto p = params();
  p.seed += s.codebook_version;
  p.train_threads = 1;
  auto fresh = ivfpq_index::create(p);
  BOOST_REQUIRE(fresh);
  BOOST_REQUIRE(fresh->train(x.data(), n));
  BOOST_REQUIRE(fresh->add(ids.data(), x.data(), n));
  double fresh_recall = 0;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = fresh->search(q.data() + i * d, sp);
    BOOST_REQUIRE(r);
    std::vector<std::uint64_t> found;
    for (const auto& h : *r) found.push_back(h.id);
    fresh_recall += test::recall(found, test::brute_force(metric::l2, q.data() + i * d, x.data(), n, d, 10));
  }
  fresh_recall /= double(nq);
  const double stale_recall = engine_recall(*stale, x, q, nq, sp);
  const double live_recall = engine_recall(*live, x, q, nq, sp);
  BOOST_TEST_MESSAGE("recall@10: never retrained " << stale_recall << ", retrained " << live_recall
                                                   << ", fresh rebuild " << fresh_recall);
  BOOST_CHECK_LT(stale_recall, fresh_recall - 0.05);   // the drift hurts
  BOOST_CHECK_GE(live_recall, fresh_recall - 0.02);    // retraining recovers it
}

BOOST_AUTO_TEST_CASE(refreshed_centroids_move_vectors_between_lists_within_the_swap) {
  // retrain.refresh_centroids: the new IVF centroids follow the drift and the swap moves vectors to
  // their new lists (and partitions); without it only the PQ is retrained and every list keeps its
  // members. Same data and one explicit retrain each, after the whole drifting stream was inserted.
  constexpr std::size_t n = 16000, nq = 80;
  const auto x = test::drifting_stream(n, d, 16, 31);
  const auto ids = test::iota_ids(n);
  const auto q = test::drifting_stream(nq, d, 16, 31);
  const search_params sp{10, 4, 0};
  double recall[2] = {0, 0};
  for (int refresh = 0; refresh < 2; ++refresh) {
    auto o = options(true);
    // v1 is trained on the first 3000 vectors (first half of the stream only); the reservoir then
    // samples the rest of the stream, both halves.
    o.retrain.drift_threshold = 0;  // only the explicit retrain below
    o.retrain.reservoir_size = n;
    o.retrain.refresh_centroids = refresh == 1;
    auto e = open_engine(o);
    BOOST_REQUIRE(e->create_index(params()));
    for (std::size_t off = 0; off < n; off += 2000) BOOST_REQUIRE(e->upsert(ids.data() + off, x.data() + off * d, 2000));
    const auto before = stats_of(*e);
    BOOST_REQUIRE_EQUAL(before.codebook_version, 1u);
    auto v = e->retrain();
    BOOST_REQUIRE_MESSAGE(v, (v ? "" : v.error().to_string()));
    const auto after = stats_of(*e);
    BOOST_CHECK_EQUAL(after.vectors, n);
    BOOST_CHECK_EQUAL(after.codebook_version, 2u);
    if (refresh)
      BOOST_CHECK(after.list_sizes != before.list_sizes);  // vectors moved to the new lists
    else
      BOOST_CHECK(after.list_sizes == before.list_sizes);  // every vector stayed in its list
    recall[refresh] = engine_recall(*e, x, q, nq, sp);
  }
  // The reference shares the retrain's randomness (as in the drift case above): seed 42 + version 2,
  // one training thread; a reference of another seed would test the seed, not the swap.
  auto p = params();
  p.seed += 2;
  p.train_threads = 1;
  auto fresh = ivfpq_index::create(p);
  BOOST_REQUIRE(fresh);
  BOOST_REQUIRE(fresh->train(x.data(), n));
  BOOST_REQUIRE(fresh->add(ids.data(), x.data(), n));
  double fresh_recall = 0;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = fresh->search(q.data() + i * d, sp);
    BOOST_REQUIRE(r);
    std::vector<std::uint64_t> found;
    for (const auto& h : *r) found.push_back(h.id);
    fresh_recall += test::recall(found, test::brute_force(metric::l2, q.data() + i * d, x.data(), n, d, 10));
  }
  fresh_recall /= double(nq);
  BOOST_TEST_MESSAGE("recall@10 after one retrain: centroids kept " << recall[0] << ", refreshed " << recall[1]
                                                                    << ", fresh rebuild " << fresh_recall);
  BOOST_CHECK_GE(recall[1], fresh_recall - 0.02);  // refreshed centroids: as good as a rebuild
  BOOST_CHECK_GT(recall[1], recall[0]);            // kept centroids cannot follow new clusters
}

BOOST_AUTO_TEST_CASE(queries_through_a_swap_never_fail_and_see_exactly_one_version) {
  constexpr std::size_t n = 30000, nq = 40;
  const auto x = test::drifting_stream(n, d, 16, 5);
  const auto ids = test::iota_ids(n);
  const auto q = test::drifting_stream(nq, d, 16, 5);
  auto o = options(true);
  o.retrain.drift_threshold = 0;  // only the explicit retrain below
  // Generous (a loaded 2-core CI machine): the swap must never fail or cut a query short; how fast it
  // answers during a swap is measured by the hot-swap benchmark (bench/README.md), not asserted here.
  o.query_deadline = 5000ms;
  auto e = open_engine(o);
  BOOST_REQUIRE(e->create_index(params()));
  for (std::size_t off = 0; off < n; off += 2000) BOOST_REQUIRE(e->upsert(ids.data() + off, x.data() + off * d, 2000));
  BOOST_REQUIRE_EQUAL(stats_of(*e).codebook_version, 1u);
  auto answer = [&](std::size_t i) { return e->search(q.data() + i * d, d).nprobes(6).limit(10).refine_factor(2).to_list(); };
  std::vector<std::vector<search_hit>> v1(nq), v2(nq);
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = answer(i);
    BOOST_REQUIRE(r && !r->partial && r->codebook_version == 1);
    v1[i] = r->hits;
  }

  struct seen {
    std::size_t query;
    result<search_result> r;
    double ms;
  };
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> answered[3] = {0, 0, 0};  // answers per codebook version (1, 2), as they come
  std::vector<std::vector<seen>> got(2);
  std::vector<std::thread> clients;
  for (std::size_t c = 0; c < 2; ++c)
    clients.emplace_back([&, c] {
      for (std::size_t k = c; !stop; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = answer(k % nq);
        if (r && r->codebook_version >= 1 && r->codebook_version <= 2) ++answered[r->codebook_version];
        got[c].push_back({k % nq, std::move(r),
                          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()});
      }
    });
  // Waits on what the clients saw, never on a fixed time (a loaded machine may starve them).
  BOOST_CHECK(test::wait_for([&] { return answered[1] > 0; }, 150s));
  auto v = e->retrain();
  BOOST_REQUIRE_MESSAGE(v, (v ? "" : v.error().to_string()));
  BOOST_CHECK_EQUAL(*v, 2u);
  BOOST_CHECK(test::wait_for([&] { return answered[2] > 0; }, 150s));
  stop = true;
  for (auto& t : clients) t.join();
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = answer(i);
    BOOST_REQUIRE(r && !r->partial && r->codebook_version == 2);
    v2[i] = r->hits;
  }
  const auto s = stats_of(*e);
  BOOST_TEST_MESSAGE("swap " << s.last_swap_ms << " ms (training " << s.last_train_ms << " ms), peak shadow "
                             << s.peak_shadow_bytes << " bytes");
  BOOST_CHECK_GT(s.peak_shadow_bytes, 0u);
  BOOST_CHECK_EQUAL(s.shadow_bytes, 0u);

  std::map<std::uint64_t, std::size_t> per_version;
  double worst = 0;
  for (const auto& list : got)
    for (const auto& g : list) {
      BOOST_REQUIRE_MESSAGE(g.r, (g.r ? "" : g.r.error().to_string()));
      BOOST_CHECK(!g.r->partial);
      worst = std::max(worst, g.ms);
      ++per_version[g.r->codebook_version];
      const auto& want = g.r->codebook_version == 1 ? v1[g.query] : v2[g.query];
      BOOST_REQUIRE(g.r->codebook_version == 1 || g.r->codebook_version == 2);
      BOOST_REQUIRE_EQUAL(g.r->hits.size(), want.size());
      for (std::size_t j = 0; j < want.size(); ++j) {
        BOOST_CHECK_EQUAL(g.r->hits[j].id, want[j].id);
        BOOST_CHECK_EQUAL(g.r->hits[j].distance, want[j].distance);
      }
    }
  BOOST_TEST_MESSAGE("answers during the run: v1 " << per_version[1] << ", v2 " << per_version[2] << ", slowest "
                                                   << worst << " ms");
  BOOST_CHECK_GT(per_version[1], 0u);
  BOOST_CHECK_GT(per_version[2], 0u);
  BOOST_CHECK_LT(worst, 5000.0);  // none past its deadline
}

BOOST_AUTO_TEST_CASE(kill_9_during_a_swap_restarts_on_one_version_with_nothing_lost) {
  constexpr std::size_t n = 20000;
  const auto x = test::clustered_data(n, d, 16, 9);
  const auto ids = test::iota_ids(n, 100);
  const fs::path dir = fs::temp_directory_path() / ("ivfstream-hot-swap-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path marker = dir.string() + ".swapping";
  fs::remove(marker);

  // The child runs the engine: everything upserted and checkpointed, then a swap held open by a
  // stalled partition; the parent kills it there.
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 1;
    {
      auto o = options(true, dir.string());
      o.retrain.drift_threshold = 0;
      auto eo = engine::open(o);
      if (eo) {
        auto& e = **eo;
        bool ok = static_cast<bool>(e.create_index(params()));
        for (std::size_t off = 0; ok && off < n; off += 2000) ok = static_cast<bool>(e.upsert(ids.data() + off, x.data() + off * d, 2000));
        ok = ok && static_cast<bool>(e.checkpoint());
        std::thread swapper([&] { (void)e.retrain(); });
        // Hold the swap open (partition 1 stalls) once the shadows are being built, then signal. The
        // training before it takes ~2.5 s here and many times that on a loaded machine (a limit of
        // 5000 polls, ~5 s, failed there): wait up to 150 s.
        bool building = false;
        const auto give_up = std::chrono::steady_clock::now() + 150s;
        while (ok && !building && std::chrono::steady_clock::now() < give_up) {
          auto st = e.stats();
          building = st && st->retrain_phase == "building";
          if (!building) std::this_thread::sleep_for(1ms);
        }
        caf::anon_send(e.internals().partitions[1], ivfstream::actors::delay_atom::value, std::uint32_t{30000});
        // (no stats() from here on: it would wait for the stalled partition)
        if (ok && building) std::ofstream(marker) << "building";
        std::this_thread::sleep_for(60s);  // killed here
        swapper.join();
        code = 0;
      }
    }
    ::_exit(code);
  }
  const auto until = std::chrono::steady_clock::now() + 180s;  // past the child's own 150 s
  while (!fs::exists(marker) && std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) BOOST_FAIL("the engine process exited before the swap");
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(50ms);  // the marker's content is flushed
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_REQUIRE_MESSAGE(fs::exists(marker), "the swap never started in the child");

  // Restart: one version, every id once, each found by its own vector.
  auto e = open_engine(options(true, dir.string()));
  auto s = stats_of(*e);
  BOOST_TEST_MESSAGE("restarted on codebook version " << s.codebook_version << " checkpoint " << s.last_checkpoint);
  BOOST_CHECK(s.codebook_version == 1 || s.codebook_version == 2);
  BOOST_CHECK_EQUAL(s.vectors, n);
  for (std::size_t i = 0; i < n; i += 97) {
    auto r = e->search(x.data() + i * d, d).nprobes(32).limit(1).refine_factor(10).to_list();
    BOOST_REQUIRE(r && !r->partial);
    BOOST_REQUIRE_EQUAL(r->hits.size(), 1u);
    BOOST_CHECK_EQUAL(r->hits[0].id, ids[i]);
    BOOST_CHECK_EQUAL(r->codebook_version, s.codebook_version);
  }
  // And it can swap again after the restart (its reservoir refills from new writes).
  BOOST_REQUIRE(e->upsert(ids.data(), x.data(), 2000));
  BOOST_REQUIRE(e->upsert(ids.data() + 10000, x.data() + 10000 * d, 2000));
  auto v = e->retrain();
  BOOST_REQUIRE_MESSAGE(v, (v ? "" : v.error().to_string()));
  BOOST_CHECK_EQUAL(*v, s.codebook_version + 1);
  BOOST_CHECK_EQUAL(stats_of(*e).vectors, n);
  e.reset();
  fs::remove_all(dir);
  fs::remove(marker);
}
