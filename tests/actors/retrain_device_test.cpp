// Where continuous retraining trains (index_params::accelerator through the trainer actor,
// actors/swap_protocol.cpp): engine stats and the retrain-status file (`ivfstream inspect`) name the
// device of the last retrain, and a restored index retrains on the accelerator that create_index asks
// for, although its checkpointed codebooks say cpu (the accelerator is not saved). Runs without a GPU;
// the GPU run of the same path is cuda_retrain_test.
#define BOOST_TEST_MODULE retrain_device
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>

#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/retrain_status_file.hpp"
#include "index/codebook_set.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16, n = 6000;

using test::scratch_dir;

engine_options options(const std::string& dir) { return test::explicit_retrain_options(dir, 2000, n); }

using test::stats_of;

std::shared_ptr<const codebook_set> live_codebooks(const engine& e) {
  auto cb = e.codebooks();
  BOOST_REQUIRE(cb && *cb);
  return *cb;
}

void retrain(engine& e, std::uint64_t want_version) {
  auto v = e.retrain();
  BOOST_REQUIRE_MESSAGE(v, (v ? "" : v.error().to_string()));
  BOOST_CHECK_EQUAL(*v, want_version);
}

}  // namespace

BOOST_AUTO_TEST_CASE(stats_and_status_file_name_the_device_of_the_last_retrain) {
  scratch_dir dir("retrain-device");
  const auto x = test::drifting_stream(n, d, 8, 51);
  const auto ids = test::iota_ids(n);
  auto e = test::open_engine(options(dir.path.string()));
  BOOST_REQUIRE(e->create_index(test::small_index_params(d)));  // accelerator=cpu (the default)
  BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n));
  BOOST_CHECK_EQUAL(stats_of(*e).last_train_device, "");  // no retrain yet
  BOOST_CHECK_EQUAL(live_codebooks(*e)->training_device(), "cpu");  // v1, trained from the buffer
  retrain(*e, 2);
  const auto s = stats_of(*e);
  BOOST_CHECK_EQUAL(s.failed_swaps, 0u);
  BOOST_CHECK_EQUAL(s.last_train_device, "cpu");
  BOOST_CHECK_EQUAL(live_codebooks(*e)->training_device(), "cpu");
  std::map<std::string, std::string> kv;
  const bool written = test::wait_for(
      [&] {
        auto r = actors::read_retrain_status(dir.path.string());
        if (r) kv = *r;
        return r && kv["live_version"] == "2" && kv["phase"] == "idle";
      },
      150s);
  BOOST_REQUIRE_MESSAGE(written, "retrain-status never showed version 2 idle");
  BOOST_CHECK_EQUAL(kv["last_train_device"], "cpu");
  const auto text = actors::describe_retrain_status(kv, test::unix_now_ms());
  BOOST_TEST_MESSAGE(text);
  BOOST_CHECK(text.find(" ms on cpu, last swap ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_restored_index_retrains_where_create_index_asks) {
  // Before: the retrain job took the live codebooks' params, and restored ones say accelerator=cpu, so a
  // service configured with index.accelerator=cuda retrained on the CPU after every restart.
  scratch_dir dir("retrain-device");
  const auto x = test::drifting_stream(n, d, 8, 52);
  const auto ids = test::iota_ids(n);
  index_params p = test::small_index_params(d);
  p.accelerator = kernels::accelerator::automatic;  // the GPU where there is one, else the CPU
  {
    auto e = test::open_engine(options(dir.path.string()));
    BOOST_REQUIRE(e->create_index(p));
    BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n));
    BOOST_CHECK(live_codebooks(*e)->params().accelerator == kernels::accelerator::automatic);
    auto c = e->checkpoint();
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
  }
  auto e = test::open_engine(options(dir.path.string()));
  const auto restored = live_codebooks(*e);
  BOOST_CHECK_EQUAL(restored->version(), 1u);
  BOOST_CHECK(restored->params().accelerator == kernels::accelerator::cpu);  // not saved
  BOOST_CHECK_EQUAL(restored->training_device(), "");                        // not trained in this process
  BOOST_REQUIRE(e->create_index(p));  // the same index: a no-op, but it says where to train
  BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n));  // the reservoir starts empty after a restart
  retrain(*e, 2);
  const auto retrained = live_codebooks(*e);
  BOOST_CHECK(retrained->params().accelerator == kernels::accelerator::automatic);
  BOOST_CHECK_EQUAL(retrained->training_device(), stats_of(*e).last_train_device);
  BOOST_CHECK_EQUAL(stats_of(*e).vectors, n);
}
