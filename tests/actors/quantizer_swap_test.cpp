// The advanced quantizers through the engine's continuous retraining (trainer actor, hot swap,
// checkpoint), not only at index level: for each kind (rq, lsq, LOPQ, OPQ, polysemous), after a drift
// retrain() swaps in a version of the same kind; recall@10 against brute force recovers to within a
// measured margin of a from-scratch index of that kind on the same data; and a restart from the
// checkpoint comes up on that version, of that kind, answering every query identically.
#define BOOST_TEST_MODULE quantizer_swap
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "index/codebook_set.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/drift_data.hpp"
#include "tests/index/index_test_support.hpp"

using namespace ivfstream;

namespace {

constexpr std::size_t d = 16, n = 6000, nq = 100, k = 10, nprobes = 4;

// v1 is trained on the first 2000 vectors (before the drift); the retrain samples every vector, as
// the from-scratch index does.
engine_options options(const std::string& dir) { return test::explicit_retrain_options(dir, 2000, n); }

struct variant {
  const char* name;
  index_params params;
};

std::vector<variant> variants() {
  const index_params base = test::small_index_params(d);
  std::vector<variant> out;
  auto rq = base;
  rq.quantizer = quantizer_kind::rq;
  out.push_back({"rq", rq});
  auto lsq = base;
  lsq.quantizer = quantizer_kind::lsq;
  out.push_back({"lsq", lsq});
  auto lopq = base;
  lopq.lopq = true;
  lopq.lopq_groups = 4;
  lopq.lopq_min_points = 1;  // every group trains its own codebooks (~1500 vectors each here)
  out.push_back({"lopq", lopq});
  auto opq = base;
  opq.opq = true;
  out.push_back({"opq", opq});
  auto poly = base;
  poly.polysemous = true;
  out.push_back({"polysemous", poly});
  return out;
}

/// The kind-defining fields of a live codebook set equal those asked for.
void check_kind(const codebook_set& cb, const index_params& want) {
  const auto& p = cb.params();
  BOOST_CHECK(p.quantizer == want.quantizer);
  BOOST_CHECK_EQUAL(p.lopq, want.lopq);
  BOOST_CHECK_EQUAL(p.opq, want.opq);
  BOOST_CHECK_EQUAL(p.polysemous, want.polysemous);
  BOOST_CHECK_EQUAL(cb.local() != nullptr, want.lopq);
}

/// Queries near held vectors of the second (drifted) half: rows plus small noise.
std::vector<float> drifted_queries(const std::vector<float>& x) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> row(n / 2, n - 1);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> q(nq * d);
  for (std::size_t i = 0; i < nq; ++i) {
    const std::size_t r = row(rng);
    for (std::size_t j = 0; j < d; ++j) q[i * d + j] = x[r * d + j] + noise(rng);
  }
  return q;
}

std::vector<std::vector<search_hit>> search_all(const engine& e, const std::vector<float>& q,
                                                std::uint64_t want_version) {
  std::vector<std::vector<search_hit>> out;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = e.search(q.data() + i * d, d).nprobes(nprobes).limit(k).to_list();
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    BOOST_REQUIRE(!r->partial);
    BOOST_REQUIRE_EQUAL(r->codebook_version, want_version);
    out.push_back(r->hits);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_quantizer_kind_retrains_swaps_and_restarts_as_itself) {
  const auto x = test::drifting_stream(n, d, 8, 61);
  const auto ids = test::iota_ids(n);
  const auto q = drifted_queries(x);
  for (const auto& v : variants()) {
    BOOST_TEST_CONTEXT("quantizer " << v.name) {
      test::scratch_dir dir(std::string("quantizer-swap-") + v.name);
      std::vector<std::vector<search_hit>> after;
      double r_before = 0, r_after = 0;
      {
        auto e = test::open_engine(options(dir.path.string()));
        BOOST_REQUIRE(e->create_index(v.params));
        BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n / 2));  // v1 trains on these: before the drift
        BOOST_REQUIRE(e->upsert(ids.data() + n / 2, x.data() + n / 2 * d, n / 2));
        auto v1 = e->codebooks();
        BOOST_REQUIRE(v1 && *v1);
        BOOST_REQUIRE_EQUAL((*v1)->version(), 1u);
        check_kind(**v1, v.params);
        r_before = test::mean_recall(search_all(*e, q, 1), metric::l2, q.data(), x.data(), n, d, k);

        auto v2 = e->retrain();
        BOOST_REQUIRE_MESSAGE(v2, (v2 ? "" : v2.error().to_string()));
        BOOST_REQUIRE_EQUAL(*v2, 2u);
        const auto live = e->codebooks();
        BOOST_REQUIRE(live && *live);
        check_kind(**live, v.params);
        const auto s = test::stats_of(*e);
        BOOST_CHECK_EQUAL(s.failed_swaps, 0u);
        BOOST_CHECK_EQUAL(s.vectors, n);
        after = search_all(*e, q, 2);
        r_after = test::mean_recall(after, metric::l2, q.data(), x.data(), n, d, k);
        auto c = e->checkpoint();
        BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
      }
      const auto fresh_index = test::build_index(v.params, x.data(), n);
      search_params sp;
      sp.limit = k;
      sp.nprobes = nprobes;
      const double r_fresh = test::mean_recall(test::search_each(fresh_index, q.data(), nq, sp), metric::l2,
                                               q.data(), x.data(), n, d, k);
      BOOST_TEST_MESSAGE(v.name << ": recall@10 v1 (before the drift) " << r_before << ", after the swap "
                                << r_after << ", from scratch " << r_fresh);
      BOOST_CHECK_GE(r_after, r_fresh - 0.05);
      BOOST_CHECK_GT(r_after, r_before);

      auto e = test::open_engine(options(dir.path.string()));
      const auto restored = e->codebooks();
      BOOST_REQUIRE(restored && *restored);
      BOOST_CHECK_EQUAL((*restored)->version(), 2u);
      check_kind(**restored, v.params);
      const auto again = search_all(*e, q, 2);
      for (std::size_t i = 0; i < nq; ++i) test::check_same(again[i], after[i]);
    }
  }
}
