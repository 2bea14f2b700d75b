#define BOOST_TEST_MODULE ivfpq_index
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>

#include "index/ivfpq_index.hpp"
#include "kernels/pq_codes.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
namespace tt = boost::test_tools;

namespace {

constexpr std::size_t k_d = 32;
constexpr std::size_t k_n = 4000;

index_params params_for(metric m, unsigned nbits = 8) {
  index_params p;
  p.dimension = k_d;
  p.metric = m;
  p.num_partitions = 16;
  p.num_sub_vectors = 8;
  p.num_bits = nbits;
  p.max_iterations = 5;
  return p;
}

struct fixture_index {
  std::vector<float> x = test::clustered_data(k_n, k_d, 32, 21);
  std::vector<std::uint64_t> ids = test::iota_ids(k_n, 1000);  // ids 1000 … 4999
  ivfpq_index index;

  explicit fixture_index(metric m = metric::l2, index_options o = {}, unsigned nbits = 8)
      : index(make(m, o, nbits)) {
    BOOST_REQUIRE(index.train(x.data(), k_n));
    BOOST_REQUIRE(index.add(ids.data(), x.data(), k_n));
  }
  static ivfpq_index make(metric m, index_options o, unsigned nbits) {
    auto r = ivfpq_index::create(params_for(m, nbits), std::move(o));
    BOOST_REQUIRE(r);
    return std::move(*r);
  }
  const float* row(std::size_t i) const { return &x[i * k_d]; }
};

search_params all_lists(std::size_t limit, std::size_t refine = 0) {
  search_params sp;
  sp.limit = limit;
  sp.nprobes = 1000;
  sp.refine_factor = refine;
  return sp;
}

std::vector<std::uint64_t> ids_of(const std::vector<search_hit>& hits) {
  std::vector<std::uint64_t> out;
  for (const auto& h : hits) out.push_back(h.id);
  return out;
}

void expect_same_hits(const std::vector<search_hit>& a, const std::vector<search_hit>& b) {
  BOOST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].id == b[i].id);
    BOOST_TEST(a[i].distance == b[i].distance);  // bitwise
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(add_then_search_finds_each_vector_itself) {
  index_options small_segments;
  small_segments.segment_bytes = 16 << 10;  // 128 rows per segment: refine reads across 32 segment files
  fixture_index f(metric::l2, small_segments);
  BOOST_TEST(f.index.size() == k_n);
  std::size_t self_first = 0;
  for (std::size_t i = 0; i < 100; ++i) {
    auto hits = f.index.search(f.row(i * 37), all_lists(1, 10));
    BOOST_REQUIRE(hits);
    BOOST_REQUIRE(hits->size() == 1u);
    if ((*hits)[0].id == f.ids[i * 37]) {
      ++self_first;
      BOOST_TEST((*hits)[0].distance == 0.0f);  // refined: exact distance to itself
    }
  }
  BOOST_TEST(self_first == 100u);
}

