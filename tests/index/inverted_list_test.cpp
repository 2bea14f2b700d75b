#define BOOST_TEST_MODULE inverted_list
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <vector>

#include "index/inverted_list.hpp"

using ivfstream::inverted_list;

namespace {
std::vector<std::uint8_t> code_of(std::uint64_t id, std::size_t cs) {
  std::vector<std::uint8_t> c(cs);
  for (std::size_t j = 0; j < cs; ++j) c[j] = static_cast<std::uint8_t>(id * 31 + j);
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(append_returns_consecutive_slots_and_keeps_codes) {
  inverted_list list(5);
  for (std::uint64_t id = 100; id < 300; ++id) BOOST_TEST(list.append(id, code_of(id, 5).data()) == id - 100);
  BOOST_TEST(list.size() == 200u);
  BOOST_TEST(list.live() == 200u);
  BOOST_TEST(list.all_live());
  for (std::uint32_t s = 0; s < 200; ++s) {
    BOOST_TEST(list.id(s) == s + 100u);
    const auto want = code_of(s + 100, 5);
    std::vector<std::uint8_t> got(5);
    list.read_code(s, got.data());
    BOOST_TEST(got == want, boost::test_tools::per_element());
    BOOST_TEST(list.is_live(s));
  }
}

BOOST_AUTO_TEST_CASE(tombstone_is_idempotent_and_counts_live) {
  inverted_list list(2);
  for (std::uint64_t id = 0; id < 70; ++id) list.append(id, code_of(id, 2).data());
  list.tombstone(3);
  list.tombstone(3);
  list.tombstone(65);
  BOOST_TEST(list.live() == 68u);
  BOOST_TEST(list.tombstones() == 2u);
  BOOST_TEST(!list.is_live(3));
  BOOST_TEST(!list.is_live(65));
  BOOST_TEST(list.is_live(64));
  BOOST_TEST(!list.all_live());
}

BOOST_AUTO_TEST_CASE(compact_drops_tombstones_keeps_order_and_reports_moves) {
  inverted_list list(3);
  for (std::uint64_t id = 0; id < 130; ++id) list.append(id, code_of(id, 3).data());
  for (std::uint32_t s = 0; s < 130; s += 3) list.tombstone(s);  // ids 0, 3, 6, ...
  std::map<std::uint64_t, std::uint32_t> moved;
  list.compact([&](std::uint64_t id, std::uint32_t slot) { moved[id] = slot; });
  BOOST_TEST(list.size() == list.live());
  BOOST_TEST(list.all_live());
  std::uint32_t slot = 0;
  for (std::uint64_t id = 0; id < 130; ++id) {
    if (id % 3 == 0) continue;
    BOOST_TEST(list.id(slot) == id);
    const auto want = code_of(id, 3);
    std::vector<std::uint8_t> got(3);
    list.read_code(slot, got.data());
    BOOST_TEST(got == want, boost::test_tools::per_element());
    if (id != slot) BOOST_TEST(moved.at(id) == slot);  // every moved entry reported at its new slot
    ++slot;
  }
  BOOST_TEST(moved.size() == 86u);  // id 1 was at slot 1 → slot 0, ... every survivor moved
  // appending after compaction continues at the new end, all live
  BOOST_TEST(list.append(999, code_of(999, 3).data()) == slot);
  BOOST_TEST(list.is_live(slot));
  BOOST_TEST(list.live() == list.size());
}

BOOST_AUTO_TEST_CASE(compact_of_all_deleted_list_leaves_it_empty) {
  inverted_list list(1);
  for (std::uint64_t id = 0; id < 10; ++id) list.append(id, code_of(id, 1).data());
  for (std::uint32_t s = 0; s < 10; ++s) list.tombstone(s);
  int calls = 0;
  list.compact([&](std::uint64_t, std::uint32_t) { ++calls; });
  BOOST_TEST(list.size() == 0u);
  BOOST_TEST(calls == 0);
  BOOST_TEST(list.append(5, code_of(5, 1).data()) == 0u);
}

// 4-bit lists (fast_scan_m = M) keep only the 32-slot block layout; ids (and rows) are delta columns.
BOOST_AUTO_TEST_CASE(fast_scan_list_keeps_only_blocks_and_decodes_every_slot_after_compaction) {
  const std::size_t M = 16, cs = 8;
  inverted_list list(cs, M, /*keep_rows=*/true);
  std::mt19937_64 rng(11);
  std::vector<std::vector<std::uint8_t>> codes;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    std::vector<std::uint8_t> c(cs);
    for (auto& b : c) b = static_cast<std::uint8_t>(rng());
    codes.push_back(c);
    BOOST_TEST(list.append(5000 + 3 * i, c.data(), 70000 + 1024 * i) == i);
  }
  BOOST_TEST(list.codes() == nullptr);
  // Measured bytes per entry: 8 (blocks) + 4.25 (ids) + tombstone bits; rows 4.25 more.
  BOOST_TEST(list.used_code_bytes() == 32u * 256u);  // 32 blocks of 32 slots × 16 sub-quantizers / 2
  BOOST_TEST(list.used_id_bytes() == 1000u * 4u + 32u * 8u + 8u);
  BOOST_TEST(list.used_row_bytes() == list.used_id_bytes());
  for (std::uint32_t s = 0; s < 1000; s += 7) list.tombstone(s);
  std::map<std::uint64_t, std::uint32_t> moved;
  list.compact([&](std::uint64_t id, std::uint32_t slot) { moved[id] = slot; });
  std::uint32_t slot = 0;
  std::vector<std::uint8_t> got(cs);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    if (i % 7 == 0) continue;
    BOOST_TEST(list.id(slot) == 5000 + 3 * i);
    BOOST_TEST(list.row(slot) == 70000 + 1024 * i);
    list.read_code(slot, got.data());
    BOOST_TEST(got == codes[i], boost::test_tools::per_element());
    if (slot != i) BOOST_TEST(moved.at(5000 + 3 * i) == slot);
    ++slot;
  }
  BOOST_TEST(list.size() == slot);
  BOOST_TEST(list.used_code_bytes() == (slot + 31) / 32 * 256u);
}

