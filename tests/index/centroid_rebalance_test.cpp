// Planning list splits and merges from list sizes and a stream sample (index/centroid_rebalance.hpp):
// once every vector is assigned to its nearest new centroid (what the engine's hot swap does), every
// list is within [merge_factor, split_factor] × target; balanced lists plan nothing; bad settings are
// errors naming the value.
#define BOOST_TEST_MODULE centroid_rebalance_test
#include <boost/test/unit_test.hpp>

#include <random>
#include <vector>

#include "index/centroid_rebalance.hpp"
#include "index/codebook_set.hpp"
#include "kernels/kmeans.hpp"
#include "tests/index/index_test_support.hpp"

using namespace ivfstream;

namespace {

constexpr std::size_t d = 16;

index_params params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 8;
  p.num_bits = 6;
  p.max_iterations = 10;
  return p;
}

std::shared_ptr<const codebook_set> trained(const index_params& p, std::uint64_t seed) {
  return test::trained_codebooks(p, 3200, 16, seed);
}

/// n rows: three quarters around two nearby hot spots, the rest spread like the training data.
std::vector<float> skewed_stream(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> a(d), b(d);
  for (std::size_t j = 0; j < d; ++j) {
    a[j] = g(rng);
    b[j] = a[j] + 0.6f * g(rng);
  }
  const auto spread = test::clustered_data(n, d, 16, seed + 1);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j)
      x[i * d + j] = i % 4 == 3 ? spread[i * d + j] : (i % 2 ? a[j] : b[j]) + 0.3f * g(rng);
  return x;
}

