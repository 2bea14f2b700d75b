#define BOOST_TEST_MODULE fast_scan_search
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <random>
#include <utility>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/ivfpq_index.hpp"
#include "index/list_scan.hpp"
#include "kernels/topk.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;

namespace {

using pairs = std::vector<std::pair<float, std::uint64_t>>;

index_params params4(metric m, std::size_t nlist) {
  index_params p;
  p.dimension = 32;
  p.metric = m;
  p.num_partitions = nlist;
  p.num_sub_vectors = 8;
  p.num_bits = 4;
  p.max_iterations = 10;
  p.seed = 7;
  return p;
}

/// Float ADC reference: scan_list on each probed list with its table.
pairs float_path(const codebook_set& cb, const std::vector<const inverted_list*>& lists, const query_plan& plan,
                 std::size_t k) {
  kernels::topk_heap heap(k);
  std::vector<float> lut(cb.num_sub_vectors() * cb.ksub());
  for (std::size_t i = 0; i < lists.size(); ++i) {
    if (lists[i]->live() == 0) continue;
    const float bias = cb.list_table(plan, i, lut.data());
    scan_list(cb.kernels(), cb, *lists[i], lut.data(), bias, heap);
  }
  return heap.take_sorted();
}

pairs fast_path(const codebook_set& cb, const std::vector<const inverted_list*>& lists, const query_plan& plan,
                std::size_t k) {
  kernels::topk_heap heap(k);
  const std::size_t table = cb.num_sub_vectors() * cb.ksub();
  std::vector<float> luts(lists.size() * table), biases(lists.size());
  for (std::size_t i = 0; i < lists.size(); ++i) biases[i] = cb.list_table(plan, i, &luts[i * table]);
  scan_lists_fast(cb.kernels(), cb.num_sub_vectors(), lists.data(), lists.size(), luts.data(), biases.data(), heap);
  return heap.take_sorted();
}

void check_equal(const pairs& want, const pairs& got) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST(got[i].second == want[i].second);
    BOOST_TEST(got[i].first == want[i].first);  // same table, same adc_scan body: bitwise
  }
}

}  // namespace

// Lists of awkward sizes (1, 31, 33, 257, and more) filled with random codes, some with tombstones,
// scanned with real query tables of a trained 4-bit codebook: fast-scan keeps exactly what the float
// ADC scan keeps, for small and large k, L2 and inner product.
BOOST_AUTO_TEST_CASE(fast_scan_equals_float_adc_on_awkward_lists_with_tombstones) {
  for (metric m : {metric::l2, metric::dot}) {
    const std::size_t sizes[] = {1, 31, 33, 257, 64, 0, 500};
    const std::size_t nlist = std::size(sizes);
    const auto p = params4(m, nlist);
    const auto x = test::clustered_data(2000, p.dimension, 12, 11);
    auto cb = codebook_set::train(p, x.data(), 2000, 1);
    BOOST_TEST_REQUIRE(cb.has_value());
    const std::size_t cs = p.code_size(), M = p.num_sub_vectors;
    std::mt19937_64 rng(5);
    std::vector<inverted_list> lists;
    std::uint64_t next_id = 0;
    for (std::size_t l = 0; l < nlist; ++l) {
      lists.emplace_back(cs, M);
      std::vector<std::uint8_t> code(cs);
      for (std::size_t i = 0; i < sizes[l]; ++i) {
        for (auto& c : code) c = static_cast<std::uint8_t>(rng());
        lists.back().append(next_id++ * 3 + 1, code.data());
      }
      // tombstones in every other list: every third slot, plus the last one
      if (l % 2 == 1 && sizes[l] > 0) {
        for (std::uint32_t s = 0; s < sizes[l]; s += 3) lists.back().tombstone(s);
        lists.back().tombstone(static_cast<std::uint32_t>(sizes[l] - 1));
      }
    }
    std::vector<const inverted_list*> probed;
    for (const auto& l : lists) probed.push_back(&l);
    const auto queries = test::clustered_data(20, p.dimension, 12, 99);
    for (std::size_t q = 0; q < 20; ++q) {
      auto plan = (*cb)->plan_query(&queries[q * p.dimension], nlist);
      BOOST_TEST_REQUIRE(plan.has_value());
      BOOST_TEST_REQUIRE(plan->lists.size() == nlist);
      // The plan orders lists by coarse distance; scan our lists in that order.
      std::vector<const inverted_list*> order(nlist);
      for (std::size_t i = 0; i < nlist; ++i) order[i] = probed[plan->lists[i]];
      for (std::size_t k : {1u, 5u, 10u, 40u, 2000u}) {
        BOOST_TEST_CONTEXT("metric=" << to_string(m) << " q=" << q << " k=" << k) {
          check_equal(float_path(**cb, order, *plan, k), fast_path(**cb, order, *plan, k));
        }
      }
    }
  }
}