BOOST_AUTO_TEST_CASE(ids_that_do_not_fit_a_narrow_block_are_kept_exactly) {
  // Decreasing ids (re-base), ids spanning ≥ 2³² in one block (wide block), random 64-bit ids, and
  // set_row moving a row far away: every value reads back exactly.
  inverted_list list(2, 0, /*keep_rows=*/true);
  std::mt19937_64 rng(5);
  std::vector<std::uint64_t> ids, rows;
  for (std::uint64_t i = 0; i < 40; ++i) ids.push_back(1'000'000 - i);            // block 0: decreasing
  for (std::uint64_t i = 0; i < 40; ++i) ids.push_back(i % 2 ? i : i << 40);     // blocks 1-2: huge spans
  for (std::uint64_t i = 0; i < 100; ++i) ids.push_back(rng());                  // random u64
  ids.push_back(~std::uint64_t{0});
  ids.push_back(0);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    rows.push_back(i * 5);
    list.append(ids[i], code_of(ids[i], 2).data(), rows[i]);
  }
  for (std::size_t i = 0; i < ids.size(); i += 9) {
    rows[i] = (std::uint64_t{1} << 50) + i;
    list.set_row(static_cast<std::uint32_t>(i), rows[i]);
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    BOOST_TEST(list.id(static_cast<std::uint32_t>(i)) == ids[i]);
    BOOST_TEST(list.row(static_cast<std::uint32_t>(i)) == rows[i]);
  }
  std::vector<std::uint64_t> back(ids.size());
  list.read_ids(0, ids.size(), back.data());
  BOOST_TEST(back == ids, boost::test_tools::per_element());
  // Block 0 stayed narrow (4 B per id + 8 B base); the random blocks are wide (8 B per id).
  BOOST_TEST(list.used_id_bytes() > ids.size() * 4u);
  BOOST_TEST(list.used_id_bytes() < ids.size() * 9u);
}
