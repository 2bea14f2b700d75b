#define BOOST_TEST_MODULE codebook_set
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "index/codebook_set.hpp"
#include "index/list_scan.hpp"
#include "kernels/pq_codes.hpp"
#include "kernels/topk.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
namespace tt = boost::test_tools;

namespace {

constexpr std::size_t k_d = 16;
constexpr unsigned k_all_bits[] = {4, 6, 8, 10, 12};

index_params small_params(metric m, unsigned nbits) {
  index_params p;
  p.dimension = k_d;
  p.metric = m;
  p.num_partitions = 8;
  p.num_sub_vectors = 4;
  p.num_bits = nbits;
  p.max_iterations = 4;
  return p;
}

std::shared_ptr<const codebook_set> trained(const index_params& p, const std::vector<float>& x) {
  auto cb = codebook_set::train(p, x.data(), x.size() / p.dimension);
  BOOST_REQUIRE_MESSAGE(cb, (cb ? std::string() : cb.error().to_string()));
  return *cb;
}

double sq_l2(const float* a, const float* b, std::size_t d) {
  double s = 0;
  for (std::size_t j = 0; j < d; ++j) s += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
  return s;
}

}  // namespace

// Every sub-code the encoder writes is the nearest sub-centroid of the residual's sub-vector, and
// the packed bytes round-trip exactly through unpack/pack, for every num_bits.
BOOST_AUTO_TEST_CASE(encode_packs_nearest_sub_centroids_for_every_num_bits) {
  const std::size_t n = 4200;  // ≥ 2^12 so 12-bit codebooks can be trained
  const auto x = test::clustered_data(n, k_d, 16, 11);
  for (unsigned nbits : k_all_bits) {
    BOOST_TEST_CONTEXT("num_bits=" << nbits) {
      const auto cb = trained(small_params(metric::l2, nbits), x);
      const std::size_t M = cb->num_sub_vectors(), ksub = cb->ksub(), dsub = cb->dsub(), cs = cb->code_size();
      BOOST_TEST(cs == (M * nbits + 7) / 8);
      const std::size_t m_check = 300;
      std::vector<std::uint32_t> lists(m_check);
      std::vector<std::uint8_t> codes(m_check * cs);
      cb->encode(x.data(), m_check, lists.data(), codes.data());
      std::vector<std::uint16_t> sub(m_check * M);
      kernels::unpack_codes(codes.data(), m_check, M, nbits, sub.data());
      std::vector<std::uint8_t> repacked(codes.size());
      kernels::pack_codes(sub.data(), m_check, M, nbits, repacked.data());
      BOOST_TEST(repacked == codes, tt::per_element());
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < m_check; ++i) {
        const float* c = &cb->centroids()[lists[i] * k_d];
        for (std::size_t m = 0; m < M; ++m) {
          float r[64];
          for (std::size_t j = 0; j < dsub; ++j) r[j] = x[i * k_d + m * dsub + j] - c[m * dsub + j];
          double best = std::numeric_limits<double>::max();
          for (std::size_t k = 0; k < ksub; ++k)
            best = std::min(best, sq_l2(r, &cb->pq_codebooks()[(m * ksub + k) * dsub], dsub));
          const double got = sq_l2(r, &cb->pq_codebooks()[(m * ksub + sub[i * M + m]) * dsub], dsub);
          if (got > best + 1e-5 * (1 + best)) ++wrong;  // ties may go either way
        }
      }
      BOOST_TEST(wrong == 0u);
    }
  }
}

