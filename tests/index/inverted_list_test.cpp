#define BOOST_TEST_MODULE inverted_list
#include <boost/test/unit_test.hpp>

#include <map>
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
    BOOST_TEST(list.ids()[s] == s + 100u);
    const auto want = code_of(s + 100, 5);
    BOOST_TEST(std::vector<std::uint8_t>(list.code(s), list.code(s) + 5) == want, boost::test_tools::per_element());
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
    BOOST_TEST(list.ids()[slot] == id);
    const auto want = code_of(id, 3);
    BOOST_TEST(std::vector<std::uint8_t>(list.code(slot), list.code(slot) + 3) == want,
               boost::test_tools::per_element());
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
