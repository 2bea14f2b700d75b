// bench_report: the harness CSV contract (columns, cell formats, one cell per column), recall@k against
// ground truth, and option-list parsing with errors that name the value and the allowed range.
#define BOOST_TEST_MODULE bench_report
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "apps/ivfstream/bench_report.hpp"

using namespace ivfstream;
using namespace ivfstream::apps;

namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(',', start);
    cells.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return cells;
    start = end + 1;
  }
}

connectors::dense_matrix<std::int32_t> truth(std::size_t rows, std::size_t dim, std::vector<std::int32_t> v) {
  connectors::dense_matrix<std::int32_t> m;
  m.rows = rows;
  m.dim = dim;
  m.values = std::move(v);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(header_is_the_contract_column_list) {
  BOOST_TEST(csv_header() ==
             "dataset,system,index,metric,nlist,m,nbits,refine,nprobe,k,recall10,qps_single_1t,qps_batch_1t,"
             "qps_batch_2t,cpu_qps_single_1t,cpu_qps_batch_1t,train_s,add_vps,index_bytes,bytes_per_vec,"
             "nq_single,nq_batch,run,notes");
}

BOOST_AUTO_TEST_CASE(row_formats_numbers_like_the_faiss_reference_and_keeps_one_cell_per_column) {
  bench_row r;
  r.dataset = "fashion-mnist";
  r.system = "ivfstream";
  r.index = "IVFPQ+refine";
  r.metric = "l2";
  r.nlist = 256;
  r.m = 16;
  r.nbits = 8;
  r.refine = 4;
  r.nprobe = 8;
  r.k = 10;
  r.recall10 = 0.91234;
  r.qps_single_1t = 1234.56;
  r.qps_batch_1t = 2000.04;
  r.qps_batch_2t = 3999.95;
  r.train_s = 3.14159;
  r.add_vps = 123456.7;
  r.index_bytes = 1000;
  r.bytes_per_vec = 1000.0 / 3.0;
  r.nq_single = 200;
  r.nq_batch = 1000;
  r.notes = "best of 2, worst 1\nnext";
  const auto cells = split(to_csv(r));
  BOOST_REQUIRE_EQUAL(cells.size(), bench_columns().size());
  BOOST_TEST(cells[10] == "0.9123");
  BOOST_TEST(cells[11] == "1234.6");
  BOOST_TEST(cells[13] == "3999.9");  // 3999.95 is stored as 3999.94999…
  BOOST_TEST(cells[14] == "");        // unset cpu figure is an empty cell
  BOOST_TEST(cells[16] == "3.14");
  BOOST_TEST(cells[17] == "123457");
  BOOST_TEST(cells[19] == "333.33");
  BOOST_TEST(cells[22] == "1");
  BOOST_TEST(cells[23] == "best of 2; worst 1 next");
}

BOOST_AUTO_TEST_CASE(writer_prints_the_header_once) {
  std::ostringstream out;
  csv_writer w(out);
  bench_row r;
  w.write(r);
  w.write(r);
  std::istringstream in(out.str());
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  BOOST_REQUIRE_EQUAL(lines.size(), 3u);
  BOOST_TEST(lines[0] == csv_header());
  BOOST_TEST(lines[1] == lines[2]);
}

BOOST_AUTO_TEST_CASE(recall_counts_the_intersection_of_the_first_k) {
  // 2 queries, ground truth 3 columns, k = 2.
  const auto gt = truth(2, 3, {5, 6, 7, 1, 2, 3});
  // q0: {6, 9} ∩ {5, 6} = 1; q1: {2, 1, 3} first two {2, 1} ∩ {1, 2} = 2 → 3 / 4.
  auto r = recall_at({{6, 9}, {2, 1, 3}}, gt, 2);
  BOOST_REQUIRE(r);
  BOOST_TEST(*r == 0.75);
  // Short answers and duplicates do not inflate recall.
  auto s = recall_at({{5, 5}, {}}, gt, 2);
  BOOST_REQUIRE(s);
  BOOST_TEST(*s == 0.25);
}

BOOST_AUTO_TEST_CASE(recall_rejects_too_little_ground_truth) {
  const auto gt = truth(1, 3, {1, 2, 3});
  auto narrow = recall_at({{1}}, gt, 10);
  BOOST_REQUIRE(!narrow);
  BOOST_TEST(narrow.error().message().find("recall@10 needs at least 10") != std::string::npos);
  auto short_rows = recall_at({{1}, {2}}, gt, 3);
  BOOST_REQUIRE(!short_rows);
  BOOST_TEST(short_rows.error().message().find("need one per query (2)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(size_lists_parse_and_name_bad_tokens) {
  auto ok = parse_size_list("--nprobe", "1,2,64", 1, 1000);
  BOOST_REQUIRE(ok);
  BOOST_TEST(*ok == (std::vector<std::size_t>{1, 2, 64}), boost::test_tools::per_element());
  auto zero = parse_size_list("--nprobe", "0,4", 1, 1000);
  BOOST_REQUIRE(!zero);
  BOOST_TEST(zero.error().message() ==
             "--nprobe=0,4: '0' must be an integer in [1, 1000] (comma-separated list)");
  auto junk = parse_size_list("--refine", "4,x", 0, 10);
  BOOST_REQUIRE(!junk);
  BOOST_TEST(junk.error().message().find("'x'") != std::string::npos);
  auto empty = parse_size_list("--refine", "", 0, 10);
  BOOST_REQUIRE(!empty);
}