// The ADC estimate of every code of a probed list equals the distance (LanceDB semantics) between
// the query and the code's reconstruction: checks the per-list precomputed term and the biases.
BOOST_AUTO_TEST_CASE(adc_estimate_equals_distance_to_reconstruction) {
  const std::size_t n = 4200;
  const auto x = test::clustered_data(n, k_d, 16, 12);
  const auto q = test::clustered_data(5, k_d, 16, 13);
  for (metric m : {metric::l2, metric::cosine, metric::dot})
    for (unsigned nbits : {4u, 8u, 12u}) {
      BOOST_TEST_CONTEXT("metric=" << m << " num_bits=" << nbits) {
        const auto cb = trained(small_params(m, nbits), x);
        const std::size_t cs = cb->code_size(), nenc = 400;
        std::vector<float> prepared(nenc * k_d);
        BOOST_REQUIRE(cb->prepare_vectors(x.data(), nenc, prepared.data()));
        std::vector<std::uint32_t> lists(nenc);
        std::vector<std::uint8_t> codes(nenc * cs);
        cb->encode(prepared.data(), nenc, lists.data(), codes.data());
        std::vector<inverted_list> ivf(cb->num_partitions(), inverted_list(cs));
        for (std::size_t i = 0; i < nenc; ++i) ivf[lists[i]].append(i, &codes[i * cs]);
        std::vector<float> lut(cb->num_sub_vectors() * cb->ksub()), rec(k_d), out(nenc);
        for (std::size_t qi = 0; qi < 5; ++qi) {
          auto plan = cb->plan_query(&q[qi * k_d], 1000);
          BOOST_REQUIRE(plan);
          BOOST_TEST(plan->lists.size() == cb->num_partitions());  // nprobes > nlist probes all
          double max_err = 0;
          for (std::size_t p = 0; p < plan->lists.size(); ++p) {
            const auto& list = ivf[plan->lists[p]];
            const float bias = cb->list_table(*plan, p, lut.data());
            cb->kernels().adc_scan(list.codes(), list.size(), cb->num_sub_vectors(), nbits, lut.data(), bias, out.data());
            for (std::size_t s = 0; s < list.size(); ++s) {
              cb->decode(plan->lists[p], list.codes() + s * cs, rec.data());
              double want = 0;
              if (m == metric::l2) want = sq_l2(plan->query.data(), rec.data(), k_d);
              if (m == metric::cosine) want = sq_l2(plan->query.data(), rec.data(), k_d) / 2;
              if (m == metric::dot) {
                double ip = 0;
                for (std::size_t j = 0; j < k_d; ++j) ip += double(plan->query[j]) * rec[j];
                want = 1 - ip;
              }
              max_err = std::max(max_err, std::abs(out[s] - want) / (1 + std::abs(want)));
            }
          }
          BOOST_TEST(max_err < 1e-4);
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(probes_are_nearest_lists_first) {
  const auto x = test::clustered_data(5000, k_d, 16, 14);
  const auto q = test::clustered_data(20, k_d, 16, 15);
  for (metric m : {metric::l2, metric::cosine, metric::dot}) {
    const auto cb = trained(small_params(m, 8), x);
    for (std::size_t qi = 0; qi < 20; ++qi) {
      auto plan = cb->plan_query(&q[qi * k_d], 3);
      BOOST_REQUIRE(plan);
      BOOST_TEST(plan->lists.size() == 3u);
      // brute force over all centroids in the same semantics
      std::vector<std::pair<double, std::uint32_t>> all;
      for (std::uint32_t l = 0; l < cb->num_partitions(); ++l) {
        const float* c = &cb->centroids()[l * k_d];
        double key = 0;
        if (m == metric::dot) {
          for (std::size_t j = 0; j < k_d; ++j) key -= double(plan->query[j]) * c[j];
        } else {
          key = sq_l2(plan->query.data(), c, k_d);
        }
        all.emplace_back(key, l);
      }
      std::sort(all.begin(), all.end());
      for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(plan->lists[i] == all[i].second);
    }
  }
}

BOOST_AUTO_TEST_CASE(plan_query_equals_plan_queries_bit_for_bit) {
  const auto x = test::clustered_data(5000, k_d, 16, 16);
  const auto q = test::clustered_data(7, k_d, 16, 17);
  const auto cb = trained(small_params(metric::cosine, 8), x);
  auto batch = cb->plan_queries(q.data(), 7, 4);
  BOOST_REQUIRE(batch);
  for (std::size_t i = 0; i < 7; ++i) {
    auto one = cb->plan_query(&q[i * k_d], 4);
    BOOST_REQUIRE(one);
    BOOST_TEST(one->lists == (*batch)[i].lists, tt::per_element());
    BOOST_TEST(one->query == (*batch)[i].query, tt::per_element());
    BOOST_TEST(one->coarse == (*batch)[i].coarse, tt::per_element());
    BOOST_TEST(one->query_table == (*batch)[i].query_table, tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(cosine_normalises_vectors_and_queries) {
  const auto x = test::clustered_data(5000, k_d, 16, 18);
  const auto cb = trained(small_params(metric::cosine, 8), x);
  std::vector<float> v(k_d, 0.0f), out(k_d);
  v[0] = 3;
  v[1] = 4;
  BOOST_REQUIRE(cb->prepare_vectors(v.data(), 1, out.data()));
  BOOST_TEST(out[0] == 0.6f, tt::tolerance(1e-6f));
  BOOST_TEST(out[1] == 0.8f, tt::tolerance(1e-6f));
  for (std::size_t l = 0; l < cb->num_partitions(); ++l) {  // centroids trained on unit vectors
    double norm = 0;
    for (std::size_t j = 0; j < k_d; ++j) norm += double(cb->centroids()[l * k_d + j]) * cb->centroids()[l * k_d + j];
    BOOST_TEST(norm <= 1.0 + 1e-4);
  }
  auto plan = cb->plan_query(v.data(), 1);
  BOOST_REQUIRE(plan);
  BOOST_TEST(plan->query[0] == 0.6f, tt::tolerance(1e-6f));
  // exact distance is 1 − cos
  std::vector<float> w(k_d, 0.0f), pw(k_d);
  w[0] = 1;
  BOOST_REQUIRE(cb->prepare_vectors(w.data(), 1, pw.data()));
  BOOST_TEST(cb->exact_distance(plan->query.data(), pw.data()) == 0.4f, tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(training_is_reproducible_for_a_seed) {
  const auto x = test::clustered_data(5000, k_d, 16, 19);
  const auto p = small_params(metric::l2, 6);
  const auto a = trained(p, x), b = trained(p, x);
  BOOST_TEST(a->centroids() == b->centroids(), tt::per_element());
  BOOST_TEST(a->pq_codebooks() == b->pq_codebooks(), tt::per_element());
  auto p2 = p;
  p2.seed = 7;
  const auto c = trained(p2, x);
  BOOST_TEST(c->centroids() != a->centroids());
}

BOOST_AUTO_TEST_CASE(from_parts_checks_sizes_and_values) {
  const auto p = small_params(metric::l2, 4);
  auto bad = codebook_set::from_parts(p, 1, std::vector<float>(3), std::vector<float>(p.ksub() * k_d));
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().code() == errc::corrupt_data);
  BOOST_TEST(bad.error().message().find("centroids hold 3 floats") != std::string::npos);
  std::vector<float> c(p.num_partitions * k_d, 0.0f);
  c[5] = std::numeric_limits<float>::quiet_NaN();
  auto nan = codebook_set::from_parts(p, 1, c, std::vector<float>(p.ksub() * k_d));
  BOOST_REQUIRE(!nan);
  BOOST_TEST(nan.error().message().find("not finite") != std::string::npos);
  auto ok = codebook_set::from_parts(p, 9, std::vector<float>(p.num_partitions * k_d), std::vector<float>(p.ksub() * k_d));
  BOOST_REQUIRE(ok);
  BOOST_TEST((*ok)->version() == 9u);
}

// Found by tests/fuzz (checkpoint_manifest): num_partitions × dimension wrapped to 0, so empty
// centroids passed the size check and building the tables threw std::length_error.
BOOST_AUTO_TEST_CASE(from_parts_refuses_sizes_that_overflow) {
  auto p = small_params(metric::l2, 4);
  p.num_partitions = (std::size_t{1} << 62) + 1;
  p.dimension = 4;
  p.num_sub_vectors = 2;
  auto r = codebook_set::from_parts(p, 1, {}, std::vector<float>(p.ksub() * 4));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().code() == errc::corrupt_data);
  BOOST_TEST(r.error().message() == "codebooks: num_partitions=4611686018427387905, dimension=4, num_bits=" +
                                        std::to_string(p.num_bits) + ": the codebook sizes overflow 64 bits");
  p.num_partitions = 1;
  p.dimension = std::size_t{1} << 60;
  p.num_sub_vectors = 1;
  r = codebook_set::from_parts(p, 1, {}, {});
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("overflow 64 bits") != std::string::npos);
}
