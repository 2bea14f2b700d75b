#define BOOST_TEST_MODULE multi_index_hash
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

#include "index/ivfpq_index.hpp"
#include "index/multi_index_hash.hpp"
#include "kernels/hamming.hpp"
#include "tests/index/synthetic_data.hpp"

// Multi-index hashing returns exactly the codes a linear scan finds within the radius, on random
// codes and on the polysemous PQ codes of an index, for radii below, at and above multiples of m.
using namespace ivfstream;

namespace {

std::vector<std::uint32_t> linear(const std::vector<std::uint8_t>& codes, std::size_t bytes, const std::uint8_t* q,
                                  unsigned r) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < codes.size() / bytes; ++i)
    if (kernels::hamming_distance(&codes[i * bytes], q, bytes) <= r) out.push_back(i);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(multi_index_hash_suite)

BOOST_AUTO_TEST_CASE(random_codes_match_a_linear_scan) {
  std::mt19937_64 rng(11);
  const std::size_t n = 5000, bytes = 8;  // 64 bits
  std::vector<std::uint8_t> codes(n * bytes);
  for (auto& c : codes) c = static_cast<std::uint8_t>(rng());
  // near-duplicates so small radii find something: flip a few bits of earlier codes
  for (std::size_t i = 1000; i < n; i += 2)
    for (std::size_t b = 0; b < bytes; ++b) codes[i * bytes + b] = codes[(i - 1000) * bytes + b] ^ ((rng() & 7) == 0 ? 1u << (rng() % 8) : 0u);
  for (std::size_t m : {2u, 3u, 4u, 7u}) {
    auto h = multi_index_hash::build(codes.data(), n, bytes, m);
    BOOST_REQUIRE(h);
    for (std::size_t qi : {0u, 17u, 1500u, 4999u})
      for (unsigned r : {0u, 1u, 3u, 4u, 8u, 11u, 20u}) {
        if (m == 2 && r > 11) continue;  // ⌊20/2⌋ = 10 of 32 bits: more lookups than max_probes
        mih_stats st;
        auto got = h->search(&codes[qi * bytes], r, &st);
        BOOST_REQUIRE(got);
        BOOST_TEST(*got == linear(codes, bytes, &codes[qi * bytes], r), "m=" << m << " q=" << qi << " r=" << r);
        BOOST_TEST(st.candidates <= n);
      }
  }
}

BOOST_AUTO_TEST_CASE(polysemous_index_codes_match_a_linear_scan) {
  index_params p;
  p.dimension = 32;
  p.num_partitions = 8;
  p.num_sub_vectors = 16;
  p.num_bits = 8;
  p.max_iterations = 8;
  p.polysemous = true;
  auto index = ivfpq_index::create(p);
  BOOST_REQUIRE(index);
  const std::size_t n = 4000;
  const auto x = test::clustered_data(n, 32, 32, 9);
  BOOST_REQUIRE(index->train(x.data(), n));
  const auto ids = test::iota_ids(n);
  BOOST_REQUIRE(index->add(ids.data(), x.data(), n));
  std::vector<std::uint8_t> codes;  // every list's codes, 16 bytes each
  for (const auto& l : index->lists()) codes.insert(codes.end(), l.codes(), l.codes() + l.size() * l.code_size());
  const std::size_t bytes = index->codebooks()->code_size();
  auto h = multi_index_hash::build(codes.data(), codes.size() / bytes, bytes, 8);  // 8 × 16 bits
  BOOST_REQUIRE(h);
  std::size_t found = 0, checked = 0;
  for (std::size_t qi = 0; qi < 30; ++qi)
    for (unsigned r : {16u, 32u, 48u}) {
      mih_stats st;
      auto got = h->search(&codes[qi * 97 * bytes], r, &st);
      BOOST_REQUIRE(got);
      BOOST_TEST(*got == linear(codes, bytes, &codes[qi * 97 * bytes], r), "q=" << qi << " r=" << r);
      found += got->size();
      checked += st.candidates;
    }
  BOOST_TEST_MESSAGE("within radius " << found << ", candidates checked " << checked << " of " << 90 * h->size());
  BOOST_TEST(found > 90u);  // each query finds itself, and at 48 bits some neighbours
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_clear_errors) {
  std::vector<std::uint8_t> codes(16 * 10, 0);
  auto h = multi_index_hash::build(codes.data(), 10, 16, 0);
  BOOST_REQUIRE(!h);
  BOOST_TEST(h.error().message().find("substrings=0") != std::string::npos);
  h = multi_index_hash::build(codes.data(), 10, 16, 3);  // 43-bit substrings
  BOOST_REQUIRE(!h);
  BOOST_TEST(h.error().message().find("must be >= 4") != std::string::npos);
  h = multi_index_hash::build(codes.data(), 10, 0, 1);
  BOOST_REQUIRE(!h);
  BOOST_TEST(h.error().message().find("bytes=0") != std::string::npos);
  h = multi_index_hash::build(codes.data(), 10, 16, 4);
  BOOST_REQUIRE(h);
  auto r = h->search(codes.data(), 129);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("radius=129") != std::string::npos);
  r = h->search(codes.data(), 40, nullptr, 1000);  // ⌊40/4⌋ = 10 bits in 32: too many lookups
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("max_probes=1000") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
