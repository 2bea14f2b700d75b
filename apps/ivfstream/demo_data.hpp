#pragma once
// Data sets of `ivfstream demo`: Fashion-MNIST (the ann-benchmarks fvecs under /tmp/annbench/data,
// or the original idx.gz files under /usr/share/datasets/fashion-mnist), else a synthetic clustered
// set. Plain functions; thread-safe (they touch only their arguments).
#include <cstddef>
#include <string>
#include <vector>

#include "index/error.hpp"
#include "index/metric.hpp"

namespace ivfstream::apps {

/// Base vectors to stream and queries to ask. base: rows × dim, queries: nq × dim, row-major.
struct demo_data {
  std::string name;     ///< where it came from
  std::size_t dim = 0;
  std::size_t rows = 0;
  std::vector<float> base;
  std::size_t nq = 0;
  std::vector<float> queries;
};

/// Loads `source`: "auto" (first of the places above that exists), "synthetic", a directory with
/// base.fvecs + query.fvecs, or a directory with Fashion-MNIST idx.gz files. At most max_rows base
/// rows and max_queries queries.
result<demo_data> load_demo_data(const std::string& source, std::size_t max_rows, std::size_t max_queries);

/// Exact k nearest base rows of every query (ids = row numbers), nearest first (LanceDB metric).
/// Layout: nq × k. Uses both cores when `threads` > 1.
std::vector<std::vector<std::uint64_t>> brute_force_knn(const demo_data& data, metric m, std::size_t k,
                                                        unsigned threads);

}  // namespace ivfstream::apps
