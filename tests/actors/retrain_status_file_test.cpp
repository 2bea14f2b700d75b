// What `ivfstream inspect` shows of a running engine's retraining (actors/retrain_status_file.hpp):
// the live codebook version, the version being built while a swap runs, and the drift against its
// threshold, read from the status file the engine keeps in its data directory.
#define BOOST_TEST_MODULE retrain_status_file
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <caf/send.hpp>
#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/engine_impl.hpp"
#include "actors/retrain_status_file.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 32;

using test::scratch_dir;

// Polls the status file until pred(kv) holds (or 150 s: ASan, a loaded machine) and returns the last
// content read.
template <class Pred>
std::map<std::string, std::string> wait_status(const std::string& dir, Pred pred) {
  const auto until = std::chrono::steady_clock::now() + 150s;
  std::map<std::string, std::string> kv;
  while (std::chrono::steady_clock::now() < until) {
    if (auto r = actors::read_retrain_status(dir)) {
      kv = *r;
      if (pred(kv)) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  return kv;
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_status_file_is_not_found_with_its_path) {
  scratch_dir dir("retrain-status");
  fs::create_directories(dir.path);
  auto r = actors::read_retrain_status(dir.path.string());
  BOOST_REQUIRE(!r);
  BOOST_CHECK_EQUAL(r.error().code(), errc::not_found);
  BOOST_CHECK(r.error().message().find("retrain-status") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(status_shows_live_version_version_being_built_and_drift) {
  scratch_dir dir("retrain-status");
  constexpr std::size_t n = 16000;
  const auto x = test::drifting_stream(n, d, 16, 41);
  const auto ids = test::iota_ids(n);
  engine_options o;
  o.partition_actors = 3;
  o.scheduler_threads = 2;
  o.data_dir = dir.path.string();
  o.train_after = 3000;
  o.retrain.enabled = true;
  o.retrain.reservoir_size = 8000;
  o.retrain.error_window = 500;
  o.retrain.error_sample_every = 2;
  o.retrain.drift_threshold = 1000;  // drift is reported, never reached: the swap below is explicit
  o.retrain.background_nice = 0;     // training well within the 4 s stall below, also under ASan
  auto eo = engine::open(o);
  BOOST_REQUIRE(eo);
  auto& e = **eo;
  index_params p;
  p.dimension = d;
  p.num_partitions = 32;
  p.num_sub_vectors = 8;
  p.max_iterations = 10;
  BOOST_REQUIRE(e.create_index(p));
  for (std::size_t off = 0; off < n; off += 2000) BOOST_REQUIRE(e.upsert(ids.data() + off, x.data() + off * d, 2000));

  // The second half of the stream drifted away from what v1 was trained on.
  auto kv = wait_status(o.data_dir, [](auto& s) { return std::stod(s["drift"]) > 1.2; });
  BOOST_TEST_MESSAGE("idle status:\n" << actors::describe_retrain_status(kv, test::unix_now_ms()));
  BOOST_CHECK_EQUAL(kv["live_version"], "1");
  BOOST_CHECK_EQUAL(kv["phase"], "idle");
  BOOST_CHECK_EQUAL(kv["building_version"], "0");
  BOOST_CHECK_GT(std::stod(kv["drift"]), 1.2);
  BOOST_CHECK_EQUAL(kv["drift_threshold"], "1000");
  BOOST_CHECK_EQUAL(kv["pid"], std::to_string(::getpid()));
  auto text = actors::describe_retrain_status(kv, test::unix_now_ms());
  BOOST_CHECK(text.find("live version      1") != std::string::npos);
  BOOST_CHECK(text.find("building          none") != std::string::npos);
  BOOST_CHECK(text.find("retrains at 1000") != std::string::npos);

  // A swap held open: partition 1 is kept stalled (200 ms at a time, from before the retrain starts
  // until the status file has shown the build phase), so the swap stays in its build phase however
  // long the training before it takes (a single fixed stall can end first under ASan on a loaded
  // machine, and the build phase then passes between two reads of the file).
  std::atomic<bool> seen_building{false};
  std::thread staller([&] {
    while (!seen_building.load()) {
      caf::anon_send(e.internals().partitions[1], actors::delay_atom::value, std::uint32_t{200});
      std::this_thread::sleep_for(150ms);
    }
  });
  std::thread swapper([&] {
    auto v = e.retrain();
    BOOST_CHECK_MESSAGE(v, (v ? "" : v.error().to_string()));
  });
  kv = wait_status(o.data_dir, [](auto& s) { return s["phase"] == "building"; });
  seen_building = true;
  staller.join();
  BOOST_TEST_MESSAGE("during the swap:\n" << actors::describe_retrain_status(kv, test::unix_now_ms()));
  BOOST_CHECK_EQUAL(kv["phase"], "building");
  BOOST_CHECK_EQUAL(kv["live_version"], "1");
  BOOST_CHECK_EQUAL(kv["building_version"], "2");
  text = actors::describe_retrain_status(kv, test::unix_now_ms());
  BOOST_CHECK(text.find("building          version 2 (building, started by forced") != std::string::npos);
  swapper.join();

  kv = wait_status(o.data_dir, [](auto& s) { return s["live_version"] == "2" && s["phase"] == "idle"; });
  BOOST_TEST_MESSAGE("after the swap:\n" << actors::describe_retrain_status(kv, test::unix_now_ms()));
  BOOST_CHECK_EQUAL(kv["live_version"], "2");
  BOOST_CHECK_EQUAL(kv["building_version"], "0");
  BOOST_CHECK_EQUAL(kv["swaps"], "1");
  BOOST_CHECK(actors::describe_retrain_status(kv, test::unix_now_ms()).find("building          none") != std::string::npos);
  // A retrain's codes mean something else under the new PQ: none carried, every entry encoded again.
  BOOST_CHECK_EQUAL(kv["swap_carried"], "0");
  BOOST_CHECK(kv["swap_reencoded"] != "0" && !kv["swap_reencoded"].empty());
  BOOST_CHECK(actors::describe_retrain_status(kv, test::unix_now_ms()).find(" (0 codes carried, " + kv["swap_reencoded"] +
                                                                            " re-encoded)") != std::string::npos);
}
