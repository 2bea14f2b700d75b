#define BOOST_TEST_MODULE vector_store
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "index/vector_store.hpp"

using namespace ivfstream;
namespace fs = std::filesystem;

namespace {
std::vector<float> rows(std::size_t n, std::size_t d, float base) {
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = base + static_cast<float>(i);
  return x;
}
fs::path fresh_dir(const char* name) {
  const fs::path p = fs::temp_directory_path() / (std::string("ivfstream-vs-test-") + name + "-" +
                                                  std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(append_spans_segments_and_reads_back) {
  const std::size_t d = 7;
  // 10 rows per segment: 3 appends of 4, 9, 15 rows cross segment ends.
  auto store = vector_store::create("", d, 10 * d * sizeof(float));
  BOOST_REQUIRE(store);
  auto& s = **store;
  BOOST_TEST(s.rows_per_segment() == 10u);
  std::vector<float> all;
  std::size_t first = 0;
  for (std::size_t n : {4u, 9u, 15u}) {
    const auto x = rows(n, d, 1000.0f * n);
    auto r = s.append(x.data(), n);
    BOOST_REQUIRE(r);
    BOOST_TEST(*r == first);
    first += n;
    all.insert(all.end(), x.begin(), x.end());
  }
  BOOST_TEST(s.size() == 28u);
  BOOST_TEST(s.num_segments() == 3u);
  for (std::size_t r = 0; r < 28; ++r)
    BOOST_TEST(std::vector<float>(s.row(r), s.row(r) + d) ==
                   std::vector<float>(all.begin() + r * d, all.begin() + (r + 1) * d),
               boost::test_tools::per_element());
  BOOST_TEST(s.used_bytes() == 28u * d * sizeof(float));
  BOOST_TEST(s.mapped_bytes() == 3u * (k_vector_segment_header_bytes + 10 * d * sizeof(float)));
}

BOOST_AUTO_TEST_CASE(segment_files_follow_the_documented_layout) {
  const fs::path dir = fresh_dir("layout");
  const std::size_t d = 3;
  {
    auto store = vector_store::create(dir.string(), d, 4 * d * sizeof(float));
    BOOST_REQUIRE(store);
    const auto x = rows(6, d, 0.5f);
    BOOST_REQUIRE((*store)->append(x.data(), 6));
    BOOST_TEST(fs::exists(dir / "vectors-000000.seg"));
    BOOST_TEST(fs::exists(dir / "vectors-000001.seg"));
    BOOST_TEST(fs::file_size(dir / "vectors-000001.seg") == k_vector_segment_header_bytes + 4 * d * sizeof(float));
  }
  // the files stay (storage_dir given) and hold header + rows
  std::ifstream in(dir / "vectors-000001.seg", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(std::string(bytes.data(), 8) == "IVFSVSEG");
  std::uint32_t version, dim;
  std::uint64_t cap, index;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&dim, bytes.data() + 12, 4);
  std::memcpy(&cap, bytes.data() + 16, 8);
  std::memcpy(&index, bytes.data() + 24, 8);
  BOOST_TEST(version == k_vector_segment_version);
  BOOST_TEST(dim == d);
  BOOST_TEST(cap == 4u);
  BOOST_TEST(index == 1u);
  float row4[3];
  std::memcpy(row4, bytes.data() + k_vector_segment_header_bytes, sizeof(row4));  // global row 4 = segment 1 row 0
  BOOST_TEST(row4[0] == 0.5f + 12.0f);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(private_store_lives_in_memory_and_writes_no_files) {
  // Where a temporary directory would go: it must stay empty.
  const fs::path tmp = fresh_dir("private");
  fs::create_directories(tmp);
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", tmp.c_str(), 1);
  {
    const std::size_t d = 7;  // rows of 28 bytes: not a divisor of a page or a huge page
    auto store = vector_store::create("", d, 1000 * d * sizeof(float));
    BOOST_REQUIRE(store);
    auto& s = **store;
    BOOST_TEST(s.in_memory());
    BOOST_TEST(s.directory().empty());
    const auto x = rows(2500, d, 0.25f);  // 3 segments
    auto first = s.append(x.data(), 1300);
    BOOST_REQUIRE(first);
    BOOST_REQUIRE(s.append(x.data() + 1300 * d, 1200));
    BOOST_TEST(s.num_segments() == 3u);
    BOOST_TEST(s.mapped_bytes() == 3 * (k_vector_segment_header_bytes + 1000 * d * sizeof(float)));
    for (std::size_t r = 0; r < 2500; ++r)
      BOOST_TEST(std::memcmp(s.row(r), x.data() + r * d, d * sizeof(float)) == 0, "row " << r);
    std::vector<std::uint64_t> keep;
    for (std::uint64_t r = 1; r < 2500; r += 2) keep.push_back(r);  // 1250 rows: 2 segments, a freed tail
    BOOST_REQUIRE(s.keep_rows(keep.data(), keep.size()));
    BOOST_TEST(s.num_segments() == 2u);
    for (std::size_t i = 0; i < keep.size(); ++i)
      BOOST_TEST(std::memcmp(s.row(i), x.data() + keep[i] * d, d * sizeof(float)) == 0, "kept row " << i);
    BOOST_REQUIRE(s.append(x.data(), 800));  // reuses the freed tail, then a new segment
    for (std::size_t i = 0; i < 800; ++i)
      BOOST_TEST(std::memcmp(s.row(keep.size() + i), x.data() + i * d, d * sizeof(float)) == 0, "new row " << i);
    BOOST_TEST(fs::is_empty(tmp));
  }
  if (old) ::setenv("TMPDIR", saved.c_str(), 1);
  else ::unsetenv("TMPDIR");
  BOOST_TEST(fs::is_empty(tmp));
  fs::remove_all(tmp);
}

BOOST_AUTO_TEST_CASE(directory_with_segments_is_refused) {
  const fs::path dir = fresh_dir("reuse");
  {
    auto a = vector_store::create(dir.string(), 2, 64);
    BOOST_REQUIRE(a);
    const auto x = rows(1, 2, 0.0f);
    BOOST_REQUIRE((*a)->append(x.data(), 1));
  }
  auto b = vector_store::create(dir.string(), 2, 64);
  BOOST_REQUIRE(!b);
  BOOST_TEST(b.error().code() == errc::invalid_argument);
  BOOST_TEST(b.error().message().find("already holds vector segments") != std::string::npos);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_errors) {
  auto a = vector_store::create("", 0);
  BOOST_REQUIRE(!a);
  BOOST_TEST(a.error().message().find("dimension=0") != std::string::npos);
  auto b = vector_store::create("", 16, 8);
  BOOST_REQUIRE(!b);
  BOOST_TEST(b.error().message().find("segment_bytes=8") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keep_rows_moves_live_rows_down_and_releases_segments) {
  const std::size_t d = 5;
  const fs::path dir = fresh_dir("gc");
  {
    auto store = vector_store::create(dir.string(), d, 10 * d * sizeof(float));  // 10 rows per segment
    BOOST_REQUIRE(store);
    auto& s = **store;
    const auto x = rows(45, d, 0.0f);  // 5 segments
    BOOST_REQUIRE(s.append(x.data(), 45));
    BOOST_TEST(s.num_segments() == 5u);
    const std::vector<std::uint64_t> keep = {0, 3, 4, 17, 29, 30, 44};
    BOOST_REQUIRE(s.keep_rows(keep.data(), keep.size()));
    BOOST_TEST(s.size() == keep.size());
    BOOST_TEST(s.num_segments() == 1u);
    BOOST_TEST(s.used_bytes() == keep.size() * d * sizeof(float));
    for (std::size_t i = 0; i < keep.size(); ++i)
      BOOST_TEST(std::memcmp(s.row(i), x.data() + keep[i] * d, d * sizeof(float)) == 0, "row " << i);
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
    BOOST_TEST(files == 1u);  // the four segment files past the live rows are gone
    // appends continue after the kept rows, reusing the freed space
    const auto y = rows(12, d, 5000.0f);
    auto first = s.append(y.data(), 12);
    BOOST_REQUIRE(first);
    BOOST_TEST(*first == keep.size());
    BOOST_TEST(s.num_segments() == 2u);
    for (std::size_t i = 0; i < 12; ++i)
      BOOST_TEST(std::memcmp(s.row(keep.size() + i), y.data() + i * d, d * sizeof(float)) == 0);
    for (std::size_t i = 0; i < keep.size(); ++i)
      BOOST_TEST(std::memcmp(s.row(i), x.data() + keep[i] * d, d * sizeof(float)) == 0);
    // keeping nothing drops every segment
    BOOST_REQUIRE(s.keep_rows(nullptr, 0));
    BOOST_TEST(s.size() == 0u);
    BOOST_TEST(s.num_segments() == 0u);
    BOOST_REQUIRE(s.append(y.data(), 1));
    BOOST_TEST(std::memcmp(s.row(0), y.data(), d * sizeof(float)) == 0);
  }
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(keep_rows_refuses_bad_row_lists_without_moving_anything) {
  const std::size_t d = 3;
  auto store = vector_store::create("", d, 4 * d * sizeof(float));
  BOOST_REQUIRE(store);
  auto& s = **store;
  const auto x = rows(9, d, 0.0f);
  BOOST_REQUIRE(s.append(x.data(), 9));
  const std::vector<std::uint64_t> unordered = {1, 5, 5};
  auto st = s.keep_rows(unordered.data(), unordered.size());
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code() == errc::invalid_argument);
  BOOST_TEST(st.error().message().find("strictly ascending") != std::string::npos);
  const std::vector<std::uint64_t> past_end = {2, 9};
  st = s.keep_rows(past_end.data(), past_end.size());
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().message().find("row 9 (entry 1): must be < size()=9") != std::string::npos);
  BOOST_TEST(s.size() == 9u);
  for (std::size_t i = 0; i < 9; ++i) BOOST_TEST(std::memcmp(s.row(i), x.data() + i * d, d * sizeof(float)) == 0);
}