// Compaction rewrites the blocks: after tombstoning and compacting, the block copy equals a fresh pack
// of the remaining codes, and scans still agree.
BOOST_AUTO_TEST_CASE(compaction_rewrites_the_block_layout) {
  const std::size_t M = 7, cs = 4;  // odd M: a padded sub-quantizer and a half-used last byte
  inverted_list list(cs, M);
  std::mt19937_64 rng(3);
  std::vector<std::uint8_t> code(cs);
  for (std::uint64_t id = 0; id < 100; ++id) {
    for (auto& c : code) c = static_cast<std::uint8_t>(rng());
    code[cs - 1] &= 0x0f;  // sub-code 7 does not exist
    list.append(id, code.data());
  }
  for (std::uint32_t s = 0; s < 100; s += 4) list.tombstone(s);
  list.compact([](std::uint64_t, std::uint32_t) {});
  BOOST_TEST_REQUIRE(list.size() == 75u);
  BOOST_TEST(list.codes() == nullptr);  // a fast-scan list keeps only the block layout
  // The survivors' codes in order, regenerated from the same seed: the blocks equal their fresh packing.
  std::mt19937_64 again(3);
  std::vector<std::uint8_t> want;
  for (std::uint64_t id = 0; id < 100; ++id) {
    for (auto& c : code) c = static_cast<std::uint8_t>(again());
    code[cs - 1] &= 0x0f;
    if (id % 4 != 0) want.insert(want.end(), code.begin(), code.end());
  }
  std::vector<std::uint8_t> packed(kernels::fast_scan_bytes(75, M));
  kernels::fast_scan_pack(want.data(), 75, M, packed.data());
  BOOST_TEST(std::vector<std::uint8_t>(list.fast_scan_blocks(), list.fast_scan_blocks() + packed.size()) == packed,
             boost::test_tools::per_element());
  std::vector<std::uint8_t> all(75 * cs);
  list.read_codes(0, 75, all.data());
  BOOST_TEST(all == want, boost::test_tools::per_element());
  for (std::uint32_t s = 0; s < 75; ++s) {
    std::vector<std::uint8_t> back(cs);
    list.read_code(s, back.data());
    BOOST_TEST(back == std::vector<std::uint8_t>(want.begin() + s * cs, want.begin() + (s + 1) * cs),
               boost::test_tools::per_element());
  }
}

// End to end: a 4-bit index (fast-scan path) returns the top-k of the float ADC scan over its own lists,
// with tombstones (removed and replaced ids, no compaction) and after compaction.
BOOST_AUTO_TEST_CASE(index_search_equals_float_adc_reference) {
  const auto p = params4(metric::l2, 16);
  const std::size_t n = 3000;
  const auto x = test::clustered_data(n, p.dimension, 20, 21);
  index_options opts;
  opts.compact_fraction = 1.0;  // keep tombstones
  auto index = ivfpq_index::create(p, opts);
  BOOST_TEST_REQUIRE(index.has_value());
  BOOST_TEST_REQUIRE(index->train(x.data(), n).has_value());
  const auto ids = test::iota_ids(n, 1000);
  BOOST_TEST_REQUIRE(index->add(ids.data(), x.data(), n).has_value());
  std::vector<std::uint64_t> gone;
  for (std::size_t i = 0; i < n; i += 5) gone.push_back(ids[i]);
  BOOST_TEST_REQUIRE(index->remove(gone.data(), gone.size()).has_value());
  BOOST_TEST_REQUIRE(index->add(ids.data() + 1, x.data() + p.dimension * 1, 50).has_value());  // replaced: tombstones
  const auto queries = test::clustered_data(30, p.dimension, 20, 77);
  for (int round = 0; round < 2; ++round) {
    const auto& cb = *index->codebooks();
    for (std::size_t q = 0; q < 30; ++q) {
      for (std::size_t nprobes : {1u, 4u, 16u}) {
        search_params sp;
        sp.limit = 10;
        sp.nprobes = nprobes;
        auto plan = cb.plan_query(&queries[q * p.dimension], nprobes);
        BOOST_TEST_REQUIRE(plan.has_value());
        std::vector<const inverted_list*> order;
        for (std::uint32_t l : plan->lists) order.push_back(&index->lists()[l]);
        const auto want = float_path(cb, order, *plan, 10);
        auto got = index->search(&queries[q * p.dimension], sp);
        BOOST_TEST_REQUIRE(got.has_value());
        BOOST_TEST_REQUIRE(got->size() == want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
          BOOST_TEST((*got)[i].id == want[i].second);
          BOOST_TEST((*got)[i].distance == want[i].first);
        }
      }
    }
    BOOST_TEST_REQUIRE(index->compact().has_value());
  }
}

