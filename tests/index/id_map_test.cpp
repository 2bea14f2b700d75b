#define BOOST_TEST_MODULE id_map
#include <boost/test/unit_test.hpp>

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
