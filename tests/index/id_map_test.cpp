#define BOOST_TEST_MODULE id_map
#include <boost/test/unit_test.hpp>

#include <random>
#include <unordered_map>

#include "index/id_map.hpp"

using namespace ivfstream;

BOOST_AUTO_TEST_CASE(upsert_returns_previous_location) {
  id_map m;
  BOOST_TEST(!m.upsert(7, {1, 2, 3}).has_value());
  const auto old = m.upsert(7, {4, 5, 6});
  BOOST_REQUIRE(old.has_value());
  BOOST_TEST(old->list == 1u);
  BOOST_TEST(old->slot == 2u);
  BOOST_TEST(old->row == 3u);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(m.find(7)->slot == 5u);
}

BOOST_AUTO_TEST_CASE(erase_removes_and_unknown_ids_are_ignored) {
  id_map m;
  m.upsert(~std::uint64_t{0}, {0, 0, k_no_row});  // the whole u64 range is valid
  BOOST_TEST(m.erase(~std::uint64_t{0}).has_value());
  BOOST_TEST(!m.erase(~std::uint64_t{0}).has_value());
  BOOST_TEST(!m.find(42).has_value());
  BOOST_TEST(m.size() == 0u);
}

BOOST_AUTO_TEST_CASE(relocate_changes_only_the_slot) {
  id_map m;
  m.upsert(9, {3, 100, 77});
  m.relocate(9, 3, 4);
  BOOST_TEST(m.find(9)->list == 3u);
  BOOST_TEST(m.find(9)->slot == 4u);
  BOOST_TEST(m.find(9)->row == 77u);
  BOOST_TEST(m.memory_bytes() > 0u);
}

// The open-addressing table against std::unordered_map under a random mix of upserts, erases (which
// shift cells back) and relocations, with sequential ids (one cluster of homes) and random 64-bit ids.
BOOST_AUTO_TEST_CASE(matches_a_reference_map_under_random_updates) {
  for (bool sequential : {true, false}) {
    BOOST_TEST_CONTEXT("sequential=" << sequential) {
      id_map m;
      std::unordered_map<std::uint64_t, entry_location> ref;
      std::mt19937_64 rng(sequential ? 1 : 2);
      std::vector<std::uint64_t> universe(5000);
      for (std::size_t i = 0; i < universe.size(); ++i) universe[i] = sequential ? 1000 + i : rng();
      std::size_t mismatches = 0;
      for (int step = 0; step < 60000; ++step) {
        const std::uint64_t id = universe[rng() % universe.size()];
        const auto op = rng() % 10;
        if (op < 6) {
          const entry_location loc{static_cast<std::uint32_t>(rng() % 1024), static_cast<std::uint32_t>(rng()), rng()};
          const auto old = m.upsert(id, loc);
          const auto it = ref.find(id);
          mismatches += old.has_value() != (it != ref.end());
          if (old && it != ref.end()) mismatches += old->slot != it->second.slot || old->row != it->second.row;
          ref[id] = loc;
        } else if (op < 9) {
          const auto old = m.erase(id);
          mismatches += old.has_value() != (ref.erase(id) == 1);
        } else if (const auto it = ref.find(id); it != ref.end()) {
          m.relocate(id, it->second.list, it->second.slot + 1);
          ++it->second.slot;
        }
      }
      BOOST_TEST(mismatches == 0u);
      BOOST_TEST(m.size() == ref.size());
      for (std::uint64_t id : universe) {
        const auto got = m.find(id);
        const auto it = ref.find(id);
        BOOST_REQUIRE(got.has_value() == (it != ref.end()));
        if (got) {
          BOOST_TEST(got->list == it->second.list);
          BOOST_TEST(got->slot == it->second.slot);
          BOOST_TEST(got->row == it->second.row);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(memory_is_24_bytes_per_cell_at_most_80_percent_full) {
  id_map m;
  for (std::uint64_t id = 0; id < 100000; ++id) m.upsert(id, {0, static_cast<std::uint32_t>(id), id});
  BOOST_TEST(m.capacity() * 4 >= m.size() * 5);                   // ≤ 80 % full
  BOOST_TEST(m.memory_bytes() == m.capacity() * 24);
  BOOST_TEST(double(m.memory_bytes()) / double(m.size()) <= 46.0);  // grown by 1.5×: ≥ 53 % full
  id_map r;
  r.reserve(100000);
  const std::size_t cap = r.capacity();
  for (std::uint64_t id = 0; id < 100000; ++id) r.upsert(id, {1, 0, k_no_row});
  BOOST_TEST(r.capacity() == cap);                                 // reserve(n): no growth up to n
  BOOST_TEST(double(r.memory_bytes()) / double(r.size()) <= 30.1);
  for (std::uint64_t id = 0; id < 100000; id += 2) r.erase(id);
  for (std::uint64_t id = 1; id < 100000; id += 2) BOOST_TEST_REQUIRE(r.find(id).has_value());
  BOOST_TEST(!r.find(0).has_value());
  r.clear();
  BOOST_TEST(r.size() == 0u);
  BOOST_TEST(!r.find(1).has_value());
}
