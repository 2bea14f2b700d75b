// Carrying codes across a rebalance (index/code_carry.hpp): after a split/merge plan, every entry ends
// in the list codebook_set::encode would pick (its nearest next centroid) with the code encode would
// write, while the entries of untouched lists keep their codes without being encoded again; carries
// between versions whose codes mean different things are refused.
#define BOOST_TEST_MODULE code_carry_test
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "index/centroid_rebalance.hpp"
#include "index/code_carry.hpp"
#include "index/codebook_set.hpp"
#include "tests/index/index_test_support.hpp"

using namespace ivfstream;

namespace {

constexpr std::size_t d = 16;

index_params params(unsigned bits = 8) {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 8;
  p.num_bits = bits;
  p.max_iterations = 10;
  return p;
}

std::shared_ptr<const codebook_set> trained(const index_params& p, std::uint64_t seed) {
  return test::trained_codebooks(p, 3200, 16, seed);
}

/// n prepared rows: half around one hot spot (so a list splits), the rest spread like the training data.
std::vector<float> skewed(const codebook_set& cb, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> hot(d);
  for (auto& v : hot) v = g(rng);
  auto x = test::clustered_data(n, d, 16, seed + 1);
  for (std::size_t i = 0; i < n; i += 2)
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = hot[j] + 0.3f * g(rng);
  std::vector<float> prepared(x.size());
  BOOST_REQUIRE(cb.prepare_vectors(x.data(), n, prepared.data()));
  return prepared;
}

struct encoded {
  std::vector<std::uint32_t> lists;
  std::vector<std::uint8_t> codes;
};

encoded encode(const codebook_set& cb, const std::vector<float>& x) {
  const std::size_t n = x.size() / d;
  encoded e{std::vector<std::uint32_t>(n), std::vector<std::uint8_t>(n * cb.code_size())};
  cb.encode(x.data(), n, e.lists.data(), e.codes.data());
  return e;
}

std::vector<std::uint64_t> sizes_of(const encoded& e, std::size_t lists) {
  std::vector<std::uint64_t> s(lists, 0);
  for (auto l : e.lists) ++s[l];
  return s;
}

/// The plan for x encoded under live (the sample: every 5th row).
std::shared_ptr<const codebook_set> planned(const codebook_set& live, const std::vector<float>& x, const encoded& e,
                                            rebalance_options opt = {}) {
  std::vector<float> sample;
  for (std::size_t i = 0; i < x.size() / d; i += 5)
    sample.insert(sample.end(), x.data() + i * d, x.data() + (i + 1) * d);
  auto plan = plan_centroid_rebalance(live, sizes_of(e, live.num_partitions()), sample.data(), sample.size() / d, opt);
  BOOST_REQUIRE_MESSAGE(plan, (plan ? "" : plan.error().to_string()));
  BOOST_REQUIRE(plan->codebooks);
  return plan->codebooks;
}

/// Carries e (x under live) to next and checks it against encoding x under next from scratch: each
/// entry's list is a nearest one (ties and rounding aside: the same list for all but a few, and those
/// at the same distance within 1e-4 relative) and its code is the one encode_in_lists writes for it.
code_carry::counts check_carry(const codebook_set& live, const std::shared_ptr<const codebook_set>& next,
                               const std::vector<float>& x, const encoded& e) {
  const std::size_t n = x.size() / d, cs = next->code_size();
  auto carry = code_carry::between(live, next);
  BOOST_REQUIRE(carry);
  BOOST_TEST(carry->applies_to(next));
  // Another set of the same version and parts is another swap's: the carry does not apply to it.
  auto twin = codebook_set::from_parts(next->params(), next->version(), next->centroids(), next->pq_codebooks(),
                                       next->rotation());
  BOOST_REQUIRE(twin);
  BOOST_TEST(!carry->applies_to(*twin));
  encoded got{std::vector<std::uint32_t>(n), std::vector<std::uint8_t>(n * cs)};
  const auto counts = carry->apply(x.data(), n, e.lists.data(), e.codes.data(), got.lists.data(), got.codes.data());
  BOOST_TEST(counts.carried + counts.reencoded == n);
  const auto fresh = encode(*next, x);
  std::vector<std::uint8_t> in_lists(n * cs);
  next->encode_in_lists(x.data(), n, got.lists.data(), in_lists.data());
  BOOST_TEST(got.codes == in_lists);  // every code, carried or not, is the one its list gives
  // Carried: exactly the entries whose live centroid is kept and is still their nearest.
  std::size_t should_carry = 0;
  for (std::size_t i = 0; i < n; ++i)
    should_carry += carry->kept(e.lists[i]) != code_carry::k_gone && fresh.lists[i] == carry->kept(e.lists[i]);
  BOOST_TEST_MESSAGE(counts.carried << " carried (" << should_carry << " kept their nearest list), " << counts.reencoded
                                    << " re-encoded; " << carry->changed().size() << " of " << next->num_partitions()
                                    << " centroids changed");
  BOOST_TEST(counts.carried + n / 1000 >= should_carry);
  BOOST_TEST(counts.carried <= should_carry + n / 1000);
  std::size_t other_list = 0;
  const auto& c = next->centroids();
  const auto l2 = next->kernels().l2sqr;
  for (std::size_t i = 0; i < n; ++i) {
    if (got.lists[i] == fresh.lists[i]) continue;
    ++other_list;
    const float a = l2(&x[i * d], &c[got.lists[i] * d], d), b = l2(&x[i * d], &c[fresh.lists[i] * d], d);
    BOOST_TEST(a <= b * (1 + 1e-4f) + 1e-6f, "entry " << i << ": list " << got.lists[i] << " at " << a
                                                     << ", encode's list " << fresh.lists[i] << " at " << b);
  }
  BOOST_TEST(other_list <= n / 1000);
  return counts;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_split_plan_carries_untouched_lists_and_matches_a_full_encode) {
  for (unsigned bits : {8u, 4u}) {
    BOOST_TEST_CONTEXT("num_bits " << bits) {
      const auto live = trained(params(bits), 3);
      const auto x = skewed(*live, 20000, 11);
      const auto e = encode(*live, x);
      const auto next = planned(*live, x, e);
      BOOST_REQUIRE(next->num_partitions() != live->num_partitions() || next->centroids() != live->centroids());
      const auto counts = check_carry(*live, next, x, e);
      BOOST_TEST(counts.carried > 0u);
      BOOST_TEST(counts.reencoded > 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(opq_cosine_and_residual_quantizer_codes_carry) {
  index_params opq = params();
  opq.opq = true;
  index_params cosine = params();
  cosine.metric = metric::cosine;
  index_params rq = params();
  rq.quantizer = quantizer_kind::rq;
  rq.num_sub_vectors = 4;
  for (const auto& p : {opq, cosine, rq}) {
    BOOST_TEST_CONTEXT("opq " << p.opq << " metric " << int(p.metric) << " quantizer " << int(p.quantizer)) {
      const auto live = trained(p, 4);
      const auto x = skewed(*live, 8000, 12);
      const auto e = encode(*live, x);
      const auto counts = check_carry(*live, planned(*live, x, e), x, e);
      BOOST_TEST(counts.carried > 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(merges_alone_move_only_the_merged_lists) {
  const auto live = trained(params(), 5);
  const auto x = skewed(*live, 8000, 13);
  auto e = encode(*live, x);
  // Empty out two lists' worth of sizes by planning with a merge factor that only the two smallest miss.
  auto sizes = sizes_of(e, live->num_partitions());
  std::vector<std::uint64_t> sorted = sizes;
  std::sort(sorted.begin(), sorted.end());
  rebalance_options opt;
  opt.split_factor = 1e9;  // no splits
  const double mean = double(x.size() / d) / double(sizes.size());
  opt.merge_factor = (double(sorted[1]) + 0.5) / mean;
  const auto next = planned(*live, x, e, opt);
  auto carry = code_carry::between(*live, next);
  BOOST_REQUIRE(carry);
  BOOST_TEST(carry->changed().empty());  // a merge adds no centroid
  std::size_t in_gone = 0;
  for (auto l : e.lists) in_gone += carry->kept(l) == code_carry::k_gone;
  BOOST_REQUIRE(in_gone > 0u);
  const auto counts = check_carry(*live, next, x, e);
  BOOST_TEST(counts.reencoded == in_gone);
}

BOOST_AUTO_TEST_CASE(codes_that_mean_something_else_are_not_carried) {
  const auto live = trained(params(), 6);
  const auto x = skewed(*live, 4000, 14);
  // Same centroids, PQ retrained on other data: every residual code means something else.
  std::vector<float> centroids = live->centroids();
  auto other = codebook_set::train_with_centroids(params(), x.data(), x.size() / d, centroids, live->version() + 1);
  BOOST_REQUIRE_MESSAGE(other, (other ? "" : other.error().to_string()));
  BOOST_TEST(!code_carry::between(*live, *other));
  // A full retrain: nothing kept.
  auto retrained = codebook_set::train(params(), x.data(), x.size() / d);
  BOOST_REQUIRE(retrained);
  BOOST_TEST(!code_carry::between(*live, *retrained));
  BOOST_TEST(!code_carry::between(*live, nullptr));
  // The same parts under the next version: everything carries, nothing is encoded again.
  auto same = codebook_set::from_parts(live->params(), live->version() + 1, live->centroids(), live->pq_codebooks(),
                                       live->rotation());
  BOOST_REQUIRE(same);
  const auto e = encode(*live, x);
  const auto counts = check_carry(*live, *same, x, e);
  BOOST_TEST(counts.reencoded == 0u);

  // A carry kept after its swap (an encoder's cache) does not keep the next version's memory alive.
  std::weak_ptr<const codebook_set> watch;
  std::shared_ptr<const code_carry> kept;
  {
    auto next = codebook_set::from_parts(live->params(), live->version() + 2, live->centroids(), live->pq_codebooks(),
                                         live->rotation());
    BOOST_REQUIRE(next);
    std::shared_ptr<const codebook_set> held = std::move(*next);
    watch = held;
    kept = code_carry::between(*live, held);
  }
  BOOST_TEST(kept != nullptr);
  BOOST_TEST(watch.expired());
}