// Exact round trip of the packed codes for every num_bits: what the lists hold is what the encoder
// wrote for that vector (and unpacks to valid sub-codes), whatever the width.
BOOST_AUTO_TEST_CASE(codes_in_lists_are_the_encoder_output) {
  const std::size_t n = 4200, d = 16;  // ≥ 2^12 training vectors for the 12-bit codebooks
  const auto x = test::clustered_data(n, d, 16, 28);
  const auto ids = test::iota_ids(n, 10);
  for (unsigned nbits : {4u, 6u, 8u, 10u, 12u}) {
    BOOST_TEST_CONTEXT("num_bits=" << nbits) {
      index_params p;
      p.dimension = d;
      p.num_partitions = 8;
      p.num_sub_vectors = 4;
      p.num_bits = nbits;
      p.max_iterations = 3;
      auto index = ivfpq_index::create(p);
      BOOST_REQUIRE(index);
      BOOST_REQUIRE(index->train(x.data(), n));
      BOOST_REQUIRE(index->add(ids.data(), x.data(), n));
      const auto cb = index->codebooks();
      const std::size_t cs = cb->code_size();
      BOOST_TEST(cs == (4 * nbits + 7) / 8);
      std::vector<std::uint32_t> lists(n);
      std::vector<std::uint8_t> codes(n * cs);
      cb->encode(x.data(), n, lists.data(), codes.data());
      std::size_t mismatches = 0, raw_mismatches = 0;
      std::vector<std::uint16_t> sub(4);
      for (std::size_t i = 0; i < n; ++i) {
        const auto loc = index->find(ids[i]);
        BOOST_REQUIRE(loc);
        const auto& list = index->lists()[loc->list];
        BOOST_TEST(loc->list == lists[i]);
        BOOST_TEST(list.id(loc->slot) == ids[i]);
        std::vector<std::uint8_t> code(cs);
        list.read_code(loc->slot, code.data());
        if (!std::equal(code.begin(), code.end(), &codes[i * cs])) ++mismatches;
        kernels::unpack_codes(code.data(), 1, 4, nbits, sub.data());
        for (auto c : sub) BOOST_TEST(c < (1u << nbits));
        // the raw vector kept for refine is the vector given
        if (!std::equal(&x[i * d], &x[(i + 1) * d], index->raw_vector(ids[i]))) ++raw_mismatches;
      }
      BOOST_TEST(mismatches == 0u);
      BOOST_TEST(raw_mismatches == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(upsert_replaces_existing_id) {
  for (metric m : {metric::l2, metric::cosine, metric::dot}) {
    BOOST_TEST_CONTEXT("metric=" << m) {
      fixture_index f(m);
      // move id 1005 onto the vector of row 3000 (id 4000), slightly shifted
      std::vector<float> v(f.row(3000), f.row(3000) + k_d);
      for (float& c : v) c += 0.01f;
      const std::uint64_t id = 1005;
      const auto old_loc = *f.index.find(id);
      BOOST_REQUIRE(f.index.add(&id, v.data(), 1));
      BOOST_TEST(f.index.size() == k_n);  // replaced, not added
      const auto new_loc = *f.index.find(id);
      BOOST_TEST(!f.index.lists()[old_loc.list].is_live(old_loc.slot));
      std::uint32_t want_list;
      std::vector<float> pv(k_d);
      BOOST_REQUIRE(f.index.codebooks()->prepare_vectors(v.data(), 1, pv.data()));
      f.index.codebooks()->assign(pv.data(), 1, &want_list);
      BOOST_TEST(new_loc.list == want_list);
      // searching the new vector: the id appears once, with its new vector's exact distance, and
      // first for l2/cosine (under dot a vector of larger norm may score higher than v itself)
      auto hits = f.index.search(v.data(), all_lists(k_n, 1));
      BOOST_REQUIRE(hits);
      const auto found = ids_of(*hits);
      BOOST_TEST(std::count(found.begin(), found.end(), id) == 1);
      if (m != metric::dot) BOOST_TEST((*hits)[0].id == id);
      const auto hit = std::find_if(hits->begin(), hits->end(), [&](const search_hit& h) { return h.id == id; });
      BOOST_REQUIRE(hit != hits->end());
      BOOST_TEST(hit->distance == test::exact_distance(m, v.data(), v.data(), k_d), tt::tolerance(1e-5f));
      // searching the old vector: no hit on the id with the old vector's distance (≈ 0 for l2)
      auto old_hits = f.index.search(f.row(5), all_lists(5, 4));
      BOOST_REQUIRE(old_hits);
      for (const auto& h : *old_hits) BOOST_TEST(h.id != id);
      // the raw vector kept is the new one
      BOOST_TEST(std::equal(pv.begin(), pv.end(), f.index.raw_vector(id)));
    }
  }
}

BOOST_AUTO_TEST_CASE(last_occurrence_wins_within_one_add) {
  fixture_index f;
  const std::uint64_t ids[3] = {77777, 88888, 77777};
  std::vector<float> v;
  for (std::size_t r : {10u, 20u, 30u}) v.insert(v.end(), f.row(r), f.row(r) + k_d);
  BOOST_REQUIRE(f.index.add(ids, v.data(), 3));
  BOOST_TEST(f.index.size() == k_n + 2);
  BOOST_TEST(std::equal(f.row(30), f.row(30) + k_d, f.index.raw_vector(77777)));
  auto hits = f.index.search(f.row(10), all_lists(20, 4));
  BOOST_REQUIRE(hits);
  const auto found = ids_of(*hits);
  BOOST_TEST(std::count(found.begin(), found.end(), 77777u) <= 1);
}

BOOST_AUTO_TEST_CASE(deleted_id_never_comes_back) {
  index_options o;
  o.compact_fraction = 0.3;  // some lists compact automatically during the deletes
  fixture_index f(metric::l2, o);
  std::set<std::uint64_t> removed;
  std::vector<std::uint64_t> to_remove;
  for (std::size_t i = 0; i < k_n; i += 3) to_remove.push_back(f.ids[i]);
  to_remove.push_back(123456789);  // unknown ids are ignored
  BOOST_REQUIRE(f.index.remove(to_remove.data(), to_remove.size()));
  removed.insert(to_remove.begin(), to_remove.end());
  BOOST_TEST(f.index.size() == k_n - (to_remove.size() - 1));
  std::size_t compacted_lists = 0;
  for (const auto& l : f.index.lists()) compacted_lists += l.all_live();
  BOOST_TEST(compacted_lists > 0u);  // automatic compaction happened
  auto check = [&](const char* when) {
    BOOST_TEST_CONTEXT(when) {
      for (std::size_t i = 0; i < k_n; i += 30) {
        auto hits = f.index.search(f.row(i), all_lists(k_n));  // everything the index holds
        BOOST_REQUIRE(hits);
        BOOST_TEST(hits->size() == f.index.size());
        for (const auto& h : *hits) BOOST_TEST(removed.count(h.id) == 0u);
        BOOST_TEST(f.index.find(f.ids[i]).has_value() == (removed.count(f.ids[i]) == 0));
      }
    }
  };
  check("after remove");
  BOOST_REQUIRE(f.index.compact());
  for (const auto& l : f.index.lists()) BOOST_TEST(l.all_live());
  check("after compact");
  const std::uint64_t fresh[2] = {99999001, 99999002};
  BOOST_REQUIRE(f.index.add(fresh, f.x.data(), 2));
  check("after more adds");
  // re-adding a deleted id brings back that id only, with the new vector
  const std::uint64_t back = f.ids[0];
  BOOST_REQUIRE(f.index.add(&back, f.row(1), 1));
  removed.erase(back);
  check("after re-adding one deleted id");
}

BOOST_AUTO_TEST_CASE(compaction_keeps_results_identical) {
  index_options never;
  never.compact_fraction = 1.0;
  fixture_index f(metric::cosine, never);
  std::vector<std::uint64_t> to_remove;
  for (std::size_t i = 0; i < k_n; i += 4) to_remove.push_back(f.ids[i]);
  BOOST_REQUIRE(f.index.remove(to_remove.data(), to_remove.size()));
  std::vector<std::uint64_t> moved;  // upserts leave tombstones too
  for (std::size_t i = 1; i < k_n; i += 50) moved.push_back(f.ids[i]);
  std::vector<float> mv;
  for (std::size_t i = 0; i < moved.size(); ++i) mv.insert(mv.end(), f.row(i * 7 + 2), f.row(i * 7 + 2) + k_d);
  BOOST_REQUIRE(f.index.add(moved.data(), mv.data(), moved.size()));
  const auto before_mem = f.index.memory();
  BOOST_TEST(before_mem.slots > before_mem.vectors);
  const auto q = test::clustered_data(30, k_d, 32, 22);
  std::vector<std::vector<search_hit>> before;
  for (std::size_t refine : {0u, 3u})
    for (std::size_t i = 0; i < 30; ++i) before.push_back(*f.index.search(&q[i * k_d], all_lists(25, refine)));
  BOOST_REQUIRE(f.index.compact());
  BOOST_TEST(f.index.memory().slots == f.index.size());
  std::size_t j = 0;
  for (std::size_t refine : {0u, 3u})
    for (std::size_t i = 0; i < 30; ++i) expect_same_hits(before[j++], *f.index.search(&q[i * k_d], all_lists(25, refine)));
  for (std::size_t i = 0; i < k_n; i += 97) {  // the id map follows the moves
    const auto loc = f.index.find(f.ids[i]);
    if (loc) BOOST_TEST(f.index.lists()[loc->list].id(loc->slot) == f.ids[i]);
  }
}

BOOST_AUTO_TEST_CASE(limit_larger_than_the_index_returns_all_it_has) {
  auto idx = fixture_index::make(metric::dot, {}, 4);
  const auto x = test::clustered_data(300, k_d, 8, 23);
  BOOST_REQUIRE(idx.train(x.data(), 300));
  const auto ids = test::iota_ids(40);
  BOOST_REQUIRE(idx.add(ids.data(), x.data(), 40));
  for (std::size_t refine : {0u, 2u}) {
    auto hits = idx.search(x.data(), all_lists(1000000, refine));
    BOOST_REQUIRE(hits);
    BOOST_TEST(hits->size() == 40u);
    const auto found = ids_of(*hits);
    const std::set<std::uint64_t> unique(found.begin(), found.end());
    BOOST_TEST(unique.size() == 40u);
    for (std::size_t i = 1; i < hits->size(); ++i) BOOST_TEST((*hits)[i - 1].distance <= (*hits)[i].distance);
  }
  auto huge = idx.search(x.data(), all_lists(std::numeric_limits<std::size_t>::max(), 8));
  BOOST_REQUIRE(huge);
  BOOST_TEST(huge->size() == 40u);
}

BOOST_AUTO_TEST_CASE(nprobes_above_num_partitions_probes_all_lists) {
  fixture_index f(metric::l2);
  const auto q = test::clustered_data(10, k_d, 32, 24);
  for (std::size_t i = 0; i < 10; ++i) {
    search_params exact_all = all_lists(30);
    exact_all.nprobes = 16;
    expect_same_hits(*f.index.search(&q[i * k_d], exact_all), *f.index.search(&q[i * k_d], all_lists(30)));
  }
}

BOOST_AUTO_TEST_CASE(search_batch_matches_single_searches) {
  fixture_index f(metric::cosine);
  const std::size_t nq = 300;  // more than one internal block of queries
  const auto q = test::clustered_data(nq, k_d, 32, 25);
  search_params sp;
  sp.limit = 10;
  sp.nprobes = 4;
  sp.refine_factor = 2;
  auto batch = f.index.search_batch(q.data(), nq, sp);
  BOOST_REQUIRE(batch);
  BOOST_REQUIRE(batch->size() == nq);
  for (std::size_t i = 0; i < nq; ++i) {  // bit for bit: a query's plan does not depend on its batch
    auto one = f.index.search(&q[i * k_d], sp);
    BOOST_REQUIRE(one);
    expect_same_hits(*one, (*batch)[i]);
  }
}

BOOST_AUTO_TEST_CASE(distances_follow_lancedb_semantics) {
  for (metric m : {metric::l2, metric::cosine, metric::dot}) {
    BOOST_TEST_CONTEXT("metric=" << m) {
      fixture_index f(m);
      const auto q = test::clustered_data(5, k_d, 32, 26);
      for (std::size_t i = 0; i < 5; ++i) {
        auto refined = f.index.search(&q[i * k_d], all_lists(10, 5));
        BOOST_REQUIRE(refined);
        for (const auto& h : *refined)
          BOOST_TEST(h.distance == test::exact_distance(m, &q[i * k_d], f.row(h.id - 1000), k_d),
                     tt::tolerance(2e-4f));
        auto estimated = f.index.search(&q[i * k_d], all_lists(10));
        BOOST_REQUIRE(estimated);
        for (const auto& h : *estimated) {  // the PQ estimate is close to the exact distance
          const float exact = test::exact_distance(m, &q[i * k_d], f.row(h.id - 1000), k_d);
          BOOST_TEST(std::abs(h.distance - exact) < 0.25f * (1.0f + std::abs(exact)));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(retrain_reencodes_every_live_vector) {
  fixture_index f(metric::l2);
  const std::uint64_t gone = f.ids[7];
  BOOST_REQUIRE(f.index.remove(&gone, 1));
  const auto x2 = test::clustered_data(2000, k_d, 32, 27);
  BOOST_REQUIRE(f.index.train(x2.data(), 2000));
  BOOST_TEST(f.index.codebooks()->version() == 2u);
  BOOST_TEST(f.index.size() == k_n - 1);
  BOOST_TEST(!f.index.find(gone).has_value());
  auto hits = f.index.search(f.row(100), all_lists(1, 10));
  BOOST_REQUIRE(hits);
  BOOST_TEST((*hits)[0].id == f.ids[100]);
}

BOOST_AUTO_TEST_CASE(adopt_codebooks_swaps_and_reencodes) {
  fixture_index f(metric::cosine);
  const auto x2 = test::clustered_data(2000, k_d, 32, 29);
  auto cb = codebook_set::train(params_for(metric::cosine), x2.data(), 2000, 5);
  BOOST_REQUIRE(cb);
  BOOST_REQUIRE(f.index.adopt_codebooks(*cb));
  BOOST_TEST(f.index.codebooks()->version() == 5u);
  BOOST_TEST(f.index.size() == k_n);
  auto hits = f.index.search(f.row(10), all_lists(1, 10));
  BOOST_REQUIRE(hits);
  BOOST_TEST((*hits)[0].id == f.ids[10]);
  auto other = codebook_set::train(params_for(metric::l2), x2.data(), 2000, 6);
  BOOST_REQUIRE(other);
  auto r = f.index.adopt_codebooks(*other);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("metric=l2") != std::string::npos);
  BOOST_TEST(r.error().message().find("metric=cosine") != std::string::npos);
  BOOST_TEST(f.index.codebooks()->version() == 5u);
}

BOOST_AUTO_TEST_CASE(memory_reports_code_and_id_bytes_per_vector) {
  fixture_index f(metric::l2, {}, 6);
  const auto m = f.index.memory();
  BOOST_TEST(m.vectors == k_n);
  BOOST_TEST(m.code_bytes == k_n * 6u);  // 8 sub-vectors × 6 bits = 6 bytes
  BOOST_TEST(m.term_bytes == k_n * 4u);  // l2 with the precomputed list term: one float per entry
  // ids: 4 B per slot + 8 B per started block of 32 + a 1-bit-per-block "wide" bitmap in u64 words
  // (+ 4 B per slot of a block spanning ≥ 2³², none here)
  std::size_t blocks = 0, flag_words = 0;
  for (const auto& l : f.index.lists()) {
    blocks += (l.size() + 31) / 32;
    flag_words += ((l.size() + 31) / 32 + 63) / 64;
  }
  BOOST_TEST(m.id_bytes == k_n * 4u + blocks * 8u + flag_words * 8u);
  BOOST_TEST(m.id_bytes < k_n * 5u);
  BOOST_TEST(m.row_bytes > 0u);  // raw vectors kept: rows beside the ids, measured the same way
  BOOST_TEST(m.resident_bytes_per_vector() == double(m.code_bytes + m.id_bytes + m.term_bytes + m.tombstone_bytes) / k_n);
  BOOST_TEST(m.total_bytes_per_vector() ==
             double(m.code_bytes + m.id_bytes + m.term_bytes + m.tombstone_bytes + m.row_bytes + m.id_map_bytes) / k_n);
  BOOST_TEST(m.id_map_bytes > 0u);
  BOOST_TEST(m.codebook_bytes > 0u);
  BOOST_TEST(m.vector_store_used_bytes == k_n * k_d * sizeof(float));
  BOOST_TEST(m.vector_store_mapped_bytes >= m.vector_store_used_bytes);
}

// Refine is LanceDB's re-ranking: the limit × refine_factor ADC candidates (the unrefined search with
// that limit) ordered by their exact distance, then (distance, id), the first `limit` kept. At d = 256,
// single and batched, the refined hits are exactly that re-ranking done here with cb.exact_distance.
BOOST_AUTO_TEST_CASE(refine_equals_exact_reranking_of_the_adc_candidates) {
  const std::size_t d = 256, n = 3000;
  index_params p;
  p.dimension = d;
  p.metric = metric::l2;
  p.num_partitions = 16;
  p.num_sub_vectors = 16;
  p.max_iterations = 5;
  auto created = ivfpq_index::create(p);
  BOOST_REQUIRE(created);
  ivfpq_index index = std::move(*created);
  const auto x = test::clustered_data(n, d, 12, 31, 0.6f);
  const auto ids = test::iota_ids(n, 1);
  BOOST_REQUIRE(index.train(x.data(), n));
  BOOST_REQUIRE(index.add(ids.data(), x.data(), n));
  const auto& cb = *index.codebooks();
  const auto queries = test::clustered_data(40, d, 12, 77, 0.6f);
  for (std::size_t limit : {1u, 10u}) {
    for (std::size_t rf : {4u, 20u}) {
      search_params sp;
      sp.limit = limit;
      sp.nprobes = 4;
      sp.refine_factor = rf;
      search_params adc = sp;
      adc.refine_factor = 0;
      adc.limit = limit * rf;
      auto batch = index.search_batch(queries.data(), 40, sp);
      BOOST_REQUIRE(batch);
      for (std::size_t q = 0; q < 40; ++q) {
        BOOST_TEST_CONTEXT("limit=" << limit << " rf=" << rf << " q=" << q) {
          auto cands = index.search(&queries[q * d], adc);
          BOOST_REQUIRE(cands);
          std::vector<search_hit> want;
          for (const auto& c : *cands) want.push_back({c.id, cb.exact_distance(&queries[q * d], index.raw_vector(c.id))});
          std::sort(want.begin(), want.end(), [](const search_hit& a, const search_hit& b) {
            return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
          });
          want.resize(std::min(limit, want.size()));
          auto got = index.search(&queries[q * d], sp);
          BOOST_REQUIRE(got);
          expect_same_hits(*got, want);
          expect_same_hits((*batch)[q], want);
        }
      }
    }
  }
}
