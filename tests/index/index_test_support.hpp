#pragma once
// What the quantizer suites of tests/index/ share: split a seeded data set into rows and queries, train
// codebooks, build a trained and filled index, search every query, mean recall against brute force, "same
// answers bit for bit" and a scratch directory. Header-only, Boost.Test macros (include after <boost/test/unit_test.hpp>).
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "index/ivfpq_index.hpp"
#include "tests/index/synthetic_data.hpp"

namespace ivfstream::test {

/// Rows x (n × d) and queries q (the rows after them) of one seeded draw, so queries come from the same
/// distribution as the data.
struct data_and_queries {
  std::vector<float> x, q;
};

/// Splits `all` (row-major, d floats a row) after its first n rows.
inline data_and_queries split_rows(const std::vector<float>& all, std::size_t n, std::size_t d) {
  data_and_queries out;
  out.x.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n * d));
  out.q.assign(all.begin() + static_cast<std::ptrdiff_t>(n * d), all.end());
  return out;
}

/// Codebooks trained from `p` on n rows of test::clustered_data(n, p.dimension, clusters, seed).
inline std::shared_ptr<const codebook_set> trained_codebooks(const index_params& p, std::size_t n,
                                                             std::size_t clusters, std::uint64_t seed) {
  const auto base = clustered_data(n, p.dimension, clusters, seed);
  auto cb = codebook_set::train(p, base.data(), n);
  BOOST_REQUIRE_MESSAGE(cb, (cb ? "" : cb.error().to_string()));
  return *cb;
}

/// An index made from `p`, trained on the n rows of x (n × p.dimension) and filled with them (id = row).
inline ivfpq_index build_index(const index_params& p, const float* x, std::size_t n) {
  auto index = ivfpq_index::create(p);
  BOOST_REQUIRE(index);
  BOOST_REQUIRE(index->train(x, n));
  const auto ids = iota_ids(n);
  BOOST_REQUIRE(index->add(ids.data(), x, n));
  return std::move(*index);
}

inline ivfpq_index build_index(const index_params& p, const std::vector<float>& x) {
  return build_index(p, x.data(), x.size() / p.dimension);
}

/// The answers to the nq queries of q (nq × index dimension), one `search` call each.
inline std::vector<std::vector<search_hit>> search_each(const ivfpq_index& index, const float* q, std::size_t nq,
                                                        const search_params& sp) {
  const std::size_t d = index.params().dimension;
  std::vector<std::vector<search_hit>> out;
  for (std::size_t i = 0; i < nq; ++i) {
    auto hits = index.search(q + i * d, sp);
    BOOST_REQUIRE(hits);
    out.push_back(std::move(*hits));
  }
  return out;
}

/// Mean over queries of recall@k: hits[i] against the exact k nearest of query i (q, hits.size() × d)
/// among the n rows of x (n × d) under metric m.
inline double mean_recall(const std::vector<std::vector<search_hit>>& hits, metric m, const float* q, const float* x,
                          std::size_t n, std::size_t d, std::size_t k) {
  double sum = 0;
  for (std::size_t i = 0; i < hits.size(); ++i) {
    std::vector<std::uint64_t> found;
    for (const auto& h : hits[i]) found.push_back(h.id);
    sum += recall(found, brute_force(m, q + i * d, x, n, d, k));
  }
  return hits.empty() ? 1.0 : sum / double(hits.size());
}

/// Same queries answered with the same ids and bit-identical distances, in the same order.
inline void require_same_hits(const std::vector<std::vector<search_hit>>& a,
                              const std::vector<std::vector<search_hit>>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_REQUIRE_EQUAL(a[i].size(), b[i].size());
    for (std::size_t j = 0; j < a[i].size(); ++j) {
      BOOST_TEST(a[i][j].id == b[i][j].id);
      BOOST_TEST(a[i][j].distance == b[i][j].distance);  // bit for bit
    }
  }
}

/// $TMPDIR/<name>-<pid>, created empty, removed with everything in it at the end of the scope.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace ivfstream::test
