#pragma once
// The benchmark harness's CSV contract (../shared/bench/README.md): the column list, one result row,
// its formatting, and recall@k against exact ground truth. Pure functions and value types, no index.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "connectors/file_readers.hpp"
#include "index/error.hpp"

namespace ivfstream::apps {

/// The contract's columns, in order.
const std::vector<std::string>& bench_columns();

/// One CSV row: one (index configuration, refine factor, nprobe) point. Optional numbers that are unset
/// print as empty cells (the contract allows empty cpu_* columns; qps_single_1t is empty when nq_single = 0).
struct bench_row {
  std::string dataset;
  std::string system;
  std::string index;                        ///< free label, e.g. "IVFPQ" or "IVFPQ+refine"
  std::string metric;                       ///< the harness metric: "l2" or "ip"
  std::size_t nlist = 0;
  std::size_t m = 0;
  unsigned nbits = 0;
  std::size_t refine = 0;
  std::size_t nprobe = 0;
  std::size_t k = 0;
  double recall10 = 0.0;                    ///< printed with 4 decimals
  std::optional<double> qps_single_1t;      ///< printed with 1 decimal
  std::optional<double> qps_batch_1t;
  std::optional<double> qps_batch_2t;
  std::optional<double> cpu_qps_single_1t;
  std::optional<double> cpu_qps_batch_1t;
  double train_s = 0.0;                     ///< 2 decimals
  double add_vps = 0.0;                     ///< 0 decimals
  std::uint64_t index_bytes = 0;
  double bytes_per_vec = 0.0;               ///< 2 decimals
  std::size_t nq_single = 0;
  std::size_t nq_batch = 0;
  unsigned run = 1;
  std::string notes;                        ///< free text; commas and line breaks are replaced by ';' / ' '
};

/// "dataset,system,...,notes" (no trailing newline).
std::string csv_header();

/// The row as one CSV line (no trailing newline). Text cells have commas replaced by ';' and
/// line breaks by spaces, so every line has exactly bench_columns().size() cells.
std::string to_csv(const bench_row& row);

/// Writes the header once, then rows, each flushed at once (a long sweep shows progress and a crash
/// keeps what was measured). Not thread-safe: one writer per stream.
class csv_writer {
 public:
  /// @param out stream that outlives the writer (stdout for the harness).
  explicit csv_writer(std::ostream& out) : out_(out) {}
  /// Writes the header if not yet written, then the row.
  void write(const bench_row& row);

 private:
  std::ostream& out_;
  bool header_written_ = false;
};

/// Mean over queries of |first k returned ids ∩ first k true ids| / k.
/// returned: one row of ids per query, nearest first (may be shorter than k);
/// truth: ground-truth ids, row i = query i, nearest first, at least k columns and returned.size() rows.
/// Errors: invalid_argument when k = 0, truth has fewer than k columns or fewer rows than queries.
result<double> recall_at(const std::vector<std::vector<std::uint64_t>>& returned,
                         const connectors::dense_matrix<std::int32_t>& truth, std::size_t k);

/// Parses a comma list of non-negative integers ("1,2,4"), each in [min_value, max_value].
/// Errors name the option, the bad token and the allowed range.
result<std::vector<std::size_t>> parse_size_list(const std::string& option, const std::string& text,
                                                 std::size_t min_value, std::size_t max_value);

}  // namespace ivfstream::apps