namespace {

void expect_same(const std::vector<search_hit>& a, const std::vector<search_hit>& b) {
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].id == b[i].id);
    BOOST_TEST(a[i].distance == b[i].distance);
  }
}

/// Every refined hit's distance is the exact distance to the raw vector the id map names: the row
/// carried with the candidate (inverted_list::rows) points at the right vector.
void expect_exact_refine(const ivfpq_index& index, const float* query, const std::vector<search_hit>& hits) {
  const auto& cb = *index.codebooks();
  std::vector<float> pq(cb.params().dimension);
  BOOST_TEST_REQUIRE(cb.prepare_vectors(query, 1, pq.data()).has_value());
  for (const auto& h : hits) {
    const float* raw = index.raw_vector(h.id);
    BOOST_TEST_REQUIRE(raw != nullptr);
    BOOST_TEST(h.distance == cb.exact_distance(pq.data(), raw));
  }
}

}  // namespace

// search_batch plans a chunk of queries with one matrix product and refines the whole chunk's
// candidates in one prefetched pass (index/refine.hpp): its answers equal one-at-a-time search bit for
// bit, for 4-bit fast-scan and 8-bit codes, with and without refine, over more than one chunk of
// queries (150 > 64), with tombstones, after compaction and after save/load (the lists' rows are
// rebuilt on load).
BOOST_AUTO_TEST_CASE(batch_equals_single_search_and_refine_reads_the_right_rows) {
  for (unsigned nbits : {4u, 8u}) {
    auto p = params4(metric::l2, 12);
    p.num_bits = nbits;
    const std::size_t n = 3000, nq = 150;
    const auto x = test::clustered_data(n, p.dimension, 20, 31);
    index_options opts;
    opts.compact_fraction = 1.0;  // keep tombstones until compact()
    auto index = ivfpq_index::create(p, opts);
    BOOST_TEST_REQUIRE(index.has_value());
    BOOST_TEST_REQUIRE(index->train(x.data(), n).has_value());
    const auto ids = test::iota_ids(n, 500);
    BOOST_TEST_REQUIRE(index->add(ids.data(), x.data(), n).has_value());
    std::vector<std::uint64_t> gone;
    for (std::size_t i = 0; i < n; i += 7) gone.push_back(ids[i]);
    BOOST_TEST_REQUIRE(index->remove(gone.data(), gone.size()).has_value());
    // upserts: the same ids get other vectors (old slots tombstoned, new rows in the store)
    BOOST_TEST_REQUIRE(index->add(ids.data() + 1, x.data() + p.dimension * 200, 40).has_value());
    const auto queries = test::clustered_data(nq, p.dimension, 20, 78);
    const std::string path = "/tmp/ivfstream-fast-scan-search-test-" + std::to_string(::getpid()) + ".ivfi";
    for (int round = 0; round < 3; ++round) {
      std::optional<ivfpq_index> loaded;
      if (round == 2) {
        BOOST_TEST_REQUIRE(index->save(path).has_value());
        auto l = ivfpq_index::load(path);
        BOOST_TEST_REQUIRE(l.has_value());
        loaded.emplace(std::move(*l));
      }
      const ivfpq_index& ix = loaded ? *loaded : *index;
      for (std::size_t nprobes : {1u, 5u, 12u})
        for (std::size_t rf : {0u, 3u}) {
          search_params sp;
          sp.limit = 10;
          sp.nprobes = nprobes;
          sp.refine_factor = rf;
          auto batch = ix.search_batch(queries.data(), nq, sp);
          BOOST_TEST_REQUIRE(batch.has_value());
          BOOST_TEST_REQUIRE(batch->size() == nq);
          for (std::size_t q = 0; q < nq; ++q) {
            auto one = ix.search(&queries[q * p.dimension], sp);
            BOOST_TEST_REQUIRE(one.has_value());
            expect_same(*one, (*batch)[q]);
            if (rf > 0) expect_exact_refine(ix, &queries[q * p.dimension], *one);
          }
        }
      if (round == 0) BOOST_TEST_REQUIRE(index->compact().has_value());
    }
    std::remove(path.c_str());
    std::remove((path + ".vectors").c_str());
  }
}
