// file_readers: exact round trips of fvecs/ivecs/bvecs/npy written byte by byte here, and a clear error
// (never a crash, never partial data) for truncated, foreign and unsupported files.
#define BOOST_TEST_MODULE file_readers
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "connectors/file_readers.hpp"

namespace fs = std::filesystem;
using namespace ivfstream;
using namespace ivfstream::connectors;

namespace {

/// A private temporary directory removed at the end of each test case.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() /
           ("ivfstream_file_readers_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
void append_pod(std::vector<unsigned char>& out, const T& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

/// *vecs bytes: per row int32 dim then the row's values.
template <class T>
std::vector<unsigned char> vecs_bytes(const std::vector<std::vector<T>>& rows) {
  std::vector<unsigned char> out;
  for (const auto& r : rows) {
    append_pod(out, static_cast<std::int32_t>(r.size()));
    for (const T& v : r) append_pod(out, v);
  }
  return out;
}

/// .npy version 1.0 bytes with the given descr and shape text, header padded to 64 bytes as NumPy does.
std::vector<unsigned char> npy_bytes(const std::string& descr, const std::string& shape, bool fortran,
                                     const std::vector<unsigned char>& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::vector<unsigned char> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  append_pod(out, static_cast<std::uint16_t>(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <class T>
std::vector<unsigned char> raw(const std::vector<T>& values) {
  std::vector<unsigned char> out;
  for (const T& v : values) append_pod(out, v);
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(fvecs_round_trip_is_exact) {
  temp_dir dir;
  const std::vector<std::vector<float>> rows = {{1.5f, -2.0f, 3.25f}, {0.0f, 1e-30f, -7.0f}, {4.f, 5.f, 6.f}};
  write_bytes(dir.file("a.fvecs"), vecs_bytes(rows));
  auto m = read_fvecs(dir.file("a.fvecs"));
  BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.error().to_string()));
  BOOST_TEST(m->rows == 3u);
  BOOST_TEST(m->dim == 3u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST(std::vector<float>(m->row(i), m->row(i) + 3) == rows[i], boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(max_rows_reads_a_prefix) {
  temp_dir dir;
  const std::vector<std::vector<float>> rows = {{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}};
  write_bytes(dir.file("a.fvecs"), vecs_bytes(rows));
  auto m = read_fvecs(dir.file("a.fvecs"), 2);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->rows == 2u);
  BOOST_TEST(m->values == (std::vector<float>{1.f, 2.f, 3.f, 4.f}), boost::test_tools::per_element());
  auto all = read_fvecs(dir.file("a.fvecs"), 10);
  BOOST_REQUIRE(all);
  BOOST_TEST(all->rows == 3u);
}

BOOST_AUTO_TEST_CASE(ivecs_and_bvecs_round_trip_is_exact) {
  temp_dir dir;
  const std::vector<std::vector<std::int32_t>> ids = {{7, -1, 2147483647, 0}, {1, 2, 3, 4}};
  write_bytes(dir.file("gt.ivecs"), vecs_bytes(ids));
  auto gt = read_ivecs(dir.file("gt.ivecs"));
  BOOST_REQUIRE(gt);
  BOOST_TEST(gt->rows == 2u);
  BOOST_TEST(gt->dim == 4u);
  BOOST_TEST(std::vector<std::int32_t>(gt->row(0), gt->row(0) + 4) == ids[0], boost::test_tools::per_element());
  BOOST_TEST(std::vector<std::int32_t>(gt->row(1), gt->row(1) + 4) == ids[1], boost::test_tools::per_element());

  const std::vector<std::vector<std::uint8_t>> bytes = {{0, 255, 17}, {1, 2, 3}};
  write_bytes(dir.file("b.bvecs"), vecs_bytes(bytes));
  auto b = read_bvecs(dir.file("b.bvecs"));
  BOOST_REQUIRE(b);
  BOOST_TEST(b->values == (std::vector<std::uint8_t>{0, 255, 17, 1, 2, 3}), boost::test_tools::per_element());
  auto bf = read_vectors(dir.file("b.bvecs"));
  BOOST_REQUIRE(bf);
  BOOST_TEST(bf->values == (std::vector<float>{0.f, 255.f, 17.f, 1.f, 2.f, 3.f}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(truncated_vecs_file_is_a_corrupt_data_error) {
  temp_dir dir;
  auto bytes = vecs_bytes(std::vector<std::vector<float>>{{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}});
  bytes.resize(bytes.size() - 2);
  write_bytes(dir.file("t.fvecs"), bytes);
  auto m = read_fvecs(dir.file("t.fvecs"));
  BOOST_REQUIRE(!m);
  BOOST_TEST((m.error().code() == errc::corrupt_data));
  BOOST_TEST(contains(m.error().message(), "t.fvecs"));
  BOOST_TEST(contains(m.error().message(), "not a multiple of the row size 16 bytes"));

  write_bytes(dir.file("short.fvecs"), {3, 0});
  auto s = read_fvecs(dir.file("short.fvecs"));
  BOOST_REQUIRE(!s);
  BOOST_TEST(contains(s.error().message(), "truncated"));

  write_bytes(dir.file("empty.fvecs"), {});
  auto e = read_fvecs(dir.file("empty.fvecs"));
  BOOST_REQUIRE(!e);
  BOOST_TEST((e.error().code() == errc::corrupt_data));
  BOOST_TEST(contains(e.error().message(), "empty file"));
}

BOOST_AUTO_TEST_CASE(inconsistent_row_dimension_is_reported_with_its_row) {
  temp_dir dir;
  // Two rows of total size 2 × 16 bytes, but the second declares dimension 2 (its 4th value is padding).
  std::vector<unsigned char> bytes = vecs_bytes(std::vector<std::vector<float>>{{1.f, 2.f, 3.f}});
  append_pod(bytes, std::int32_t{2});
  for (float v : {1.f, 2.f, 3.f}) append_pod(bytes, v);
  write_bytes(dir.file("mixed.fvecs"), bytes);
  auto m = read_fvecs(dir.file("mixed.fvecs"));
  BOOST_REQUIRE(!m);
  BOOST_TEST(contains(m.error().message(), "row 1 declares dimension 2: expected 3"));
}

BOOST_AUTO_TEST_CASE(foreign_file_is_rejected_not_misread) {
  temp_dir dir;
  // A .npy file handed to the fvecs reader: its first int32 is the magic, an absurd dimension.
  write_bytes(dir.file("x.fvecs"), npy_bytes("<f4", "(2, 2)", false, raw(std::vector<float>{1, 2, 3, 4})));
  auto m = read_fvecs(dir.file("x.fvecs"));
  BOOST_REQUIRE(!m);
  BOOST_TEST((m.error().code() == errc::corrupt_data));
  BOOST_TEST(contains(m.error().message(), "not a .fvecs file"));

  // An fvecs file handed to the npy reader.
  write_bytes(dir.file("y.npy"), vecs_bytes(std::vector<std::vector<float>>{{1.f, 2.f, 3.f, 4.f}}));
  auto n = read_npy(dir.file("y.npy"));
  BOOST_REQUIRE(!n);
  BOOST_TEST(contains(n.error().message(), "bad magic"));
}

BOOST_AUTO_TEST_CASE(missing_file_is_not_found) {
  auto m = read_fvecs("/nonexistent/ivfstream/none.fvecs");
  BOOST_REQUIRE(!m);
  BOOST_TEST((m.error().code() == errc::not_found));
  BOOST_TEST(contains(m.error().message(), "none.fvecs"));
}

BOOST_AUTO_TEST_CASE(npy_float_and_integer_dtypes_convert_exactly) {
  temp_dir dir;
  write_bytes(dir.file("f4.npy"), npy_bytes("<f4", "(2, 3)", false, raw(std::vector<float>{1, 2, 3, 4, 5, 6.5f})));
  auto f4 = read_npy(dir.file("f4.npy"));
  BOOST_REQUIRE_MESSAGE(f4, (f4 ? "" : f4.error().to_string()));
  BOOST_TEST(f4->rows == 2u);
  BOOST_TEST(f4->dim == 3u);
  BOOST_TEST(f4->values == (std::vector<float>{1, 2, 3, 4, 5, 6.5f}), boost::test_tools::per_element());

  write_bytes(dir.file("f8.npy"), npy_bytes("<f8", "(2, 2)", false, raw(std::vector<double>{-1.25, 0, 8, 9})));
  auto f8 = read_vectors(dir.file("f8.npy"));
  BOOST_REQUIRE(f8);
  BOOST_TEST(f8->values == (std::vector<float>{-1.25f, 0.f, 8.f, 9.f}), boost::test_tools::per_element());

  write_bytes(dir.file("u1.npy"), npy_bytes("|u1", "(1, 4)", false, std::vector<unsigned char>{0, 9, 200, 255}));
  auto u1 = read_npy(dir.file("u1.npy"));
  BOOST_REQUIRE(u1);
  BOOST_TEST(u1->values == (std::vector<float>{0, 9, 200, 255}), boost::test_tools::per_element());

  write_bytes(dir.file("i4.npy"), npy_bytes("<i4", "(3,)", false, raw(std::vector<std::int32_t>{-5, 0, 70000})));
  auto i4 = read_npy(dir.file("i4.npy"));
  BOOST_REQUIRE(i4);
  BOOST_TEST(i4->rows == 3u);
  BOOST_TEST(i4->dim == 1u);
  BOOST_TEST(i4->values == (std::vector<float>{-5, 0, 70000}), boost::test_tools::per_element());

  auto prefix = read_npy(dir.file("f4.npy"), 1);
  BOOST_REQUIRE(prefix);
  BOOST_TEST(prefix->rows == 1u);
  BOOST_TEST(prefix->values == (std::vector<float>{1, 2, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(npy_unsupported_layouts_name_the_value_and_the_allowed_set) {
  temp_dir dir;
  write_bytes(dir.file("be.npy"), npy_bytes(">f4", "(1, 2)", false, raw(std::vector<float>{1, 2})));
  auto be = read_npy(dir.file("be.npy"));
  BOOST_REQUIRE(!be);
  BOOST_TEST((be.error().code() == errc::invalid_argument));
  BOOST_TEST(contains(be.error().message(), "'>f4'"));
  BOOST_TEST(contains(be.error().message(), "<f4, <f8"));

  write_bytes(dir.file("c8.npy"), npy_bytes("<c8", "(1, 1)", false, raw(std::vector<float>{1, 2})));
  auto c8 = read_npy(dir.file("c8.npy"));
  BOOST_REQUIRE(!c8);
  BOOST_TEST(contains(c8.error().message(), "'<c8'"));

  write_bytes(dir.file("fo.npy"), npy_bytes("<f4", "(2, 2)", true, raw(std::vector<float>{1, 2, 3, 4})));
  auto fo = read_npy(dir.file("fo.npy"));
  BOOST_REQUIRE(!fo);
  BOOST_TEST(contains(fo.error().message(), "fortran_order=True"));

  write_bytes(dir.file("3d.npy"), npy_bytes("<f4", "(1, 1, 2)", false, raw(std::vector<float>{1, 2})));
  auto three = read_npy(dir.file("3d.npy"));
  BOOST_REQUIRE(!three);
  BOOST_TEST(contains(three.error().message(), "3 dimensions"));
}

BOOST_AUTO_TEST_CASE(npy_truncated_data_or_header_is_corrupt_data) {
  temp_dir dir;
  auto bytes = npy_bytes("<f4", "(2, 3)", false, raw(std::vector<float>{1, 2, 3, 4, 5, 6}));
  bytes.resize(bytes.size() - 4);
  write_bytes(dir.file("t.npy"), bytes);
  auto t = read_npy(dir.file("t.npy"));
  BOOST_REQUIRE(!t);
  BOOST_TEST((t.error().code() == errc::corrupt_data));
  BOOST_TEST(contains(t.error().message(), "needs 24 data bytes but the file has 20"));

  bytes.resize(30);  // cut inside the header
  write_bytes(dir.file("h.npy"), bytes);
  auto h = read_npy(dir.file("h.npy"));
  BOOST_REQUIRE(!h);
  BOOST_TEST((h.error().code() == errc::corrupt_data));
  BOOST_TEST(contains(h.error().message(), "truncated"));
}

BOOST_AUTO_TEST_CASE(unknown_extension_lists_the_allowed_ones) {
  auto m = read_vectors("/tmp/whatever.csv");
  BOOST_REQUIRE(!m);
  BOOST_TEST((m.error().code() == errc::invalid_argument));
  BOOST_TEST(contains(m.error().message(), ".fvecs, .bvecs, .npy"));
}