/// Entries per list when every row of x goes to its nearest list of cb.
std::vector<std::uint64_t> sizes_under(const codebook_set& cb, const std::vector<float>& x) {
  const std::size_t n = x.size() / d;
  std::vector<std::uint32_t> lists(n);
  cb.assign(x.data(), n, lists.data());
  std::vector<std::uint64_t> sizes(cb.num_partitions(), 0);
  for (auto l : lists) ++sizes[l];
  return sizes;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_skewed_stream_is_planned_into_the_target_range) {
  const auto live = trained(params(), 5);
  const std::size_t n = 40000;
  const auto x = skewed_stream(n, 9);
  const auto before = sizes_under(*live, x);
  rebalance_options opt;
  BOOST_REQUIRE(lists_out_of_bounds(before, opt));
  // The sample: every 7th row (the engine passes its reservoir); the sizes are the true ones.
  std::vector<float> sample;
  for (std::size_t i = 0; i < n; i += 7) sample.insert(sample.end(), &x[i * d], &x[(i + 1) * d]);
  auto plan = plan_centroid_rebalance(*live, before, sample.data(), sample.size() / d, opt);
  BOOST_REQUIRE_MESSAGE(plan, (plan ? "" : plan.error().to_string()));
  BOOST_REQUIRE(plan->codebooks);
  const codebook_set& next = *plan->codebooks;
  BOOST_TEST(plan->report.splits > 0u);
  BOOST_TEST(plan->report.target == n / 16);
  BOOST_TEST(next.version() == live->version() + 1);
  BOOST_TEST(next.num_partitions() == 16 + plan->report.splits - plan->report.merges);
  BOOST_TEST(next.pq_codebooks() == live->pq_codebooks(), boost::test_tools::per_element());
  // What the hot swap does: every vector to its nearest new centroid. Every list then holds between a
  // quarter of and four times the target.
  const auto after = sizes_under(next, x);
  const double target = double(plan->report.target);
  for (std::size_t l = 0; l < after.size(); ++l) {
    BOOST_TEST_INFO("list " << l << " of " << after.size() << " estimated " << plan->estimated_sizes[l]);
    BOOST_TEST(double(after[l]) <= 4.0 * target);
    BOOST_TEST(double(after[l]) >= 0.25 * target);
  }
  // Deterministic: the same inputs plan the same centroids.
  auto again = plan_centroid_rebalance(*live, before, sample.data(), sample.size() / d, opt);
  BOOST_REQUIRE(again && again->codebooks);
  BOOST_TEST(again->codebooks->centroids() == next.centroids(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_list_without_entries_is_merged_into_its_neighbours) {
  const auto live = trained(params(), 6);
  const auto x = test::clustered_data(16000, d, 16, 6);
  auto sizes = sizes_under(*live, x);
  // A list emptied (its entries deleted): its centroid goes, the last list takes its index.
  const std::uint32_t gone = 3;
  std::vector<float> kept;
  std::vector<std::uint32_t> lists(16000);
  live->assign(x.data(), 16000, lists.data());
  for (std::size_t i = 0; i < 16000; ++i)
    if (lists[i] != gone) kept.insert(kept.end(), &x[i * d], &x[(i + 1) * d]);
  sizes[gone] = 0;
  auto plan = plan_centroid_rebalance(*live, sizes, kept.data(), kept.size() / d);
  BOOST_REQUIRE_MESSAGE(plan, (plan ? "" : plan.error().to_string()));
  BOOST_REQUIRE(plan->codebooks);
  BOOST_TEST(plan->report.merges == 1u);
  BOOST_TEST(plan->report.splits == 0u);
  BOOST_TEST(plan->codebooks->num_partitions() == 15u);
  // The last centroid moved to the merged list's index; the others stayed.
  const auto& before = live->centroids();
  const auto& after = plan->codebooks->centroids();
  for (std::size_t t = 0; t < d; ++t) BOOST_TEST(after[gone * d + t] == before[15 * d + t]);
  for (std::size_t t = 0; t < d; ++t) BOOST_TEST(after[t] == before[t]);
}

BOOST_AUTO_TEST_CASE(balanced_lists_plan_nothing) {
  const auto live = trained(params(), 7);
  const auto x = test::clustered_data(16000, d, 16, 7);
  const auto sizes = sizes_under(*live, x);
  rebalance_options opt;
  opt.merge_factor = 0.0;  // k-means on 16 blobs: no list is near 4× the mean
  BOOST_REQUIRE(!lists_out_of_bounds(sizes, opt));
  auto plan = plan_centroid_rebalance(*live, sizes, x.data(), 16000, opt);
  BOOST_REQUIRE(plan);
  BOOST_TEST(!plan->codebooks);
  BOOST_TEST(plan->report.splits + plan->report.merges == 0u);
}

BOOST_AUTO_TEST_CASE(a_list_seen_as_one_point_is_not_split) {
  const auto live = trained(params(), 8);
  // Every sample row is the same vector; its list is far above the bound but cannot be split.
  std::vector<float> one(d * 100);
  for (std::size_t i = 0; i < 100; ++i) std::copy_n(live->centroids().data(), d, &one[i * d]);
  std::vector<std::uint64_t> sizes(16, 100);
  sizes[0] = 100000;
  rebalance_options opt;
  opt.merge_factor = 0.0;
  auto plan = plan_centroid_rebalance(*live, sizes, one.data(), 100, opt);
  BOOST_REQUIRE(plan);
  BOOST_TEST(!plan->codebooks);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_errors_naming_the_value) {
  const auto live = trained(params(), 9);
  const std::vector<std::uint64_t> sizes(16, 10);
  std::vector<float> row(d, 0.f);
  auto wrong = plan_centroid_rebalance(*live, std::vector<std::uint64_t>(15, 10), row.data(), 1);
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.error().message().find("15 list sizes for 16 lists") != std::string::npos, wrong.error().message());
  rebalance_options opt;
  opt.split_factor = 1.0;
  auto split = plan_centroid_rebalance(*live, sizes, row.data(), 1, opt);
  BOOST_REQUIRE(!split);
  BOOST_TEST(split.error().message().find("split_factor=1.0") != std::string::npos, split.error().message());
  opt.split_factor = 4.0;
  opt.merge_factor = 1.0;
  auto merge = plan_centroid_rebalance(*live, sizes, row.data(), 1, opt);
  BOOST_REQUIRE(!merge);
  BOOST_TEST(merge.error().message().find("merge_factor=1.0") != std::string::npos, merge.error().message());
}
