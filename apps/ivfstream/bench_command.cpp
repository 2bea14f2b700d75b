#include "apps/ivfstream/bench_command.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

#include "apps/ivfstream/bench_report.hpp"
#include "apps/ivfstream/stopwatch.hpp"
#include "connectors/file_readers.hpp"
#include "index/ivfpq_index.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream::apps {
namespace {

namespace fs = std::filesystem;

/// Exit code of a bad option value (CLI11 uses 105-ish for parse errors; we keep 2 like most tools).
constexpr int k_exit_usage = 2;
/// Exit code of a data or index failure.
constexpr int k_exit_failure = 1;
/// Recall is always recall@10 (the contract's column recall10), whatever --k is.
constexpr std::size_t k_recall_at = 10;
/// Threads of the qps_batch_2t measurement (the contract's column name fixes it).
constexpr std::size_t k_batch_threads = 2;

/// Every option of `ivfstream bench`; the contract's flags first, then our own extensions.
struct bench_options {
  std::string base;
  std::string queries;
  std::string gt;
  std::string metric;
  std::size_t nlist = 0;
  std::size_t m = 0;
  unsigned nbits = 0;
  std::string nprobe;
  std::string refine = "0";
  std::size_t k = 10;
  std::size_t nq_single = 1000;
  std::size_t nq_batch = 0;
  std::size_t reps = 2;
  std::string dataset;
  std::string system = "ivfstream";
  // extensions (not in the contract; defaults keep the contract's meaning)
  std::string ivf_metric;          ///< l2 | cosine | dot; empty = l2 for --metric l2, dot for ip
  std::size_t max_iterations = index_params{}.max_iterations;
  std::size_t sample_rate = index_params{}.sample_rate;
  std::uint64_t seed = index_params{}.seed;
  std::size_t warmup = 20;         ///< single queries run before each single-query timing
  std::size_t add_batch = 0;       ///< vectors per add() call; 0 = the whole base in one call
  std::string storage_dir;         ///< vector store directory; empty = private temp dir
  std::string save_dir;            ///< where the serialized index is written to be measured; empty = temp
  std::size_t train_threads = index_params{}.train_threads;  ///< training threads; 0 = all hardware threads
  std::string accelerator = "cpu"; ///< training device: cpu | cuda | auto
  bool opq = false;                ///< learned OPQ rotation before the residual PQ (index label "OPQ-IVFPQ")
  std::size_t opq_iterations = index_params{}.opq_iterations;  ///< OPQ Procrustes alternations
  bool lopq = false;               ///< LOPQ: per-group rotation + PQ codebooks (index label "LOPQ-IVFPQ")
  std::size_t lopq_groups = index_params{}.lopq_groups;          ///< groups of lists (1 … nlist)
  std::size_t lopq_iterations = index_params{}.lopq_iterations;  ///< per-group Procrustes alternations
  std::size_t lopq_min_points = index_params{}.lopq_min_points;  ///< per-group training vectors / 2^nbits
  // issue 5 options (index_params names; validate() refuses unsupported combinations with the pair named)
  std::string quantizer = "pq";                                   ///< pq | rq | lsq
  std::size_t rq_beam_size = index_params{}.rq_beam_size;         ///< rq/lsq encoding beam
  std::size_t lsq_iterations = index_params{}.lsq_iterations;     ///< lsq training rounds
  std::size_t lsq_icm_iterations = index_params{}.lsq_icm_iterations;  ///< lsq ICM sweeps per encode
  std::string coarse_quantizer = "flat";                          ///< flat | imi
  unsigned imi_bits = 0;                                          ///< imi: nlist must be 2^(2·imi_bits)
  bool polysemous = false;                                        ///< polysemous code order
  std::size_t polysemous_iterations = index_params{}.polysemous_iterations;
  std::size_t polysemous_ht = 0;                                  ///< Hamming filter of every search (0 = off)
};

/// Best and worst of the timed passes of one measurement.
struct timing {
  double best_qps = 0.0;
  double worst_qps = 0.0;
  double best_cpu_qps = 0.0;
};

[[noreturn]] void exit_with(int code, const std::string& message) {
  std::cerr << "ivfstream bench: " << message << std::endl;
  throw CLI::RuntimeError(code);
}

std::string format_double(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double load_average_1min() {
  double load[1] = {0.0};
  return ::getloadavg(load, 1) == 1 ? load[0] : 0.0;
}

/// Bytes of what ivfpq_index::save writes: the index file itself (codes, ids, centroids, codebooks) and
/// the raw vectors beside it (path + ".vectors.<generation>"), which the contract counts apart.
struct saved_size {
  std::uint64_t index_bytes = 0;
  std::uint64_t raw_vector_bytes = 0;
};

/// Saves the index under a fresh name in `dir` (temp dir if empty), stats both files, removes them.
result<saved_size> serialized_size(const ivfpq_index& index, const std::string& dir) {
  std::error_code ec;
  const fs::path base = dir.empty() ? fs::temp_directory_path(ec) : fs::path(dir);
  if (ec) return fail(errc::io_error, "no temporary directory: " + ec.message());
  const fs::path target = base / ("ivfstream_bench_" + std::to_string(::getpid()) + ".index");
  const fs::path vectors = vectors_generation_path(target.string(), next_vectors_generation(target.string()));
  status saved = index.save(target.string());
  saved_size out;
  if (saved) {
    out.index_bytes = fs::file_size(target, ec);
    if (ec) saved = fail(errc::io_error, target.string() + ": cannot stat the saved index: " + ec.message());
    std::error_code vec_ec;
    if (fs::exists(vectors, vec_ec)) out.raw_vector_bytes = fs::file_size(vectors, vec_ec);
  }
  fs::remove(target, ec);
  fs::remove(vectors, ec);
  if (!saved) return saved.error();
  return out;
}

std::vector<std::vector<std::uint64_t>> ids_of(const std::vector<std::vector<search_hit>>& hits) {
  std::vector<std::vector<std::uint64_t>> ids(hits.size());
  for (std::size_t q = 0; q < hits.size(); ++q) {
    ids[q].reserve(hits[q].size());
    for (const auto& h : hits[q]) ids[q].push_back(h.id);
  }
  return ids;
}

/// Queries one at a time on this thread: first `warmup` untimed, then `reps` timed passes over nq queries.
timing time_single(const ivfpq_index& index, const float* q, std::size_t nq, std::size_t d,
                   const search_params& sp, std::size_t reps, std::size_t warmup) {
  for (std::size_t i = 0; i < std::min(warmup, nq); ++i) {
    auto r = index.search(q + i * d, sp);
    if (!r) exit_with(k_exit_failure, "search failed: " + r.error().to_string());
  }
  timing t;
  for (std::size_t rep = 0; rep < reps; ++rep) {
    stopwatch sw;
    for (std::size_t i = 0; i < nq; ++i) {
      auto r = index.search(q + i * d, sp);
      if (!r) exit_with(k_exit_failure, "search failed: " + r.error().to_string());
    }
    const double cpu = std::max(sw.cpu_seconds(), 1e-9);
    const double qps = static_cast<double>(nq) / std::max(sw.wall_seconds(), 1e-9);
    t.best_qps = std::max(t.best_qps, qps);
    t.worst_qps = rep == 0 ? qps : std::min(t.worst_qps, qps);
    t.best_cpu_qps = std::max(t.best_cpu_qps, static_cast<double>(nq) / cpu);
  }
  return t;
}

/// One search_batch call over all nq queries on this thread, `reps` times; `last` receives the results.
timing time_batch_1t(const ivfpq_index& index, const float* q, std::size_t nq, const search_params& sp,
                     std::size_t reps, std::vector<std::vector<search_hit>>& last) {
  timing t;
  for (std::size_t rep = 0; rep < reps; ++rep) {
    stopwatch sw;
    auto r = index.search_batch(q, nq, sp);
    const double wall = std::max(sw.wall_seconds(), 1e-9);
    const double cpu = std::max(sw.cpu_seconds(), 1e-9);
    if (!r) exit_with(k_exit_failure, "search_batch failed: " + r.error().to_string());
    last = std::move(*r);
    const double qps = static_cast<double>(nq) / wall;
    t.best_qps = std::max(t.best_qps, qps);
    t.worst_qps = rep == 0 ? qps : std::min(t.worst_qps, qps);
    t.best_cpu_qps = std::max(t.best_cpu_qps, static_cast<double>(nq) / cpu);
  }
  return t;
}

/// The batch split in `threads` contiguous slices, each searched by its own thread with one
/// search_batch call (ivfpq_index search is const and safe for concurrent readers). Wall time from
/// before the threads start to after they all joined.
timing time_batch_threads(const ivfpq_index& index, const float* q, std::size_t nq, std::size_t d,
                          const search_params& sp, std::size_t reps, std::size_t threads) {
  timing t;
  for (std::size_t rep = 0; rep < reps; ++rep) {
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    stopwatch sw;
    for (std::size_t th = 0; th < threads; ++th) {
      const std::size_t begin = nq * th / threads, end = nq * (th + 1) / threads;
      pool.emplace_back([&, th, begin, end] {
        if (end == begin) return;
        auto r = index.search_batch(q + begin * d, end - begin, sp);
        if (!r) errors[th] = r.error().to_string();
      });
    }
    for (auto& th : pool) th.join();
    const double wall = std::max(sw.wall_seconds(), 1e-9);
    for (const auto& e : errors) {
      if (!e.empty()) exit_with(k_exit_failure, "search_batch failed: " + e);
    }
    const double qps = static_cast<double>(nq) / wall;
    t.best_qps = std::max(t.best_qps, qps);
    t.worst_qps = rep == 0 ? qps : std::min(t.worst_qps, qps);
  }
  return t;
}

template <class T>
T require(result<T> r, int code, const std::string& what) {
  if (!r) exit_with(code, what + ": " + r.error().to_string());
  return std::move(*r);
}

void run_bench(const bench_options& o) {
  // ---- options -------------------------------------------------------------------------------------
  const auto nprobes = require(parse_size_list("--nprobe", o.nprobe, 1, SIZE_MAX / 2), k_exit_usage, "bad option");
  const auto refines = require(parse_size_list("--refine", o.refine, 0, 1u << 16), k_exit_usage, "bad option");
  if (o.k == 0) exit_with(k_exit_usage, "--k=0: must be >= 1");
  if (o.reps == 0) exit_with(k_exit_usage, "--reps=0: must be >= 1");
  const metric ivf_metric =
      o.ivf_metric.empty() ? (o.metric == "ip" ? metric::dot : metric::l2)
                           : require(parse_metric(o.ivf_metric), k_exit_usage, "--ivf-metric=" + o.ivf_metric);
  const metric natural = o.metric == "ip" ? metric::dot : metric::l2;
  if (o.metric == "l2" && ivf_metric != metric::l2) {
    std::cerr << "ivfstream bench: warning: --ivf-metric=" << to_string(ivf_metric)
              << " on an l2 data set: recall is still measured against the l2 ground truth\n";
  }

  // ---- data ----------------------------------------------------------------------------------------
  stopwatch load_sw;
  const auto base = require(connectors::read_vectors(o.base), k_exit_failure, "--base");
  const auto queries = require(connectors::read_vectors(o.queries, o.nq_batch), k_exit_failure, "--queries");
  const auto gt = require(connectors::read_ivecs(o.gt, queries.rows), k_exit_failure, "--gt");
  if (queries.dim != base.dim) {
    exit_with(k_exit_failure, "--queries dimension " + std::to_string(queries.dim) + " != --base dimension " +
                                  std::to_string(base.dim));
  }
  if (gt.rows < queries.rows) {
    exit_with(k_exit_failure, "--gt has " + std::to_string(gt.rows) + " rows: need one per query (" +
                                  std::to_string(queries.rows) + ")");
  }
  if (gt.dim < k_recall_at) {
    exit_with(k_exit_failure, "--gt has " + std::to_string(gt.dim) + " ids per query: recall@10 needs >= 10");
  }
  const std::size_t n = base.rows, d = base.dim, nq = queries.rows;
  const std::size_t nq_single = std::min(o.nq_single, nq);
  const std::string dataset = o.dataset.empty() ? fs::absolute(o.base).parent_path().filename().string() : o.dataset;
  std::cerr << "ivfstream bench: " << dataset << ": base " << n << " x " << d << ", queries " << nq
            << " (single " << nq_single << "), read in " << format_double(load_sw.wall_seconds(), 2) << " s\n";

  // ---- build ---------------------------------------------------------------------------------------
  index_params p;
  p.dimension = d;
  p.metric = ivf_metric;
  p.num_partitions = o.nlist;
  p.num_sub_vectors = o.m;
  p.num_bits = o.nbits;
  p.max_iterations = o.max_iterations;
  p.sample_rate = o.sample_rate;
  p.seed = o.seed;
  p.train_threads = o.train_threads;
  p.accelerator = *kernels::parse_accelerator(o.accelerator);  // CLI checked the set
  p.opq = o.opq;
  p.opq_iterations = o.opq_iterations;
  p.lopq = o.lopq;
  p.lopq_groups = o.lopq_groups;
  p.lopq_iterations = o.lopq_iterations;
  p.lopq_min_points = o.lopq_min_points;
  p.quantizer = *parse_quantizer(o.quantizer);  // CLI checked the set
  p.rq_beam_size = o.rq_beam_size;
  p.lsq_iterations = o.lsq_iterations;
  p.lsq_icm_iterations = o.lsq_icm_iterations;
  p.coarse_quantizer = *parse_coarse_quantizer(o.coarse_quantizer);
  p.imi_bits = o.imi_bits;
  p.polysemous = o.polysemous;
  p.polysemous_iterations = o.polysemous_iterations;
  p.keep_raw_vectors = std::any_of(refines.begin(), refines.end(), [](std::size_t r) { return r > 0; });
  if (status v = p.validate_for_training(n); !v) exit_with(k_exit_usage, v.error().to_string());
  index_options io;
  io.storage_dir = o.storage_dir;
  auto index = require(ivfpq_index::create(p, io), k_exit_usage, "index parameters");

  stopwatch train_sw;
  if (status s = index.train(base.values.data(), n); !s) exit_with(k_exit_failure, "train: " + s.error().to_string());
  const double train_s = train_sw.wall_seconds();

  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  const std::size_t add_batch = o.add_batch == 0 ? n : o.add_batch;
  stopwatch add_sw;
  for (std::size_t first = 0; first < n; first += add_batch) {
    const std::size_t count = std::min(add_batch, n - first);
    if (status s = index.add(ids.data() + first, base.row(first), count); !s) {
      exit_with(k_exit_failure, "add: " + s.error().to_string());
    }
  }
  const double add_s = std::max(add_sw.wall_seconds(), 1e-9);
  const double add_vps = static_cast<double>(n) / add_s;

  const saved_size saved = require(serialized_size(index, o.save_dir), k_exit_failure, "save");
  const std::uint64_t index_bytes = saved.index_bytes;
  const memory_stats mem = index.memory();
  const std::string simd = kernels::to_string(kernels::default_kernels().level);
  // e.g. IVFPQ, OPQ-IVFPQ, LOPQ-IVFPQ, IVFRQ, IMI-IVFLSQ, IVFPQ-polysemous
  std::string quant_label = o.quantizer == "rq" ? "IVFRQ" : o.quantizer == "lsq" ? "IVFLSQ" : "IVFPQ";
  const std::string built = std::string(o.lopq ? "LOPQ-" : "") + (o.opq ? "OPQ-" : "") +
                            (p.imi() ? "IMI-" : "") + quant_label + (o.polysemous ? "-polysemous" : "");
  std::cerr << "ivfstream bench: built " << built << " nlist=" << o.nlist << " M=" << o.m
            << " nbits=" << o.nbits
            << " metric=" << to_string(ivf_metric) << " simd=" << simd << ": train " << format_double(train_s, 2)
            << " s, add " << format_double(add_s, 2) << " s (" << format_double(add_vps, 0) << " vec/s, "
            << format_double(1e6 / add_vps, 1) << " us/vec), serialized " << index_bytes << " B ("
            << format_double(static_cast<double>(index_bytes) / static_cast<double>(n), 2) << " B/vec), codebooks "
            << mem.codebook_bytes << " B in memory"
            << (index.codebooks()->local() ? " (LOPQ local codebooks " +
                                                 std::to_string(index.codebooks()->local()->memory_bytes()) + " B, " +
                                                 std::to_string(index.codebooks()->local()->num_groups()) + " groups)"
                                           : std::string())
            << "\n";

  // ---- search sweep --------------------------------------------------------------------------------
  csv_writer out(std::cout);
  std::string label_base = built;
  if (ivf_metric != natural) label_base += std::string("-") + to_string(ivf_metric);
  if (o.polysemous_ht > 0) label_base += "-ht" + std::to_string(o.polysemous_ht);
  std::vector<std::vector<search_hit>> results;
  for (std::size_t rf : refines) {
    for (std::size_t np : nprobes) {
      search_params sp;
      sp.limit = o.k;
      sp.nprobes = np;
      sp.refine_factor = rf;
      sp.polysemous_ht = o.polysemous_ht;
      if (status v = sp.validate(); !v) exit_with(k_exit_usage, v.error().to_string());
      const double load_before = load_average_1min();
      const timing b1 = time_batch_1t(index, queries.values.data(), nq, sp, o.reps, results);
      const double recall = require(recall_at(ids_of(results), gt, k_recall_at), k_exit_failure, "recall");
      const timing b2 = time_batch_threads(index, queries.values.data(), nq, d, sp, o.reps, k_batch_threads);
      timing s1;
      if (nq_single > 0) s1 = time_single(index, queries.values.data(), nq_single, d, sp, o.reps, o.warmup);
      const double load_after = load_average_1min();

      bench_row row;
      row.dataset = dataset;
      row.system = o.system;
      row.index = label_base + (rf > 0 ? "+refine" : "");
      row.metric = o.metric;
      row.nlist = o.nlist;
      row.m = o.m;
      row.nbits = o.nbits;
      row.refine = rf;
      row.nprobe = np;
      row.k = o.k;
      row.recall10 = recall;
      if (nq_single > 0) {
        row.qps_single_1t = s1.best_qps;
        row.cpu_qps_single_1t = s1.best_cpu_qps;
      }
      row.qps_batch_1t = b1.best_qps;
      row.cpu_qps_batch_1t = b1.best_cpu_qps;
      row.qps_batch_2t = b2.best_qps;
      row.train_s = train_s;
      row.add_vps = add_vps;
      row.index_bytes = index_bytes;
      row.bytes_per_vec = static_cast<double>(index_bytes) / static_cast<double>(n);
      row.nq_single = nq_single;
      row.nq_batch = nq;
      row.run = 1;
      row.notes = "best of " + std::to_string(o.reps) + "; worst single/b1/b2 " + format_double(s1.worst_qps, 0) +
                  "/" + format_double(b1.worst_qps, 0) + "/" + format_double(b2.worst_qps, 0) + "; load1 " +
                  format_double(load_before, 2) + "->" + format_double(load_after, 2) + "; ivf_metric " +
                  to_string(ivf_metric) + "; simd " + simd + "; resident codes+ids+terms " +
                  format_double(mem.resident_bytes_per_vector(), 2) + " B/vec; saved raw vectors " +
                  std::to_string(saved.raw_vector_bytes) + " B (not in index_bytes)";
      out.write(row);
      std::cerr << "  " << dataset << " " << row.index << " nl=" << o.nlist << " M=" << o.m << " b=" << o.nbits
                << " nprobe=" << np << " R@10=" << format_double(recall, 4)
                << " qps single1t=" << format_double(s1.best_qps, 1) << " batch1t=" << format_double(b1.best_qps, 1)
                << " batch2t=" << format_double(b2.best_qps, 1) << "\n";
    }
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto opts = std::make_shared<bench_options>();
  CLI::App* sub = app.add_subcommand(
      "bench",
      "Build an IVF-PQ index over --base and print recall@10 / QPS / build cost as CSV (one row per refine x "
      "nprobe; header first) following the harness contract of ../shared/bench/README.md. Diagnostics go "
      "to stderr.");
  sub->add_option("--base", opts->base, "base vectors (.fvecs, .bvecs or .npy); all are indexed with ids 0..n-1")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--queries", opts->queries, "query vectors (.fvecs, .bvecs or .npy)")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--gt", opts->gt, "exact neighbours (.ivecs, row i = query i, nearest first, >= 10 columns)")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--metric", opts->metric, "the data set's metric: l2 (index metric l2) or ip (index metric dot)")
      ->required()->check(CLI::IsMember({"l2", "ip"}));
  sub->add_option("--nlist", opts->nlist, "IVF lists (num_partitions)")->required()->check(CLI::PositiveNumber);
  sub->add_option("--m", opts->m, "PQ sub-quantizers (num_sub_vectors); must divide the dimension")
      ->required()->check(CLI::PositiveNumber);
  sub->add_option("--nbits", opts->nbits, "bits per sub-code (num_bits)")
      ->required()->check(CLI::IsMember({4u, 6u, 8u, 10u, 12u}));
  sub->add_option("--nprobe", opts->nprobe, "comma list of nprobes, e.g. 1,2,4,8,16,32,64")->required();
  sub->add_option("--refine", opts->refine, "comma list of refine factors (0 = none)")->capture_default_str();
  sub->add_option("--k", opts->k, "neighbours per query (limit); recall is always recall@10")->capture_default_str();
  sub->add_option("--nq-single", opts->nq_single, "queries timed one at a time (the first N)")->capture_default_str();
  sub->add_option("--nq-batch", opts->nq_batch, "queries in the batch runs and for recall (0 = all)")->capture_default_str();
  sub->add_option("--reps", opts->reps, "timed passes per figure->capture_default_str(); the best is reported");
  sub->add_option("--dataset", opts->dataset, "data set label (default: the folder of --base)");
  sub->add_option("--system", opts->system, "system label")->capture_default_str();
  sub->add_option("--ivf-metric", opts->ivf_metric,
                  "index metric override: l2, cosine or dot (default l2 for --metric l2, dot for ip; cosine is "
                  "equivalent to ip on unit-norm data)")
      ->check(CLI::IsMember({"l2", "cosine", "dot"}));
  sub->add_option("--max-iterations", opts->max_iterations, "k-means iterations (coarse and PQ)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--sample-rate", opts->sample_rate, "k-means training samples per centroid")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--seed", opts->seed, "training seed")->capture_default_str();
  sub->add_option("--warmup", opts->warmup, "untimed single queries before each single-query timing")->capture_default_str();
  sub->add_option("--add-batch", opts->add_batch, "vectors per add() call (0 = all in one call)")->capture_default_str();
  sub->add_option("--storage-dir", opts->storage_dir, "vector store directory (default: private temp dir)");
  sub->add_option("--save-dir", opts->save_dir, "directory for the temporary saved index (default: temp dir)");
  sub->add_option("--train-threads", opts->train_threads, "training threads (0 = all hardware threads)")
      ->capture_default_str();
  sub->add_option("--accelerator", opts->accelerator, "training device: cpu, cuda or auto (GPU if present)")
      ->capture_default_str()->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  sub->add_flag("--opq", opts->opq, "learn an OPQ rotation before the residual PQ (same code size)");
  sub->add_option("--opq-iterations", opts->opq_iterations, "OPQ Procrustes alternations (0 = parametric start only)")
      ->capture_default_str();
  sub->add_flag("--lopq", opts->lopq,
                "LOPQ: per group of lists an OPQ rotation + PQ codebooks from its own residuals (same code size)");
  sub->add_option("--lopq-groups", opts->lopq_groups, "LOPQ groups of lists, 1 … nlist (nlist = one per list)")
      ->capture_default_str();
  sub->add_option("--lopq-iterations", opts->lopq_iterations,
                  "LOPQ Procrustes alternations per group (0 = eigenvalue allocation only)")
      ->capture_default_str();
  sub->add_option("--lopq-min-points", opts->lopq_min_points,
                  "LOPQ: a group needs this many x 2^nbits training vectors, else it keeps the global codebooks")
      ->capture_default_str();
  sub->add_option("--quantizer", opts->quantizer,
                  "residual quantizer: pq, rq (residual) or lsq (local search); rq/lsq use M-1 codebooks + 1 norm byte")
      ->capture_default_str()->check(CLI::IsMember({"pq", "rq", "lsq"}));
  sub->add_option("--rq-beam-size", opts->rq_beam_size, "rq/lsq encoding beam (1 = greedy)")->capture_default_str();
  sub->add_option("--lsq-iterations", opts->lsq_iterations, "lsq training rounds")->capture_default_str();
  sub->add_option("--lsq-icm-iterations", opts->lsq_icm_iterations, "lsq ICM sweeps per encode")->capture_default_str();
  sub->add_option("--coarse-quantizer", opts->coarse_quantizer,
                  "IVF coarse quantizer: flat or imi (inverted multi-index; --nlist must be 2^(2 x --imi-bits))")
      ->capture_default_str()->check(CLI::IsMember({"flat", "imi"}));
  sub->add_option("--imi-bits", opts->imi_bits, "imi: bits per half codebook, 1..10")->capture_default_str();
  sub->add_flag("--polysemous", opts->polysemous, "order PQ codes so that Hamming distance tracks distance (nbits 8)");
  sub->add_option("--polysemous-iterations", opts->polysemous_iterations,
                  "polysemous annealing swap proposals per sub-quantizer")
      ->capture_default_str();
  sub->add_option("--polysemous-ht", opts->polysemous_ht,
                  "Hamming threshold of every search (needs --polysemous; 0 = off, at most 8 x code bytes)")
      ->capture_default_str();
  sub->callback([opts] { run_bench(*opts); });
}

}  // namespace ivfstream::apps
