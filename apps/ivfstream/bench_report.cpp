#include "apps/ivfstream/bench_report.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <unordered_set>

namespace ivfstream::apps {
namespace {

std::string clean_text(std::string s) {
  for (char& c : s) {
    if (c == ',') c = ';';
    else if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string fixed(const std::optional<double>& v, int decimals) { return v ? fixed(*v, decimals) : std::string(); }

}  // namespace

const std::vector<std::string>& bench_columns() {
  static const std::vector<std::string> k_columns = {
      "dataset",       "system",        "index",        "metric",           "nlist",
      "m",             "nbits",         "refine",       "nprobe",           "k",
      "recall10",      "qps_single_1t", "qps_batch_1t", "qps_batch_2t",     "cpu_qps_single_1t",
      "cpu_qps_batch_1t", "train_s",    "add_vps",      "index_bytes",      "bytes_per_vec",
      "nq_single",     "nq_batch",      "run",          "notes"};
  return k_columns;
}

std::string csv_header() {
  std::string out;
  for (const auto& c : bench_columns()) {
    if (!out.empty()) out += ',';
    out += c;
  }
  return out;
}

std::string to_csv(const bench_row& r) {
  const std::string cells[] = {clean_text(r.dataset),
                               clean_text(r.system),
                               clean_text(r.index),
                               clean_text(r.metric),
                               std::to_string(r.nlist),
                               std::to_string(r.m),
                               std::to_string(r.nbits),
                               std::to_string(r.refine),
                               std::to_string(r.nprobe),
                               std::to_string(r.k),
                               fixed(r.recall10, 4),
                               fixed(r.qps_single_1t, 1),
                               fixed(r.qps_batch_1t, 1),
                               fixed(r.qps_batch_2t, 1),
                               fixed(r.cpu_qps_single_1t, 1),
                               fixed(r.cpu_qps_batch_1t, 1),
                               fixed(r.train_s, 2),
                               fixed(r.add_vps, 0),
                               std::to_string(r.index_bytes),
                               fixed(r.bytes_per_vec, 2),
                               std::to_string(r.nq_single),
                               std::to_string(r.nq_batch),
                               std::to_string(r.run),
                               clean_text(r.notes)};
  static_assert(sizeof cells / sizeof cells[0] == 24, "one cell per contract column");
  std::string out;
  for (const auto& c : cells) {
    if (&c != &cells[0]) out += ',';
    out += c;
  }
  return out;
}

void csv_writer::write(const bench_row& row) {
  if (!header_written_) {
    out_ << csv_header() << '\n';
    header_written_ = true;
  }
  out_ << to_csv(row) << '\n';
  out_.flush();
}

result<double> recall_at(const std::vector<std::vector<std::uint64_t>>& returned,
                         const connectors::dense_matrix<std::int32_t>& truth, std::size_t k) {
  if (k == 0) return fail(errc::invalid_argument, "recall k=0: must be >= 1");
  if (truth.dim < k) {
    return fail(errc::invalid_argument, "ground truth has " + std::to_string(truth.dim) +
                                            " ids per query: recall@" + std::to_string(k) + " needs at least " +
                                            std::to_string(k));
  }
  if (truth.rows < returned.size()) {
    return fail(errc::invalid_argument, "ground truth has " + std::to_string(truth.rows) + " rows: need one per query (" +
                                            std::to_string(returned.size()) + ")");
  }
  if (returned.empty()) return 0.0;
  std::size_t hits = 0;
  std::unordered_set<std::uint64_t> true_ids;
  for (std::size_t q = 0; q < returned.size(); ++q) {
    true_ids.clear();
    const std::int32_t* t = truth.row(q);
    for (std::size_t j = 0; j < k; ++j) {
      if (t[j] >= 0) true_ids.insert(static_cast<std::uint64_t>(t[j]));
    }
    const std::size_t n = std::min(k, returned[q].size());
    std::unordered_set<std::uint64_t> seen;  // a duplicate returned id counts once
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint64_t id = returned[q][j];
      if (true_ids.count(id) != 0 && seen.insert(id).second) ++hits;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(k * returned.size());
}

result<std::vector<std::size_t>> parse_size_list(const std::string& option, const std::string& text,
                                                 std::size_t min_value, std::size_t max_value) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string token = text.substr(start, end - start);
    bool ok = !token.empty() && token.size() <= 18 &&
              std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
    const std::size_t v = ok ? static_cast<std::size_t>(std::stoull(token)) : 0;
    if (!ok || v < min_value || v > max_value) {
      return fail(errc::invalid_argument, option + "=" + text + ": '" + token +
                                              "' must be an integer in [" + std::to_string(min_value) + ", " +
                                              std::to_string(max_value) + "] (comma-separated list)");
    }
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

}  // namespace ivfstream::apps
