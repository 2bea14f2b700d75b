#define BOOST_TEST_MODULE topk
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "kernels/topk.hpp"

namespace k = ivfstream::kernels;
using entry = std::pair<float, std::uint64_t>;

namespace {
std::vector<entry> reference(std::vector<entry> all, std::size_t kk) {
  std::sort(all.begin(), all.end());
  all.resize(std::min(kk, all.size()));
  return all;
}
std::vector<entry> random_entries(std::size_t n, std::uint32_t seed, int distinct) {
  std::mt19937 gen(seed);
  std::vector<entry> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = {static_cast<float>(gen() % distinct), gen() % 100000};
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(push_keeps_k_smallest_like_sort) {
  for (std::size_t kk : {1, 3, 10, 100, 1000})
    for (int distinct : {5, 1000}) {
      const auto all = random_entries(777, static_cast<std::uint32_t>(kk), distinct);
      k::topk_heap heap(kk);
      for (const auto& [d, id] : all) heap.push(d, id);
      BOOST_TEST(heap.size() == std::min<std::size_t>(kk, all.size()));
      const auto got = heap.take_sorted();
      const auto want = reference(all, kk);
      BOOST_TEST_REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST(got[i].first == want[i].first);
        BOOST_TEST(got[i].second == want[i].second);
      }
      BOOST_TEST(heap.size() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(threshold_is_infinite_until_full) {
  k::topk_heap heap(2);
  BOOST_TEST(heap.threshold() == std::numeric_limits<float>::infinity());
  BOOST_TEST(heap.push(5.f, 1));
  BOOST_TEST(heap.threshold() == std::numeric_limits<float>::infinity());
  BOOST_TEST(heap.push(3.f, 2));
  BOOST_TEST(heap.threshold() == 5.f);
  BOOST_TEST(!heap.push(6.f, 3));
  BOOST_TEST(heap.push(4.f, 4));
  BOOST_TEST(heap.threshold() == 4.f);
  BOOST_TEST(!heap.push(std::numeric_limits<float>::quiet_NaN(), 9));
  k::topk_heap none(0);
  BOOST_TEST(!none.push(1.f, 1));
  BOOST_TEST(none.size() == 0u);
}

BOOST_AUTO_TEST_CASE(batch_block_and_merge_agree_with_sort) {
  const auto all = random_entries(5000, 7, 300);
  std::vector<float> dists;
  std::vector<std::uint64_t> ids;
  for (const auto& [d, id] : all) {
    dists.push_back(d);
    ids.push_back(id);
  }
  const std::size_t kk = 50;
  k::topk_heap batch(kk);
  batch.push_batch(dists.data(), ids.data(), dists.size());
  const auto want = reference(all, kk);
  BOOST_TEST((batch.take_sorted() == want));

  // four partial heaps merged == one heap
  k::topk_heap merged(kk);
  for (std::size_t p = 0; p < 4; ++p) {
    k::topk_heap part(kk);
    part.push_batch(dists.data() + p * 1250, ids.data() + p * 1250, 1250);
    merged.merge(part);
  }
  BOOST_TEST((merged.take_sorted() == want));

  k::topk_heap block(kk);
  block.push_block(dists.data(), dists.size(), 1000);
  std::vector<entry> indexed;
  for (std::size_t i = 0; i < dists.size(); ++i) indexed.emplace_back(dists[i], 1000 + i);
  BOOST_TEST((block.take_sorted() == reference(indexed, kk)));
}
