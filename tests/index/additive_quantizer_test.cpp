#define BOOST_TEST_MODULE additive_quantizer
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "index/additive_quantizer.hpp"
#include "index/codebook_set.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/index/index_test_support.hpp"

// Additive quantizers inside IVF (quantizer = rq | lsq): recall against brute force, RQ against PQ at
// equal bytes, beam search against greedy, the ADC estimate against the decoded vector, save/load and
// the parameter errors. Bounds are measured on this data (printed with --log_level=message) minus a
// margin; every seed is fixed.
using namespace ivfstream;

namespace {

constexpr std::size_t k_d = 64, k_n = 5000, k_nq = 100, k_k = 10;

/// Vectors near an 8-dimensional subspace of R^64 (random basis, Gaussian clusters in it) plus small
/// isotropic noise: every coordinate mixes the same few latent factors, the case where codebooks over
/// the full dimension (RQ/LSQ) should beat PQ's independent sub-spaces at equal bytes.
test::data_and_queries latent_data() {
  constexpr std::size_t latent = 8;
  const auto z = test::clustered_data(k_n + k_nq, latent, 32, 91, 0.6f);
  std::mt19937_64 rng(17);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> basis(latent * k_d);
  for (float& b : basis) b = g(rng);
  std::vector<float> all((k_n + k_nq) * k_d);
  for (std::size_t i = 0; i < k_n + k_nq; ++i)
    for (std::size_t j = 0; j < k_d; ++j) {
      float s = 0.05f * g(rng);
      for (std::size_t t = 0; t < latent; ++t) s += z[i * latent + t] * basis[t * k_d + j];
      all[i * k_d + j] = s;
    }
  return test::split_rows(all, k_n, k_d);
}

const test::data_and_queries& data() {
  static const auto d = latent_data();
  return d;
}

index_params params(quantizer_kind qk, std::size_t code_bytes, metric m = metric::l2) {
  index_params p;
  p.dimension = k_d;
  p.metric = m;
  p.num_partitions = 16;
  p.num_sub_vectors = code_bytes;  // pq: M sub-quantizers; rq/lsq: code_bytes − 1 codebooks + norm byte
  p.num_bits = 8;
  p.max_iterations = 8;
  p.sample_rate = 16;  // 4096 training rows for the quantizer
  p.quantizer = qk;
  p.rq_beam_size = 4;
  p.lsq_iterations = 2;
  p.lsq_icm_iterations = 2;
  p.train_threads = 2;
  return p;
}

ivfpq_index build(const index_params& p) { return test::build_index(p, data().x.data(), k_n); }

/// One index per (quantizer, bytes, metric), built once for the whole suite.
const ivfpq_index& built(quantizer_kind qk, std::size_t bytes, metric m = metric::l2) {
  static std::vector<std::pair<std::string, std::unique_ptr<ivfpq_index>>> cache;
  const std::string key = std::to_string(int(qk)) + "/" + std::to_string(bytes) + "/" + std::to_string(int(m));
  for (auto& [k, v] : cache)
    if (k == key) return *v;
  cache.emplace_back(key, std::make_unique<ivfpq_index>(build(params(qk, bytes, m))));
  return *cache.back().second;
}

search_params sparams() {
  search_params sp;
  sp.limit = k_k;
  sp.nprobes = 4;
  return sp;
}

std::vector<std::vector<search_hit>> search_all(const ivfpq_index& index, const search_params& sp) {
  return test::search_each(index, data().q.data(), k_nq, sp);
}

double mean_recall(const std::vector<std::vector<search_hit>>& hits, metric m = metric::l2) {
  return test::mean_recall(hits, m, data().q.data(), data().x.data(), k_n, k_d, k_k);
}

std::string error_of(const index_params& p) {
  auto r = ivfpq_index::create(p);
  BOOST_REQUIRE(!r);
  return r.error().message();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(additive_quantizer)

BOOST_AUTO_TEST_CASE(rq_and_lsq_recall_against_brute_force) {
  for (quantizer_kind qk : {quantizer_kind::rq, quantizer_kind::lsq}) {
    const auto& index = built(qk, 8);
    BOOST_TEST(index.codebooks()->code_size() == 8u);  // 7 codebooks + the norm byte
    const double r = mean_recall(search_all(index, sparams()));
    BOOST_TEST_MESSAGE((qk == quantizer_kind::rq ? "rq" : "lsq") << " 8 B recall@10 " << r);
    // measured (nprobes 4 of 16, no refine): rq 0.965, lsq 0.969; PQ at the same 8 bytes 0.746. A wrong
    // table sign or norm term falls to PQ's level or below (adc_estimate_matches_the_decoded_vector
    // checks the terms one by one); bound 0.90 leaves room for another machine's float summation order.
    BOOST_TEST(r >= 0.90);
  }
}

BOOST_AUTO_TEST_CASE(rq_beats_pq_at_equal_bytes) {
  // 8 bytes per vector each: PQ M=8 (8-d sub-spaces) against RQ 7 codebooks + 1 norm byte.
  const double pq = mean_recall(search_all(built(quantizer_kind::pq, 8), sparams()));
  const double rq = mean_recall(search_all(built(quantizer_kind::rq, 8), sparams()));
  const double lsq = mean_recall(search_all(built(quantizer_kind::lsq, 8), sparams()));
  BOOST_TEST_MESSAGE("8 B recall@10: pq " << pq << " rq " << rq << " lsq " << lsq);
  // measured: pq 0.746, rq 0.965, lsq 0.969 (data of rank ~8 spread over all 64 coordinates, where
  // PQ's sub-spaces each see the same factors). Asserted margin 0.10, under half the measured 0.22.
  BOOST_TEST(rq >= pq + 0.10);
  BOOST_TEST(lsq >= pq + 0.10);
}

BOOST_AUTO_TEST_CASE(beam_search_is_no_worse_than_greedy) {
  const std::size_t M = 4;
  additive_train_options o;
  o.num_codebooks = M;
  o.kmeans_iterations = 8;
  o.max_points_per_centroid = 16;
  const auto cb = train_additive_codebooks(data().x.data(), 4096, k_d, o);
  const double greedy = additive_codec(cb, M, k_d, 1, 0).mean_squared_error(data().x.data(), k_n);
  const double beam = additive_codec(cb, M, k_d, 8, 0).mean_squared_error(data().x.data(), k_n);
  const double icm = additive_codec(cb, M, k_d, 8, 4).mean_squared_error(data().x.data(), k_n);
  // measured: greedy 2.741, beam 8 2.275 (−17 %), beam 8 + 4 ICM sweeps 2.271, LSQ 1.884 (2 rounds).
  // ICM never increases a code's error and the beam keeps the greedy path's first step, so the order
  // is structural; the 5 % margins on beam and LSQ are well inside the measured gaps.
  o.lsq = true;
  o.lsq_iterations = 2;
  const auto lcb = train_additive_codebooks(data().x.data(), 4096, k_d, o);
  const double lsq = additive_codec(lcb, M, k_d, 8, 4).mean_squared_error(data().x.data(), k_n);
  BOOST_TEST_MESSAGE("MSE greedy " << greedy << " beam8 " << beam << " beam8+icm " << icm << " lsq " << lsq);
  BOOST_TEST(beam <= 0.95 * greedy);
  BOOST_TEST(icm <= beam);
  BOOST_TEST(lsq <= 0.95 * icm);
}

BOOST_AUTO_TEST_CASE(adc_estimate_matches_the_decoded_vector) {
  // bias + Σ_m lut[m][code_m] must equal ‖q − decode(code)‖² up to the norm byte's rounding (at most
  // half the widest gap between neighbouring levels; measured max 6.7 against 71 allowed on l2, and
  // 115 before the cross term 2⟨c, r̂⟩ moved from the byte to the per-list table); a wrong sign, scale
  // or centroid term is off by far more (dot, which has no byte, is checked to 1e-3).
  for (metric m : {metric::l2, metric::cosine, metric::dot}) {
    const auto& index = built(quantizer_kind::rq, 8, m);
    const auto& cb = *index.codebooks();
    const std::size_t M = cb.num_sub_vectors(), K = cb.ksub(), cs = cb.code_size();
    const float* levels = &cb.pq_codebooks()[cb.pq_codebooks().size() - K];
    float max_gap = 0;
    for (std::size_t l = 1; l < K; ++l) max_gap = std::max(max_gap, levels[l] - levels[l - 1]);
    const float scale = m == metric::cosine ? 0.5f : 1.0f;
    auto plan = cb.plan_query(&data().q[0], 2);
    BOOST_REQUIRE(plan);
    std::vector<float> lut(M * K), rec(k_d), xq(k_d);
    BOOST_REQUIRE(cb.prepare_vectors(&data().q[0], 1, xq.data()));
    double worst = 0;
    std::size_t checked = 0;
    for (std::size_t pi = 0; pi < plan->lists.size(); ++pi) {
      const std::uint32_t list = plan->lists[pi];
      const float bias = cb.list_table(*plan, pi, lut.data());
      const auto& il = index.lists()[list];
      for (std::size_t e = 0; e < std::min<std::size_t>(il.size(), 50); ++e, ++checked) {
        const std::uint8_t* code = il.codes() + e * cs;
        float est = bias;
        for (std::size_t j = 0; j < M; ++j) est += lut[j * K + code[j]];
        cb.decode(list, code, rec.data());
        // what the tables estimate: s·‖q − x̂‖² (l2 s = 1, cosine s = ½), 1 − ⟨q, x̂⟩ (dot)
        double l2 = 0, ip = 0;
        for (std::size_t j = 0; j < k_d; ++j) {
          l2 += (double(xq[j]) - rec[j]) * (double(xq[j]) - rec[j]);
          ip += double(xq[j]) * rec[j];
        }
        const double exact = m == metric::dot ? 1.0 - ip : scale * l2;
        worst = std::max(worst, std::abs(double(est) - exact));
      }
    }
    // dot: no norm byte, the estimate is exact up to float rounding
    const double allowed = m == metric::dot ? 1e-3 : scale * (0.5 * max_gap) + 1e-3;
    BOOST_TEST_MESSAGE("metric " << int(m) << ": " << checked << " codes, max |ADC − exact(decoded)| " << worst
                                 << " allowed " << allowed);
    BOOST_TEST(checked > 0u);
    BOOST_TEST(worst <= allowed);
  }
}

BOOST_AUTO_TEST_CASE(cosine_and_dot_recall_against_brute_force) {
  for (metric m : {metric::cosine, metric::dot}) {
    const double r = mean_recall(search_all(built(quantizer_kind::rq, 8, m), sparams()), m);
    BOOST_TEST_MESSAGE("rq 8 B metric " << int(m) << " recall@10 " << r);
    // measured: cosine 0.962 (½ factor on every table row, norm byte on the unit sphere), dot 0.914
    // (no norm byte; ⟨q, c⟩ + Σ⟨q, a_m⟩ of a residual quantised in L2)
    BOOST_TEST(r >= (m == metric::cosine ? 0.90 : 0.85));
  }
}

BOOST_AUTO_TEST_CASE(batch_and_save_load_give_identical_results) {
  const test::temp_dir dir("additive_quantizer_test");
  for (quantizer_kind qk : {quantizer_kind::rq, quantizer_kind::lsq}) {
    const auto& index = built(qk, 8);
    const auto single = search_all(index, sparams());
    auto batch = index.search_batch(data().q.data(), k_nq, sparams());
    BOOST_REQUIRE(batch);
    test::require_same_hits(single, *batch);
    const std::string path = dir.file("idx.ivfi");
    BOOST_REQUIRE(index.save(path));
    auto loaded = ivfpq_index::load(path);
    BOOST_REQUIRE(loaded);
    BOOST_TEST(int(loaded->params().quantizer) == int(qk));
    BOOST_TEST(loaded->params().rq_beam_size == 4u);
    BOOST_TEST(loaded->codebooks()->pq_codebooks() == index.codebooks()->pq_codebooks(),
               boost::test_tools::per_element());
    test::require_same_hits(single, search_all(*loaded, sparams()));
    // re-encoding after load gives the stored codes (same codebooks, same encoder settings)
    const auto& cb = *loaded->codebooks();
    std::vector<std::uint32_t> lists(20);
    std::vector<std::uint8_t> a(20 * cb.code_size()), b(20 * cb.code_size());
    std::vector<float> xp(20 * k_d);
    BOOST_REQUIRE(cb.prepare_vectors(data().x.data(), 20, xp.data()));
    cb.encode(xp.data(), 20, lists.data(), a.data());
    index.codebooks()->encode_in_lists(xp.data(), 20, lists.data(), b.data());
    BOOST_TEST(a == b, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_clear_errors) {
  auto p = params(quantizer_kind::rq, 8);
  p.rq_beam_size = 0;
  BOOST_TEST(error_of(p).find("rq_beam_size=0") != std::string::npos);
  p = params(quantizer_kind::rq, 8);
  p.num_bits = 4;
  BOOST_TEST(error_of(p).find("num_bits=4 with quantizer=rq: must be 8") != std::string::npos);
  p = params(quantizer_kind::lsq, 1);
  BOOST_TEST(error_of(p).find("num_sub_vectors=1 with quantizer=lsq: must be in [2, 33]") != std::string::npos);
  p = params(quantizer_kind::rq, 34);
  BOOST_TEST(error_of(p).find("num_sub_vectors=34") != std::string::npos);
  p = params(quantizer_kind::lsq, 8);
  p.lsq_iterations = 0;
  BOOST_TEST(error_of(p).find("lsq_iterations=0") != std::string::npos);
  p = params(quantizer_kind::rq, 8);
  p.opq = true;
  BOOST_TEST(error_of(p).find("opq=true with quantizer=rq") != std::string::npos);
  p = params(quantizer_kind::rq, 8);
  p.quantizer = static_cast<quantizer_kind>(7);
  BOOST_TEST(error_of(p).find("quantizer=7: must be one of pq, rq, lsq") != std::string::npos);
  // num_sub_vectors need not divide the dimension for rq (7 codebooks + 1 on d = 64 is fine; 5 too)
  BOOST_TEST(static_cast<bool>(ivfpq_index::create(params(quantizer_kind::rq, 5))));
  // codebooks of the wrong size (a code size mismatch between params and stored codebooks)
  p = params(quantizer_kind::rq, 8);
  const auto& good = built(quantizer_kind::rq, 8);
  auto wrong = codebook_set::from_parts(params(quantizer_kind::rq, 9), 1, good.codebooks()->centroids(),
                                        good.codebooks()->pq_codebooks());
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.error().message().find("256 × ((num_sub_vectors − 1) × dimension + 1)") != std::string::npos);
  // a pq-shaped codebook array under rq
  const auto& pq = built(quantizer_kind::pq, 8);
  wrong = codebook_set::from_parts(p, 1, pq.codebooks()->centroids(), pq.codebooks()->pq_codebooks());
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.error().message().find("pq_codebooks hold 16384 floats") != std::string::npos);
  // too few training vectors: named count
  auto small = ivfpq_index::create(params(quantizer_kind::rq, 8));
  BOOST_REQUIRE(small);
  auto st = small->train(data().x.data(), 100);
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().message().find("got 100") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
