#define BOOST_TEST_MODULE training_device
// Where and on how many threads an index trains: index_params::train_threads and ::accelerator
// (cpu | cuda | auto). On a machine without a GPU, auto trains on the CPU (same codebooks as cpu) and
// cuda is a clear error; the thread count never changes the codebooks.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

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

BOOST_AUTO_TEST_CASE(auto_falls_back_to_the_cpu_and_cuda_says_why_it_cannot) {
  if (gpu_present()) {
    BOOST_TEST_MESSAGE("a GPU is present: the fallback is not exercised here (tests/gpu/check.sh covers the GPU)");
    return;
  }
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
