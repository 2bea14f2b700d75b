#define BOOST_TEST_MODULE fast_scan
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/fast_scan.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/pq_codes.hpp"

namespace k = ivfstream::kernels;

namespace {
const std::size_t k_sizes[] = {1, 3, 7, 15, 16, 17, 31, 33, 255, 257};

std::vector<const k::kernel_table*> levels_under_test() {
  std::vector<const k::kernel_table*> out;
  for (auto level : {k::simd_level::scalar, k::simd_level::avx2, k::simd_level::avx512, k::simd_level::neon})
    if (k::simd_level_supported(level)) out.push_back(&k::kernels_for(level));
  return out;
}

std::vector<std::uint8_t> random_codes(std::size_t n, std::size_t M, std::mt19937& gen) {
  std::vector<std::uint16_t> sub(n * M);
  for (auto& c : sub) c = static_cast<std::uint16_t>(gen() % 16);
  std::vector<std::uint8_t> codes(n * k::code_size(M, 4));
  k::pack_codes(sub.data(), n, M, 4, codes.data());
  return codes;
}
}  // namespace

BOOST_AUTO_TEST_CASE(write_read_round_trips_every_slot) {
  std::mt19937 gen(1);
  for (std::size_t M : {1, 2, 3, 4, 5, 8, 16, 17, 32}) {
    const std::size_t n = 70, cs = k::code_size(M, 4);
    const auto codes = random_codes(n, M, gen);
    std::vector<std::uint8_t> blocks(k::fast_scan_bytes(n, M), 0);
    // append in a scrambled order: writes of one slot never disturb another
    for (std::size_t t = 0; t < n; ++t) {
      const std::size_t i = (t * 37) % n;
      k::fast_scan_write(blocks.data(), M, i, codes.data() + i * cs);
    }
    std::vector<std::uint8_t> back(cs);
    for (std::size_t i = 0; i < n; ++i) {
      k::fast_scan_read(blocks.data(), M, i, back.data());
      BOOST_TEST_CONTEXT("M=" << M << " slot=" << i) {
        BOOST_TEST(back == std::vector<std::uint8_t>(codes.begin() + i * cs, codes.begin() + (i + 1) * cs),
                   boost::test_tools::per_element());
      }
    }
    std::vector<std::uint8_t> packed(k::fast_scan_bytes(n, M));
    k::fast_scan_pack(codes.data(), n, M, packed.data());
    BOOST_TEST(packed == blocks, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(block_layout_matches_documentation) {
  // M = 2, slot 0 codes (3, 5), slot 17 codes (9, 12)
  const std::size_t M = 2;
  std::vector<std::uint8_t> blocks(k::fast_scan_block_bytes(M), 0);
  const std::uint8_t c0 = 0x53, c17 = 0xC9;
  k::fast_scan_write(blocks.data(), M, 0, &c0);
  k::fast_scan_write(blocks.data(), M, 17, &c17);
  BOOST_TEST(blocks.size() == 64u);  // padded to 4 sub-quantizers
  BOOST_TEST(blocks[0] == 0x03);        // m = 0, byte 0: slot 0 low nibble
  BOOST_TEST(blocks[16] == 0x05);       // m = 1, byte 0
  BOOST_TEST(blocks[1] == 0x90);        // m = 0, byte 1: slot 17 high nibble
  BOOST_TEST(blocks[16 + 1] == 0xC0);
}

BOOST_AUTO_TEST_CASE(every_level_equals_scalar_sums_on_same_tables) {
  std::mt19937 gen(2);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t M : {1, 2, 3, 4, 7, 8, 16, 17, 32, 64})
    for (std::size_t n : k_sizes) {
      const auto codes = random_codes(n, M, gen);
      std::vector<std::uint8_t> blocks(k::fast_scan_bytes(n, M));
      k::fast_scan_pack(codes.data(), n, M, blocks.data());
      std::vector<std::uint8_t> lut(k::fast_scan_lut_bytes(M), 0);
      for (std::size_t i = 0; i < M * 16; ++i) lut[i] = static_cast<std::uint8_t>(gen() % 256);
      std::vector<std::uint16_t> want(n);
      ref.fast_scan(blocks.data(), n, M, lut.data(), want.data());
      // reference sums from the packed codes directly
      for (std::size_t i = 0; i < n; ++i) {
        unsigned s = 0;
        for (std::size_t m = 0; m < M; ++m)
          s += lut[16 * m + k::read_sub_code(codes.data() + i * k::code_size(M, 4), k::code_size(M, 4), m, 4)];
        BOOST_TEST(want[i] == s);
      }
      std::vector<std::uint32_t> want_slots;
      std::vector<std::uint16_t> want_sums;
      const std::uint16_t bound = static_cast<std::uint16_t>(M * 120);
      for (std::size_t i = 0; i < n; ++i)
        if (want[i] <= bound) {
          want_slots.push_back(static_cast<std::uint32_t>(i));
          want_sums.push_back(want[i]);
        }
      for (auto* t : levels_under_test()) {
        BOOST_TEST_CONTEXT(k::to_string(t->level) << " M=" << M << " n=" << n) {
          std::vector<std::uint16_t> got(n + 1, 0xBEEF);
          t->fast_scan(blocks.data(), n, M, lut.data(), got.data());
          BOOST_TEST(got[n] == 0xBEEF);  // nothing written past n
          got.pop_back();
          BOOST_TEST(got == want, boost::test_tools::per_element());
          std::vector<std::uint32_t> slots(n);
          std::vector<std::uint16_t> sums(n);
          const std::size_t count = t->fast_scan_filter(blocks.data(), n, M, lut.data(), bound, slots.data(), sums.data());
          slots.resize(count);
          sums.resize(count);
          BOOST_TEST(slots == want_slots, boost::test_tools::per_element());
          BOOST_TEST(sums == want_sums, boost::test_tools::per_element());
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(quantisation_error_is_within_bound_across_lists) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(0.f, 50.f);
  for (std::size_t M : {4, 8, 16, 32, 300}) {
    const std::size_t lists = 3, n = 100;
    std::vector<float> luts(lists * M * 16), biases(lists);
    for (auto& v : luts) v = u(gen);
    for (auto& b : biases) b = u(gen) * 10.f;
    std::vector<std::uint8_t> qlut(lists * k::fast_scan_lut_bytes(M));
    std::vector<float> list_bias(lists);
    const float scale = k::quantize_lut(luts.data(), biases.data(), lists, M, qlut.data(), list_bias.data());
    BOOST_TEST(scale > 0.f);
    const auto codes = random_codes(n, M, gen);
    std::vector<std::uint8_t> blocks(k::fast_scan_bytes(n, M));
    k::fast_scan_pack(codes.data(), n, M, blocks.data());
    const std::size_t cs = k::code_size(M, 4);
    for (std::size_t l = 0; l < lists; ++l) {
      std::vector<std::uint16_t> sums(n);
      k::default_kernels().fast_scan(blocks.data(), n, M, qlut.data() + l * k::fast_scan_lut_bytes(M), sums.data());
      for (std::size_t i = 0; i < n; ++i) {
        double exact = biases[l];
        for (std::size_t m = 0; m < M; ++m)
          exact += luts[(l * M + m) * 16 + k::read_sub_code(codes.data() + i * cs, cs, m, 4)];
        const float approx = k::fast_scan_distance(sums[i], list_bias[l], scale);
        BOOST_TEST(std::abs(approx - exact) <= M / (2.0 * scale) * 1.001 + 1e-4 * std::abs(exact));
        // the u16 bound at the exact distance admits the vector
        const auto bound = k::fast_scan_u16_bound(static_cast<float>(exact), list_bias[l], scale, M);
        BOOST_TEST_REQUIRE(bound.has_value());
        BOOST_TEST(sums[i] <= *bound);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(quantize_lut_is_identical_at_every_level) {
  std::mt19937 gen(4);
  std::uniform_real_distribution<float> u(-20.f, 80.f);
  const auto& ref = k::kernels_for(k::simd_level::scalar);
  for (std::size_t M : {1, 3, 4, 16, 17, 300}) {
    const std::size_t lists = 5;
    std::vector<float> luts(lists * M * 16), biases(lists);
    for (auto& v : luts) v = u(gen);
    for (auto& b : biases) b = u(gen);
    std::vector<std::uint8_t> want(lists * k::fast_scan_lut_bytes(M), 0xAA);
    std::vector<float> want_bias(lists);
    const float want_scale = ref.quantize_lut(luts.data(), biases.data(), lists, M, want.data(), want_bias.data());
    for (auto* t : levels_under_test()) {
      std::vector<std::uint8_t> got(want.size(), 0x55);
      std::vector<float> got_bias(lists);
      const float scale = t->quantize_lut(luts.data(), biases.data(), lists, M, got.data(), got_bias.data());
      BOOST_TEST_CONTEXT(k::to_string(t->level) << " M=" << M) {
        BOOST_TEST(scale == want_scale);
        BOOST_TEST(got == want, boost::test_tools::per_element());
        BOOST_TEST(got_bias == want_bias, boost::test_tools::per_element());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(u16_bound_edges) {
  BOOST_TEST(!k::fast_scan_u16_bound(-100.f, 0.f, 1.f, 4).has_value());
  BOOST_TEST(*k::fast_scan_u16_bound(std::numeric_limits<float>::infinity(), 0.f, 1.f, 4) == 65535);
  BOOST_TEST(*k::fast_scan_u16_bound(10.f, 0.f, 2.f, 4) == 23);  // floor(20 + 2 + 1)
  BOOST_TEST(!k::fast_scan_u16_bound(std::nanf(""), 0.f, 1.f, 4).has_value());
}

BOOST_AUTO_TEST_CASE(fast_scan_adc_gives_each_slot_the_adc_scan_distance_of_its_code_bit_for_bit) {
  // Float tables (not integer-valued): the claim is the same bits as the level's adc_scan, whose vector
  // body scores a code that has more rows after it in the call (here 9 rows of code 0).
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-3.f, 17.f);
  for (std::size_t M : {1, 2, 3, 4, 7, 8, 9, 16, 17, 32, 56, 64, 130}) {
    const std::size_t n = 70, cs = k::code_size(M, 4);  // three blocks, the last one partly used
    const auto codes = random_codes(n, M, gen);
    std::vector<std::uint8_t> blocks(k::fast_scan_bytes(n, M));  // exact size: a read past it shows under ASan
    k::fast_scan_pack(codes.data(), n, M, blocks.data());
    std::vector<float> lut(M * 16);
    for (auto& v : lut) v = u(gen);
    const float bias = u(gen);
    // every slot once, scrambled, ending on the last slot (its last row is the blocks' last bytes)
    std::vector<std::uint32_t> slots;
    for (std::size_t t = 1; t <= n; ++t) slots.push_back(static_cast<std::uint32_t>((t * 31) % n));
    slots.push_back(static_cast<std::uint32_t>(n - 1));
    for (auto* t : levels_under_test()) {
      BOOST_TEST_CONTEXT(k::to_string(t->level) << " M=" << M) {
        std::vector<float> got(slots.size() + 1, -1.f);
        t->fast_scan_adc(blocks.data(), M, slots.data(), slots.size(), lut.data(), bias, got.data());
        BOOST_TEST(got.back() == -1.f);  // nothing written past n
        for (std::size_t i = 0; i < slots.size(); ++i) {
          std::vector<std::uint8_t> rows(10 * cs, 0);
          std::copy_n(codes.begin() + slots[i] * cs, cs, rows.begin());
          float want[10];
          t->adc_scan(rows.data(), 10, M, 4, lut.data(), bias, want);
          BOOST_TEST_CONTEXT("slot=" << slots[i]) { BOOST_TEST(got[i] == want[0]); }
        }
      }
    }
  }
}
