#include "apps/ivfstream/demo_data.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include <zlib.h>

#include "connectors/file_readers.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream::apps {
namespace {

namespace fs = std::filesystem;
constexpr const char* k_annbench_dir = "/tmp/annbench/data/fashion-mnist";
constexpr const char* k_idx_dir = "/usr/share/datasets/fashion-mnist";
constexpr std::size_t k_synthetic_dim = 128;
constexpr std::size_t k_synthetic_clusters = 100;

// Reads an idx3-ubyte.gz image file (magic 0x00000803, big-endian n, rows, cols; then n·rows·cols bytes).
result<std::vector<float>> read_idx_images(const std::string& path, std::size_t max_rows, std::size_t& n,
                                           std::size_t& dim) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return fail(errc::not_found, "cannot open '" + path + "'");
  unsigned char hdr[16];
  if (gzread(f, hdr, 16) != 16) {
    gzclose(f);
    return fail(errc::corrupt_data, "'" + path + "': truncated idx header");
  }
  auto be32 = [&](int o) {
    return (std::uint32_t(hdr[o]) << 24) | (std::uint32_t(hdr[o + 1]) << 16) | (std::uint32_t(hdr[o + 2]) << 8) |
           std::uint32_t(hdr[o + 3]);
  };
  if (be32(0) != 0x803) {
    gzclose(f);
    return fail(errc::corrupt_data, "'" + path + "': not an idx3-ubyte file (magic " + std::to_string(be32(0)) + ")");
  }
  n = std::min<std::size_t>(be32(4), max_rows ? max_rows : be32(4));
  dim = std::size_t(be32(8)) * be32(12);
  std::vector<unsigned char> bytes(n * dim);
  const int want = static_cast<int>(bytes.size());
  if (gzread(f, bytes.data(), want) != want) {
    gzclose(f);
    return fail(errc::corrupt_data, "'" + path + "': truncated image data");
  }
  gzclose(f);
  return std::vector<float>(bytes.begin(), bytes.end());
}

demo_data synthetic(std::size_t rows, std::size_t nq) {
  demo_data d;
  d.name = "synthetic clustered, " + std::to_string(k_synthetic_dim) + "-d";
  d.dim = k_synthetic_dim;
  d.rows = rows;
  std::mt19937_64 rng(20261126);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> centres(k_synthetic_clusters * d.dim);
  for (auto& c : centres) c = g(rng);
  std::uniform_int_distribution<std::size_t> pick(0, k_synthetic_clusters - 1);
  auto make = [&](std::size_t n, std::vector<float>& out) {
    out.resize(n * d.dim);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = pick(rng);
      for (std::size_t j = 0; j < d.dim; ++j) out[i * d.dim + j] = centres[c * d.dim + j] + 0.35f * g(rng);
    }
  };
  make(rows, d.base);
  d.nq = nq;
  make(nq, d.queries);
  return d;
}

result<demo_data> from_fvecs(const std::string& dir, std::size_t max_rows, std::size_t max_queries) {
  auto base = connectors::read_fvecs(dir + "/base.fvecs", max_rows);
  if (!base) return std::move(base).error();
  auto q = connectors::read_fvecs(dir + "/query.fvecs", max_queries);
  if (!q) return std::move(q).error();
  demo_data d;
  d.name = dir;
  d.dim = base->dim;
  d.rows = base->rows;
  d.base = std::move(base->values);
  d.nq = q->rows;
  d.queries = std::move(q->values);
  return d;
}

result<demo_data> from_idx(const std::string& dir, std::size_t max_rows, std::size_t max_queries) {
  demo_data d;
  d.name = dir;
  std::size_t n = 0, dim = 0, nq = 0, qdim = 0;
  auto base = read_idx_images(dir + "/train-images-idx3-ubyte.gz", max_rows, n, dim);
  if (!base) return std::move(base).error();
  auto q = read_idx_images(dir + "/t10k-images-idx3-ubyte.gz", max_queries, nq, qdim);
  if (!q) return std::move(q).error();
  d.dim = dim;
  d.rows = n;
  d.base = std::move(*base);
  d.nq = nq;
  d.queries = std::move(*q);
  return d;
}

}  // namespace

result<demo_data> load_demo_data(const std::string& source, std::size_t max_rows, std::size_t max_queries) {
  if (source == "synthetic") return synthetic(max_rows ? max_rows : 100000, max_queries);
  if (source != "auto") {
    if (fs::exists(source + "/base.fvecs")) return from_fvecs(source, max_rows, max_queries);
    if (fs::exists(source + "/train-images-idx3-ubyte.gz")) return from_idx(source, max_rows, max_queries);
    return fail(errc::not_found, "--data '" + source +
                                     "': expected 'auto', 'synthetic', a directory with base.fvecs + query.fvecs, "
                                     "or one with Fashion-MNIST train/t10k-images-idx3-ubyte.gz");
  }
  if (fs::exists(std::string(k_annbench_dir) + "/base.fvecs")) return from_fvecs(k_annbench_dir, max_rows, max_queries);
  if (fs::exists(std::string(k_idx_dir) + "/train-images-idx3-ubyte.gz")) return from_idx(k_idx_dir, max_rows, max_queries);
  return synthetic(max_rows ? max_rows : 100000, max_queries);
}

std::vector<std::vector<std::uint64_t>> brute_force_knn(const demo_data& data, metric m, std::size_t k,
                                                        unsigned threads) {
  const auto& kt = kernels::default_kernels();
  std::vector<std::vector<std::uint64_t>> out(data.nq);
  auto work = [&](std::size_t first, std::size_t step) {
    std::vector<float> dist(data.rows);
    std::vector<float> qn(data.dim);
    std::vector<std::uint32_t> order(data.rows);
    for (std::size_t i = first; i < data.nq; i += step) {
      const float* q = data.queries.data() + i * data.dim;
      if (m == metric::l2) {
        kt.l2sqr_ny(q, data.base.data(), data.rows, data.dim, dist.data());
      } else {
        kt.inner_product_ny(q, data.base.data(), data.rows, data.dim, dist.data());
        for (std::size_t r = 0; r < data.rows; ++r) {
          float s = dist[r];
          if (m == metric::cosine) {
            const float* x = data.base.data() + r * data.dim;
            const float nx = std::sqrt(kt.inner_product(x, x, data.dim));
            s = nx > 0 ? s / nx : 0.f;  // the query norm does not change the ranking
          }
          dist[r] = -s;
        }
      }
      for (std::uint32_t r = 0; r < data.rows; ++r) order[r] = r;
      const std::size_t kk = std::min(k, data.rows);
      std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return dist[a] < dist[b] || (dist[a] == dist[b] && a < b);
      });
      out[i].assign(order.begin(), order.begin() + kk);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t, threads);
  work(0, std::max(1u, threads));
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace ivfstream::apps
