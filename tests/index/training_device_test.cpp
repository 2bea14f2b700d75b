#define BOOST_TEST_MODULE training_device
// Where and on how many threads an index trains: index_params::train_threads and ::accelerator
// (cpu | cuda | auto). On a machine without a GPU, auto trains on the CPU (same codebooks as cpu) and
// cuda is a clear error; the thread count never changes the codebooks.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/ivfpq_index.hpp"
#include "kernels/accelerator.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;

namespace {

constexpr std::size_t k_d = 32, k_n = 3000;

index_params params() {
  index_params p;
  p.dimension = k_d;
  p.num_partitions = 16;
  p.num_sub_vectors = 8;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

std::shared_ptr<const codebook_set> train(const index_params& p, const std::vector<float>& x) {
  auto cb = codebook_set::train(p, x.data(), k_n, 1);
  BOOST_REQUIRE_MESSAGE(cb, (cb ? std::string() : cb.error().to_string()));
  return *cb;
}

bool gpu_present() {
  kernels::accelerator_choice c;
  return kernels::resolve_accelerator(kernels::accelerator::automatic, {}, &c) && c.used == kernels::accelerator::cuda;
}

}  // namespace

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_the_codebooks) {
  const auto x = test::clustered_data(k_n, k_d, 30, 11);
  index_params p = params();
  p.train_threads = 1;
  const auto one = train(p, x);
  for (std::size_t t : {2u, 3u, 0u}) {
    p.train_threads = t;
    const auto many = train(p, x);
    BOOST_TEST(many->pq_codebooks() == one->pq_codebooks(), boost::test_tools::per_element());
    BOOST_TEST(many->centroids() == one->centroids(), boost::test_tools::per_element());
  }
}

// Where a GPU is present the fallback cannot be exercised: the case is reported as skipped there.
BOOST_AUTO_TEST_CASE(auto_falls_back_to_the_cpu_and_cuda_says_why_it_cannot,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       return boost::test_tools::assertion_result(!gpu_present());
                     })) {
  const auto x = test::clustered_data(k_n, k_d, 30, 12);
  index_params p = params();
  p.accelerator = kernels::accelerator::cpu;
  const auto cpu = train(p, x);
  p.accelerator = kernels::accelerator::automatic;  // logs one line to stderr and trains on the CPU
  const auto fallback = train(p, x);
  BOOST_TEST(fallback->pq_codebooks() == cpu->pq_codebooks(), boost::test_tools::per_element());
  BOOST_TEST(fallback->centroids() == cpu->centroids(), boost::test_tools::per_element());

  p.accelerator = kernels::accelerator::cuda;
  auto cuda = codebook_set::train(p, x.data(), k_n, 1);
  BOOST_REQUIRE(!cuda);
  BOOST_TEST(cuda.error().code() == errc::unavailable);
  BOOST_TEST(cuda.error().message().find("accelerator=cuda") != std::string::npos, cuda.error().message());
  // the index reports the same error from train()
  auto index = ivfpq_index::create(p);
  BOOST_REQUIRE(index);
  auto st = index->train(x.data(), k_n);
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code() == errc::unavailable);
}

BOOST_AUTO_TEST_CASE(bad_training_settings_are_errors) {
  index_params p = params();
  p.train_threads = 5000;
  auto st = p.validate();
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().message().find("train_threads=5000: must be in [0, 1024]") != std::string::npos);
  p = params();
  p.accelerator = static_cast<kernels::accelerator>(7);
  st = p.validate();
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().message().find("accelerator=7: must be one of cpu, cuda, auto") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(training_settings_are_runtime_only_and_not_saved) {
  // accelerator and train_threads describe the machine that trains, not the index: a snapshot loads
  // with the defaults (cpu, all threads) wherever it is loaded.
  index_params p = params();
  p.accelerator = kernels::accelerator::automatic;
  p.train_threads = 1;
  auto index = ivfpq_index::create(p);
  BOOST_REQUIRE(index);
  const auto x = test::clustered_data(k_n, k_d, 30, 13);
  BOOST_REQUIRE(index->train(x.data(), k_n));
  const std::string path = "/tmp/ivfstream-training-device-test-" + std::to_string(::getpid()) + ".ivfi";
  BOOST_REQUIRE(index->save(path));
  auto loaded = ivfpq_index::load(path);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(loaded->params().accelerator == kernels::accelerator::cpu);
  BOOST_TEST(loaded->params().train_threads == 0u);
  std::remove(path.c_str());
}

// Only where a GPU is present (tests/gpu/device_check.sh runs this suite there): an index trained with
// accelerator=cuda finds the true neighbours as often as one trained on the CPU, and so does auto (which
// picks the GPU). Without a GPU the case is reported as skipped (the fallback case above runs instead).
BOOST_AUTO_TEST_CASE(cuda_trained_index_has_the_recall_of_a_cpu_trained_one,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       return boost::test_tools::assertion_result(gpu_present());
                     })) {
  constexpr std::size_t n = 20000, nq = 200, k = 10;
  const auto all = test::clustered_data(n + nq, k_d, 40, 14);
  const float* q = all.data() + n * k_d;
  std::vector<std::vector<std::uint64_t>> truth(nq);
  for (std::size_t i = 0; i < nq; ++i)
    truth[i] = test::brute_force(metric::l2, q + i * k_d, all.data(), n, k_d, k);
  const auto recall_with = [&](kernels::accelerator a) {
    index_params p = params();
    p.num_partitions = 64;
    p.accelerator = a;
    auto index = ivfpq_index::create(p);
    BOOST_REQUIRE(index);
    const auto st = index->train(all.data(), n);
    BOOST_REQUIRE_MESSAGE(st, (st ? std::string() : st.error().to_string()));
    const auto ids = test::iota_ids(n);
    BOOST_REQUIRE(index->add(ids.data(), all.data(), n));
    search_params sp;
    sp.limit = k;
    sp.nprobes = 8;
    double r = 0;
    for (std::size_t i = 0; i < nq; ++i) {
      std::vector<std::uint64_t> found;
      const auto hits = index->search(q + i * k_d, k_d, sp);
      BOOST_REQUIRE(hits);
      for (const auto& h : *hits) found.push_back(h.id);
      r += test::recall(found, truth[i]);
    }
    return r / double(nq);
  };
  const double cpu = recall_with(kernels::accelerator::cpu);
  const double cuda = recall_with(kernels::accelerator::cuda);
  const double automatic = recall_with(kernels::accelerator::automatic);
  BOOST_TEST_MESSAGE("recall@10 cpu " << cpu << " cuda " << cuda << " auto " << automatic);
  BOOST_TEST(cpu > 0.5);
  BOOST_TEST(std::abs(cuda - cpu) <= 0.01, "cuda " << cuda << " vs cpu " << cpu);
  // auto resolved to the GPU (gpu_present); float atomics make GPU runs equal only up to rounding.
  BOOST_TEST(std::abs(automatic - cuda) <= 0.01, "auto " << automatic << " vs cuda " << cuda);
}
