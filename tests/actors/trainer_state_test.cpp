// trainer_state: the reservoir stays bounded and uniform, the quantisation error follows the stream,
// drift past the threshold (and the schedule) makes a retrain due, bad policies are refused by name.
#define BOOST_TEST_MODULE trainer_state
#include <boost/test/unit_test.hpp>

#include "actors/trainer_state.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t d = 16;

index_params small_params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

retrain_policy policy() {
  retrain_policy p;
  p.enabled = true;
  p.reservoir_size = 1000;
  p.error_window = 200;
  p.error_sample_every = 1;
  p.drift_threshold = 1.5;
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reservoir_is_bounded_and_uniform_over_the_stream) {
  auto pol = policy();
  trainer_state t(pol, d, 7);
  // Row i carries i in every coordinate: the sample's mean index shows whether it is uniform.
  constexpr std::size_t n = 50000;
  std::vector<float> x(1000 * d);
  for (std::size_t b = 0; b < n / 1000; ++b) {
    for (std::size_t i = 0; i < 1000; ++i) std::fill_n(x.data() + i * d, d, float(b * 1000 + i));
    t.observe(x.data(), 1000, nullptr);
  }
  BOOST_CHECK_EQUAL(t.seen(), n);
  BOOST_REQUIRE_EQUAL(t.sample_size(), pol.reservoir_size);
  BOOST_CHECK_EQUAL(t.sample().size(), pol.reservoir_size * d);
  double mean = 0;
  std::size_t late = 0;
  for (std::size_t i = 0; i < t.sample_size(); ++i) {
    mean += t.sample()[i * d];
    late += t.sample()[i * d] >= n / 2;
  }
  mean /= double(t.sample_size());
  BOOST_CHECK_CLOSE(mean, n / 2.0, 8.0);          // uniform: mean index ≈ n/2 (σ ≈ 1.8 %)
  BOOST_CHECK(late > 430 && late < 570);          // half of the sample from the second half
}

BOOST_AUTO_TEST_CASE(drift_of_the_stream_makes_a_retrain_due) {
  constexpr std::size_t n = 8000;
  const auto data = test::drifting_stream(n, d, 12, 3);
  auto cb = codebook_set::train(small_params(), data.data(), n / 2);
  BOOST_REQUIRE(cb);
  trainer_state t(policy(), d);
  const auto now = std::chrono::steady_clock::now();
  t.training_finished(now, trainer_state::mean_error(**cb, data.data(), n / 2), 16);
  BOOST_CHECK_GT(t.baseline_error(), 0.0);
  // More of the same distribution: the error stays near the baseline, nothing is due.
  t.observe(data.data() + 1000 * d, 1000, cb->get());
  BOOST_TEST_MESSAGE("drift on the training distribution " << t.drift());
  BOOST_CHECK_LT(t.drift(), 1.3);
  BOOST_CHECK(t.due(now, 500) == retrain_reason::none);
  // The new clusters: their error is far above the baseline.
  t.observe(data.data() + (n / 2) * d, n / 2, cb->get());
  BOOST_TEST_MESSAGE("drift on the shifted clusters " << t.drift());
  BOOST_CHECK_GT(t.drift(), 1.5);
  BOOST_CHECK(t.due(now, 500) == retrain_reason::drift);
  BOOST_CHECK(t.due(now, 100000) == retrain_reason::none);  // not enough sampled to train on
  // Per-list error was tracked for the lists the inserts fell in.
  double listed = 0;
  for (const auto& l : t.list_errors()) listed += double(l.count);
  BOOST_CHECK_EQUAL(listed, 1000.0 + n / 2);
  // While a training runs nothing more is due; after it the window restarts.
  t.training_started(now);
  BOOST_CHECK(t.due(now, 500) == retrain_reason::none);
  BOOST_CHECK_EQUAL(t.inserts_since_training(), 0u);
  t.observe(data.data(), 10, cb->get());  // inserts during the training count towards the next
  t.training_finished(now, 1.0, 16);
  BOOST_CHECK_EQUAL(t.drift(), 0.0);
  BOOST_CHECK_EQUAL(t.inserts_since_training(), 10u);
}

BOOST_AUTO_TEST_CASE(first_window_sets_the_baseline_when_none_is_known) {
  const auto data = test::clustered_data(2000, d, 12, 5);
  auto cb = codebook_set::train(small_params(), data.data(), 2000);
  BOOST_REQUIRE(cb);
  trainer_state t(policy(), d);
  BOOST_CHECK_EQUAL(t.baseline_error(), 0.0);
  t.observe(data.data(), 500, cb->get());
  BOOST_CHECK_GT(t.baseline_error(), 0.0);
  BOOST_CHECK_CLOSE(t.drift(), 1.0, 25.0);
}

BOOST_AUTO_TEST_CASE(schedule_by_inserts_and_by_time) {
  auto pol = policy();
  pol.drift_threshold = 0;
  pol.every_inserts = 3000;
  trainer_state t(pol, d);
  const auto t0 = std::chrono::steady_clock::now();
  t.training_finished(t0, 0, 16);
  const auto data = test::clustered_data(3000, d, 4, 1);
  t.observe(data.data(), 2999, nullptr);
  BOOST_CHECK(t.due(t0, 1000) == retrain_reason::none);
  t.observe(data.data(), 1, nullptr);
  BOOST_CHECK(t.due(t0, 1000) == retrain_reason::inserts);

  pol.every_inserts = 0;
  pol.every_ms = 500;
  trainer_state timed(pol, d);
  timed.training_finished(t0, 0, 16);
  BOOST_CHECK(timed.due(t0 + 600ms, 0) == retrain_reason::none);  // nothing inserted since
  timed.observe(data.data(), 10, nullptr);
  BOOST_CHECK(timed.due(t0 + 400ms, 0) == retrain_reason::none);
  BOOST_CHECK(timed.due(t0 + 600ms, 0) == retrain_reason::time);

  pol.enabled = false;
  trainer_state off(pol, d);
  off.observe(data.data(), 3000, nullptr);
  BOOST_CHECK(off.due(t0 + 3600s, 0) == retrain_reason::none);
}

BOOST_AUTO_TEST_CASE(bad_policies_are_refused_with_the_key_and_range) {
  auto check = [](retrain_policy p, const std::string& what) {
    auto st = p.validate();
    BOOST_REQUIRE(!st);
    BOOST_CHECK_MESSAGE(st.error().to_string().find(what) != std::string::npos, st.error().to_string());
  };
  auto p = policy();
  BOOST_CHECK(p.validate());
  p.reservoir_size = 10;
  check(p, "retrain.reservoir_size=10");
  p = policy();
  p.drift_threshold = 0.5;
  check(p, "retrain.drift_threshold=0.5");
  p = policy();
  p.error_window = 0;
  check(p, "retrain.error_window=0");
  p = policy();
  p.error_sample_every = 0;
  check(p, "retrain.error_sample_every=0");
}
