// Hot swap at the level of the plain states (ingest_state + partition_state): shadows under version
// v+1 built from the vector store while v keeps serving, writes meanwhile routed under both, emigrants
// moved to the partitions owning their new lists, commit. Afterwards: every id exactly once with its
// latest vector, in a list its partition owns, and v+1 answers exactly what one ivfpq_index with the
// same codebooks and data answers; v answers, unchanged, until it is retired.
#define BOOST_TEST_MODULE partition_swap
#include <boost/test/unit_test.hpp>

#include <map>

#include "actors/ingest_state.hpp"
#include "actors/partition_state.hpp"
#include "actors/query_state.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;

namespace {

constexpr std::size_t d = 16, n = 4000, P = 3;

index_params small_params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

struct node {
  node() : data(test::drifting_stream(n, d, 10, 11)), ids(test::iota_ids(n, 500)) {
    ingest = std::make_unique<ingest_state>(P);
    BOOST_REQUIRE(ingest->create_index(small_params()));
    auto trained = ingest->train(data.data(), n / 2);  // v1 knows only the first clusters
    BOOST_REQUIRE(trained);
    for (std::uint32_t p = 0; p < P; ++p) {
      parts.push_back(std::make_unique<partition_state>(p, P));
      BOOST_REQUIRE(parts[p]->install(trained->new_codebooks));
    }
    upsert(0, n / 2);
  }
  void apply(result<routed_batch> b) {
    BOOST_REQUIRE(b);
    for (std::uint32_t p = 0; p < P; ++p) BOOST_REQUIRE(parts[p]->apply(b->updates[p]));
    for (std::uint32_t p = 0; p < b->shadow_updates.size(); ++p) BOOST_REQUIRE(parts[p]->apply(b->shadow_updates[p]));
  }
  void upsert(std::size_t from, std::size_t to) {
    apply(ingest->upsert(ids.data() + from, data.data() + from * d, to - from, d));
    for (std::size_t i = from; i < to; ++i) latest[ids[i]].assign(data.begin() + i * d, data.begin() + (i + 1) * d);
  }
  void remove(std::uint64_t id) {
    apply(ingest->remove(&id, 1));
    latest.erase(id);
  }
  search_response search(const std::shared_ptr<const codebook_set>& cb, const float* q, const search_params& sp) {
    auto plan = cb->plan_query(q, sp.nprobes);
    BOOST_REQUIRE(plan);
    auto reqs = scatter(cb, std::make_shared<const query_plan>(std::move(*plan)), sp, P);
    std::vector<std::uint32_t> asked;
    for (auto& r : reqs) asked.push_back(r.first);
    query_gather g(sp, asked);
    for (auto& [p, r] : reqs) {
      auto hits = parts[p]->scan(r);
      if (hits)
        g.add(scan_reply{p, std::move(*hits), std::nullopt});
      else
        g.add(scan_reply{p, {}, std::move(hits).error()});
    }
    return g.finish();
  }
  std::vector<float> data;
  std::vector<std::uint64_t> ids;
  std::map<std::uint64_t, std::vector<float>> latest;  // what the node must hold
  std::unique_ptr<ingest_state> ingest;
  std::vector<std::unique_ptr<partition_state>> parts;
};

std::vector<std::vector<search_hit>> answers(node& c, const std::shared_ptr<const codebook_set>& cb,
                                             const std::vector<float>& queries, const search_params& sp) {
  std::vector<std::vector<search_hit>> out;
  for (std::size_t i = 0; i < queries.size() / d; ++i) {
    auto r = c.search(cb, queries.data() + i * d, sp);
    BOOST_REQUIRE(!r.failure);
    BOOST_REQUIRE(!r.partial);
    out.push_back(r.hits);
  }
  return out;
}

void check_same(const std::vector<std::vector<search_hit>>& a, const std::vector<std::vector<search_hit>>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_REQUIRE_EQUAL(a[i].size(), b[i].size());
    for (std::size_t j = 0; j < a[i].size(); ++j) {
      BOOST_CHECK_EQUAL(a[i][j].id, b[i][j].id);
      BOOST_CHECK_EQUAL(a[i][j].distance, b[i][j].distance);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(swap_with_writes_during_it_ends_on_one_consistent_version) {
  node c;
  const search_params sp{10, 6, 2};
  const auto queries = test::drifting_stream(40, d, 10, 11);
  auto v1 = c.ingest->codebooks();
  const auto before = answers(c, v1, queries, sp);

  // v2 trained on the whole stream, centroids refreshed: many entries change lists and partitions.
  auto v2 = codebook_set::train(small_params(), c.data.data(), n, 2);
  BOOST_REQUIRE(v2);
  BOOST_REQUIRE(c.ingest->begin_shadow(*v2));
  std::vector<shadow_start> starts(P);
  for (std::uint32_t p = 0; p < P; ++p) {
    BOOST_REQUIRE(c.parts[p]->begin_shadow(*v2));
    BOOST_CHECK_EQUAL(c.parts[p]->shadow_version(), 2u);
    BOOST_CHECK(!c.parts[p]->shadow_step(300, starts[p]));  // part of the rebuild only
  }
  // A second shadow is refused while one is built.
  BOOST_CHECK(!c.parts[0]->build_shadow(*v2));
  BOOST_CHECK(!c.ingest->begin_shadow(*v2));
  // v1 still answers exactly as before.
  check_same(answers(c, v1, queries, sp), before);

  // Writes while the emigrants are on their way: new vectors, re-upserts that move ids, removes.
  c.upsert(n / 2, 3 * n / 4);
  std::vector<float> moved(200 * d);
  for (std::size_t i = 0; i < 200; ++i) std::copy_n(c.data.data() + (n - 1 - i) * d, d, moved.data() + i * d);
  c.apply(c.ingest->upsert(c.ids.data(), moved.data(), 200, d));
  for (std::size_t i = 0; i < 200; ++i) c.latest[c.ids[i]].assign(moved.begin() + i * d, moved.begin() + (i + 1) * d);
  for (std::size_t i = 300; i < 340; ++i) c.remove(c.ids[i]);
  for (std::size_t i = 1500; i < 1540; ++i) c.remove(c.ids[i]);  // some not re-encoded yet
  // The rest of the rebuild, after those writes: it must skip what they changed.
  for (std::uint32_t p = 0; p < P; ++p) {
    while (!c.parts[p]->shadow_step(500, starts[p])) {
    }
    BOOST_CHECK_GT(c.parts[p]->other_bytes(), 0u);
  }

  // Emigrants reach their new owners late (after those writes): they must not undo them.
  std::size_t emigrated = 0;
  for (const auto& s : starts) {
    c.ingest->note_shadow_members(s.partition, s.kept);
    for (const auto& e : s.emigrants) {  // chunks, each bound for one partition
      BOOST_REQUIRE(!e.ids.empty());
      const std::uint32_t dest = e.lists.front() % P;
      for (auto l : e.lists) BOOST_CHECK_EQUAL(l % P, dest);
      BOOST_CHECK_NE(dest, s.partition);
      emigrated += e.ids.size();
      c.ingest->note_shadow_members(dest, e.ids);
      BOOST_REQUIRE(c.parts[dest]->migrate(e));
    }
  }
  BOOST_TEST_MESSAGE("entries that changed partition: " << emigrated);
  BOOST_CHECK_GT(emigrated, 100u);
  c.upsert(3 * n / 4, n);

  // Commit everywhere; the ingest routes under v2 from now on.
  const auto v1_at_commit = answers(c, v1, queries, sp);
  BOOST_REQUIRE(c.ingest->commit_shadow());
  for (auto& p : c.parts) BOOST_REQUIRE(p->commit_shadow(2));
  BOOST_CHECK_EQUAL(c.ingest->codebooks()->version(), 2u);
  for (auto& p : c.parts) {
    BOOST_CHECK_EQUAL(p->codebooks()->version(), 2u);
    BOOST_CHECK_EQUAL(p->retired_version(), 1u);
    BOOST_CHECK_EQUAL(p->shadow_version(), 0u);
  }

  // A write after the commit that moves ids once more: routes must be right (one copy each).
  std::vector<float> again(100 * d);
  for (std::size_t i = 0; i < 100; ++i) std::copy_n(c.data.data() + (i + 1000) * d, d, again.data() + i * d);
  c.apply(c.ingest->upsert(c.ids.data() + 2000, again.data(), 100, d));
  for (std::size_t i = 0; i < 100; ++i)
    c.latest[c.ids[2000 + i]].assign(again.begin() + i * d, again.begin() + (i + 1) * d);

  // Every id exactly once, with its latest vector, in a list its partition owns.
  std::size_t total = 0;
  for (const auto& p : c.parts) {
    total += p->size();
    p->for_each([&](std::uint64_t id, std::uint32_t list, const std::uint8_t*, const float* v) {
      BOOST_CHECK_EQUAL(list % P, p->index());
      auto it = c.latest.find(id);
      BOOST_REQUIRE_MESSAGE(it != c.latest.end(), "id " << id << " should be gone");
      BOOST_REQUIRE(v != nullptr);
      BOOST_CHECK(std::equal(v, v + d, it->second.begin()));
    });
  }
  BOOST_CHECK_EQUAL(total, c.latest.size());

  // v2 answers exactly what one index with v2 and the same data answers.
  auto idx = ivfpq_index::create(small_params());
  BOOST_REQUIRE(idx);
  BOOST_REQUIRE(idx->adopt_codebooks(*v2));
  std::vector<std::uint64_t> fids;
  std::vector<float> fx;
  for (const auto& [id, v] : c.latest) {
    fids.push_back(id);
    fx.insert(fx.end(), v.begin(), v.end());
  }
  BOOST_REQUIRE(idx->add(fids.data(), fx.data(), fids.size()));
  std::vector<std::vector<search_hit>> want;
  for (std::size_t i = 0; i < queries.size() / d; ++i) {
    auto r = idx->search(queries.data() + i * d, sp);
    BOOST_REQUIRE(r);
    want.push_back(*r);
  }
  check_same(answers(c, *v2, queries, sp), want);

  // Queries planned with v1 before the flip still read v1 as it was at the flip (the retired lists)
  // until retire(); writes after the flip went to v2 only.
  check_same(answers(c, v1, queries, sp), v1_at_commit);
  for (auto& p : c.parts) p->retire(1);
  for (auto& p : c.parts) BOOST_CHECK_EQUAL(p->retired_version(), 0u);
  auto late = c.search(v1, queries.data(), sp);
  BOOST_CHECK(late.partial);  // v1 is gone: a query still planned with it is told so, never answered wrongly
}

BOOST_AUTO_TEST_CASE(abandoned_shadow_changes_nothing) {
  node c;
  auto v1 = c.ingest->codebooks();
  const search_params sp{10, 6, 0};
  const auto queries = test::clustered_data(10, d, 10, 11);
  const auto before = answers(c, v1, queries, sp);
  auto v2 = codebook_set::train(small_params(), c.data.data(), n, 2);
  BOOST_REQUIRE(v2);
  BOOST_REQUIRE(c.ingest->begin_shadow(*v2));
  for (auto& p : c.parts) BOOST_REQUIRE(p->build_shadow(*v2));
  c.ingest->abort_shadow();
  for (auto& p : c.parts) p->abort_shadow();
  for (auto& p : c.parts) BOOST_CHECK_EQUAL(p->shadow_version(), 0u);
  check_same(answers(c, v1, queries, sp), before);
  // Writes go on under v1 alone; a late shadow update is dropped, not an error.
  c.upsert(n / 2, n / 2 + 100);
  partition_update stray;
  stray.codebook_version = 2;
  BOOST_CHECK(c.parts[0]->apply(stray));
  // Commit without a shadow is refused.
  BOOST_CHECK(!c.parts[0]->commit_shadow(2));
  BOOST_CHECK(!c.ingest->commit_shadow());
}

BOOST_AUTO_TEST_CASE(shadow_needs_raw_vectors_and_a_newer_version) {
  auto p = small_params();
  p.keep_raw_vectors = false;
  const auto data = test::clustered_data(2000, d, 8, 2);
  auto v1 = codebook_set::train(p, data.data(), 2000, 1);
  BOOST_REQUIRE(v1);
  partition_state part(0, 1);
  BOOST_REQUIRE(part.install(*v1));
  partition_update u;
  u.codebook_version = 1;
  u.ids = test::iota_ids(10);
  u.lists.resize(10);
  (*v1)->assign(data.data(), 10, u.lists.data());
  u.vectors.assign(data.begin(), data.begin() + 10 * d);
  BOOST_REQUIRE(part.apply(u));
  auto v2 = codebook_set::train(p, data.data(), 2000, 2);
  auto r = part.build_shadow(*v2);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error().message().find("keep_raw_vectors") != std::string::npos);
  auto old = codebook_set::train(small_params(), data.data(), 2000, 1);
  auto r2 = part.build_shadow(*old);
  BOOST_REQUIRE(!r2);
  BOOST_CHECK(r2.error().code() == errc::version_mismatch);
}
