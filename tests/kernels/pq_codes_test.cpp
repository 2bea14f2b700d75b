#define BOOST_TEST_MODULE pq_codes
#include <boost/test/unit_test.hpp>

#include <random>
#include <vector>

#include "kernels/internal/isa_kernels.hpp"
#include "kernels/pq_codes.hpp"

namespace k = ivfstream::kernels;

BOOST_AUTO_TEST_CASE(code_size_rounds_up_to_bytes) {
  BOOST_TEST(k::code_size(16, 8) == 16u);
  BOOST_TEST(k::code_size(3, 4) == 2u);
  BOOST_TEST(k::code_size(5, 6) == 4u);
  BOOST_TEST(k::code_size(7, 12) == 11u);
  BOOST_TEST(k::code_size(1, 1) == 1u);
  BOOST_TEST(k::code_size(0, 8) == 0u);
}

BOOST_AUTO_TEST_CASE(pack_unpack_round_trips_for_every_nbits) {
  std::mt19937 gen(3);
  for (unsigned nbits = 1; nbits <= 16; ++nbits)
    for (std::size_t M : {1, 2, 3, 7, 8, 15, 16, 17, 33}) {
      const std::size_t n = 37;
      std::vector<std::uint16_t> codes(n * M);
      for (auto& c : codes) c = static_cast<std::uint16_t>(gen() & ((1u << nbits) - 1));
      std::vector<std::uint8_t> packed(n * k::code_size(M, nbits), 0xAB);
      k::pack_codes(codes.data(), n, M, nbits, packed.data());
      std::vector<std::uint16_t> back(n * M);
      k::unpack_codes(packed.data(), n, M, nbits, back.data());
      BOOST_TEST_CONTEXT("nbits=" << nbits << " M=" << M) {
        BOOST_TEST(back == codes, boost::test_tools::per_element());
        // unused high bits of each row are zero
        const std::size_t cs = k::code_size(M, nbits), used = M * nbits;
        if (used % 8 != 0)
          for (std::size_t i = 0; i < n; ++i) BOOST_TEST((packed[i * cs + cs - 1] >> (used % 8)) == 0);
      }
    }
}

BOOST_AUTO_TEST_CASE(layout_is_little_endian_bit_order) {
  // M = 3, nbits = 4: sub-codes 0x1, 0x2, 0x3 -> byte 0 = 0x21, byte 1 = 0x03
  const std::uint16_t sub[3] = {0x1, 0x2, 0x3};
  std::uint8_t out[2];
  k::pack_codes(sub, 1, 3, 4, out);
  BOOST_TEST(out[0] == 0x21);
  BOOST_TEST(out[1] == 0x03);
  // M = 2, nbits = 12: 0xABC, 0x123 -> bits: BC, 3A, 12
  const std::uint16_t sub12[2] = {0xABC, 0x123};
  std::uint8_t out12[3];
  k::pack_codes(sub12, 1, 2, 12, out12);
  BOOST_TEST(out12[0] == 0xBC);
  BOOST_TEST(out12[1] == 0x3A);
  BOOST_TEST(out12[2] == 0x12);
}

BOOST_AUTO_TEST_CASE(packing_agrees_with_scalar_adc_unpacking) {
  std::mt19937 gen(11);
  for (unsigned nbits : {4u, 6u, 8u, 10u, 12u})
    for (std::size_t M : {1, 3, 7, 16, 17}) {
      const std::size_t n = 19, ksub = std::size_t{1} << nbits;
      std::vector<std::uint16_t> codes(n * M);
      for (auto& c : codes) c = static_cast<std::uint16_t>(gen() % ksub);
      std::vector<float> lut(M * ksub);
      for (auto& v : lut) v = static_cast<float>(gen() % 64);
      std::vector<std::uint8_t> packed(n * k::code_size(M, nbits));
      k::pack_codes(codes.data(), n, M, nbits, packed.data());
      std::vector<float> out(n);
      k::scalar::adc_scan(packed.data(), n, M, nbits, lut.data(), 1.f, out.data());
      for (std::size_t i = 0; i < n; ++i) {
        float expected = 1.f;
        for (std::size_t m = 0; m < M; ++m) expected += lut[m * ksub + codes[i * M + m]];
        BOOST_TEST(out[i] == expected);
      }
    }
}
