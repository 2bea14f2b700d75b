#define BOOST_TEST_MODULE entry_terms
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/inverted_list.hpp"
#include "index/list_scan.hpp"
#include "kernels/topk.hpp"
#include "tests/index/synthetic_data.hpp"

// The per-entry ADC term (codebook_set::entry_term, inverted_list terms): a probe scans the query's own
// table and adds each entry's Σ_m s·T[list][m][code_m]; that must give the distances the list's own
// table gives (codebook_set::list_table), for every entry, and stay attached to its entry.

using namespace ivfstream;

namespace {

index_params params(metric m, unsigned nbits) {
  index_params p;
  p.dimension = 32;
  p.metric = m;
  p.num_partitions = 12;
  p.num_sub_vectors = 8;
  p.num_bits = nbits;
  p.max_iterations = 8;
  p.seed = 3;
  return p;
}

/// Every live (id → distance) of one list scanned with probe i's table in the given form.
std::map<std::uint64_t, float> all_distances(const codebook_set& cb, const inverted_list& list, const query_plan& plan,
                                             std::size_t i, bool use_terms) {
  std::vector<float> lut(cb.num_sub_vectors() * cb.ksub());
  kernels::topk_heap heap(list.size());
  if (use_terms) {
    scan_list(cb.kernels(), cb, list, cb.probe(plan, i, list.keeps_terms(), lut.data()), heap);
  } else {
    const float bias = cb.list_table(plan, i, lut.data());
    scan_list(cb.kernels(), cb, list, lut.data(), bias, heap);
  }
  std::map<std::uint64_t, float> out;
  for (const auto& [d, id] : heap.take_sorted()) out[id] = d;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(entry_terms_where_the_list_term_is_precomputed) {
  auto train = [](metric m, unsigned nbits) {
    const auto p = params(m, nbits);
    const auto x = test::clustered_data(3000, p.dimension, 10, 5);
    auto cb = codebook_set::train(p, x.data(), 3000, 1);
    BOOST_TEST_REQUIRE(cb.has_value());
    return *cb;
  };
  BOOST_TEST(train(metric::l2, 8)->entry_terms());
  BOOST_TEST(train(metric::cosine, 6)->entry_terms());
  BOOST_TEST(!train(metric::dot, 8)->entry_terms());  // dot has no per-list term at all
  BOOST_TEST(!train(metric::l2, 4)->entry_terms());   // fast-scan quantises each list's own table
  BOOST_TEST(train(metric::l2, 4)->entry_term(0, std::vector<std::uint8_t>(4, 0x5a).data()) == 0.0f);
}

// Lists filled from real encoded data (with tombstones): for every probe of every query, each live
// entry gets the same distance through the query's table plus its term as through the list's table,
// up to float rounding (the two sums add the same numbers in another order).
BOOST_AUTO_TEST_CASE(term_scan_gives_the_list_table_distances) {
  for (metric m : {metric::l2, metric::cosine, metric::dot}) {
    for (unsigned nbits : {8u, 6u, 10u}) {
      BOOST_TEST_CONTEXT("metric=" << to_string(m) << " nbits=" << nbits) {
        const auto p = params(m, nbits);
        const std::size_t n = 3000, d = p.dimension;
        auto x = test::clustered_data(n, d, 10, 5);
        auto trained = codebook_set::train(p, x.data(), n, 1);
        BOOST_TEST_REQUIRE(trained.has_value());
        const codebook_set& cb = **trained;
        BOOST_TEST_REQUIRE(cb.prepare_vectors(x.data(), n, x.data()).has_value());
        const std::size_t cs = cb.code_size();
        std::vector<std::uint32_t> assigned(n);
        std::vector<std::uint8_t> codes(n * cs);
        cb.encode(x.data(), n, assigned.data(), codes.data());
        std::vector<inverted_list> lists;
        for (std::size_t l = 0; l < p.num_partitions; ++l) lists.emplace_back(cs, 0, false, cb.entry_terms());
        for (std::size_t i = 0; i < n; ++i)
          lists[assigned[i]].append(i, &codes[i * cs], ~std::uint64_t{0}, cb.entry_term(assigned[i], &codes[i * cs]));
        for (auto& l : lists)
          for (std::uint32_t s = 0; s < l.size(); s += 5) l.tombstone(s);
        const auto queries = test::clustered_data(10, d, 10, 77);
        std::size_t compared = 0;
        for (std::size_t q = 0; q < 10; ++q) {
          auto plan = cb.plan_query(&queries[q * d], p.num_partitions);
          BOOST_TEST_REQUIRE(plan.has_value());
          for (std::size_t i = 0; i < plan->lists.size(); ++i) {
            const inverted_list& list = lists[plan->lists[i]];
            const auto want = all_distances(cb, list, *plan, i, false);
            const auto got = all_distances(cb, list, *plan, i, true);
            BOOST_TEST_REQUIRE(got.size() == want.size());
            BOOST_TEST_REQUIRE(got.size() == list.live());
            for (const auto& [id, dist] : want) {
              const auto it = got.find(id);
              BOOST_TEST_REQUIRE((it != got.end()));
              BOOST_TEST(std::fabs(it->second - dist) <= 2e-5f * std::max(1.0f, std::fabs(dist)),
                         "id " << id << ": " << it->second << " with terms, " << dist << " with the list table");
              ++compared;
            }
          }
        }
        BOOST_TEST(compared == 10 * (n - [&] {
                     std::size_t dead = 0;
                     for (const auto& l : lists) dead += l.tombstones();
                     return dead;
                   }()));
      }
    }
  }
}

// Compaction moves the terms with their entries (slot i's term is still its entry's own).
BOOST_AUTO_TEST_CASE(compaction_keeps_each_entry_its_term) {
  inverted_list list(3, 0, false, true);
  const std::uint8_t code[3] = {1, 2, 3};
  for (std::uint64_t id = 0; id < 200; ++id) list.append(id, code, ~std::uint64_t{0}, 0.5f * float(id));
  for (std::uint32_t s = 0; s < 200; s += 3) list.tombstone(s);
  list.tombstone(199);
  list.compact([](std::uint64_t, std::uint32_t) {});
  BOOST_TEST_REQUIRE(list.size() == list.live());
  BOOST_TEST_REQUIRE(list.terms() != nullptr);
  for (std::uint32_t s = 0; s < list.size(); ++s) BOOST_TEST(list.terms()[s] == 0.5f * float(list.id(s)));
  // A list without terms exposes none and spends no bytes on them.
  inverted_list plain(3);
  plain.append(1, code);
  BOOST_TEST(plain.terms() == nullptr);
  BOOST_TEST(plain.used_term_bytes() == 0u);
  BOOST_TEST(list.used_term_bytes() == list.size() * sizeof(float));
}
