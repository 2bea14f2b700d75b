// Quantizer options of ivfpq_index side by side on one data set (plain PQ, polysemous filtering at
// several thresholds, ...): recall@10 against the data set's ground truth, single-query QPS on one
// thread, scan time per query (search_planned on precomputed plans: table building + list scans +
// merge), bytes/vector of the codes, training time. Numbers for bench/README.md, never assertions.
//   ivfstream_quant_bench DIR [nlist=256] [M=16] [nprobe=16] [nq=500] [ht=0,44,48,52] [max_iter=20]
//                         [options=pq,poly] [sample_rate=256] [beam=4] [lsq_iterations=4]
//                         [lopq_groups=16] [opq_iterations=10]
// options: any of pq (plain IVFPQ), poly (polysemous, its ht list and multi-index hashing), poly_faiss
// (polysemous with FAISS's annealing objective and schedule, 500,000 swap proposals per sub-quantizer as
// FAISS's default; index/polysemous.hpp), rq and lsq (additive quantizers, index/additive_quantizer.hpp),
// opq (global OPQ rotation), lopq (LOPQ, index/local_codebooks.hpp: per group of lists a rotation + PQ
// codebooks), imi (inverted multi-index with nlist = 4^imi_bits cells: the same number of lists as flat)
// and imi_opq (imi with an OPQ rotation of the cell residuals). Each option's codebook memory
// is printed as a "# <option> codebook_bytes=..." line. Equal bytes per vector: every option gets
// num_sub_vectors = M, i.e. PQ M × 8 bits against RQ/LSQ M − 1 codebooks + 1 norm byte.
// DIR holds base.fvecs, query.fvecs, gt.ivecs (layout: /work/shared/bench/README.md). Metric l2.
// Search times are the calling thread's CPU time (the figure to quote on a shared machine); training
// time is wall clock (training may run on several threads).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "index/multi_index_hash.hpp"
#include "kernels/hamming.hpp"

using namespace ivfstream;

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

/// Rows of an fvecs/ivecs file (each row: int32 dim, then dim 4-byte values); dim out.
template <class T>
std::vector<T> read_vecs(const std::string& path, std::size_t& dim, std::size_t max_rows = SIZE_MAX) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<T> out;
  std::int32_t d = 0;
  std::size_t rows = 0;
  while (rows < max_rows && in.read(reinterpret_cast<char*>(&d), 4)) {
    dim = static_cast<std::size_t>(d);
    const std::size_t at = out.size();
    out.resize(at + dim);
    in.read(reinterpret_cast<char*>(out.data() + at), static_cast<std::streamsize>(dim * sizeof(T)));
    ++rows;
  }
  return out;
}

std::vector<std::size_t> parse_list(const char* s) {
  std::vector<std::size_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoul(item));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [nlist] [M] [nprobe] [nq] [ht,...] [max_iter]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::size_t nlist = argc > 2 ? std::stoul(argv[2]) : 256, M = argc > 3 ? std::stoul(argv[3]) : 16;
  const std::size_t nprobe = argc > 4 ? std::stoul(argv[4]) : 16, nq_max = argc > 5 ? std::stoul(argv[5]) : 500;
  const auto hts = parse_list(argc > 6 ? argv[6] : "0,44,48,52");
  const std::size_t max_iter = argc > 7 ? std::stoul(argv[7]) : 20;
  std::vector<std::string> options;
  {
    std::stringstream ss(argc > 8 ? argv[8] : "pq,poly");
    for (std::string o; std::getline(ss, o, ',');) options.push_back(o);
  }
  const std::size_t sample_rate = argc > 9 ? std::stoul(argv[9]) : 256, beam = argc > 10 ? std::stoul(argv[10]) : 4;
  const std::size_t lsq_iter = argc > 11 ? std::stoul(argv[11]) : 4;
  // opq / lopq (index/local_codebooks.hpp): LOPQ groups of lists, and the global OPQ's alternations
  const std::size_t lopq_groups = argc > 12 ? std::stoul(argv[12]) : 16;
  const std::size_t opq_iter = argc > 13 ? std::stoul(argv[13]) : index_params{}.opq_iterations;
  std::size_t d = 0, dq = 0, dg = 0;
  const auto base = read_vecs<float>(dir + "/base.fvecs", d);
  const auto queries = read_vecs<float>(dir + "/query.fvecs", dq, nq_max);
  const auto gt = read_vecs<std::int32_t>(dir + "/gt.ivecs", dg, nq_max);
  const std::size_t n = base.size() / d, nq = queries.size() / dq;
  std::printf("# %s: n=%zu d=%zu nq=%zu nlist=%zu M=%zu nbits=8 nprobe=%zu max_iter=%zu sample_rate=%zu beam=%zu "
              "lsq_iterations=%zu\n",
              dir.c_str(), n, d, nq, nlist, M, nprobe, max_iter, sample_rate, beam, lsq_iter);
  std::printf("option,ht,recall10,qps_1t_cpu,scan_us_per_query,skipped_frac,bytes_per_vec,train_s_wall,add_s_wall\n");
  for (const std::string& opt : options) {
    const bool poly = opt == "poly" || opt == "poly_faiss";
    const bool imi = opt == "imi" || opt == "imi_opq";
    const char* name = opt == "pq"           ? "IVFPQ"
                       : opt == "poly"       ? "IVFPQ-polysemous"
                       : opt == "poly_faiss" ? "IVFPQ-polysemous-faiss"
                       : opt == "rq"         ? "IVFRQ"
                       : opt == "opq"        ? "OPQ-IVFPQ"
                       : opt == "lopq"       ? "LOPQ-IVFPQ"
                       : opt == "imi"        ? "IMI-IVFPQ"
                       : opt == "imi_opq"    ? "IMI-OPQ-IVFPQ"
                                             : "IVFLSQ";
    if (opt != "pq" && opt != "poly" && opt != "poly_faiss" && opt != "rq" && opt != "lsq" && opt != "opq" &&
        opt != "lopq" && opt != "imi" && opt != "imi_opq")
      return std::fprintf(stderr, "unknown option %s: must be pq, poly, poly_faiss, rq, lsq, opq, lopq, imi or imi_opq\n",
                          opt.c_str()), 2;
    unsigned imi_bits = 0;  // imi: nlist = 4^imi_bits cells
    while ((std::size_t{1} << (2 * (imi_bits + 1))) <= nlist) ++imi_bits;
    if (imi && (std::size_t{1} << (2 * imi_bits)) != nlist)
      return std::fprintf(stderr, "option %s: nlist=%zu must be a power of 4\n", opt.c_str(), nlist), 2;
    index_params p;
    p.dimension = d;
    p.num_partitions = nlist;
    p.num_sub_vectors = M;
    p.num_bits = 8;
    p.max_iterations = max_iter;
    p.keep_raw_vectors = false;
    p.polysemous = poly;
    p.sample_rate = sample_rate;
    p.quantizer = opt == "rq" ? quantizer_kind::rq : opt == "lsq" ? quantizer_kind::lsq : quantizer_kind::pq;
    p.rq_beam_size = beam;
    p.lsq_iterations = lsq_iter;
    if (opt == "poly_faiss") {
      p.polysemous_objective = polysemous_objective_kind::faiss;
      p.polysemous_iterations = 500000;  // FAISS's SimulatedAnnealingParameters n_iter
    }
    if (imi) {
      p.coarse_quantizer = coarse_quantizer_kind::imi;
      p.imi_bits = imi_bits;
    }
    p.opq = opt == "opq" || opt == "imi_opq";  // global OPQ rotation
    p.opq_iterations = opq_iter;
    p.lopq = opt == "lopq";  // per-group rotation + codebooks, min(lopq_groups, nlist) groups
    p.lopq_groups = std::min(lopq_groups, nlist);
    auto index = ivfpq_index::create(p);
    if (!index) return std::fprintf(stderr, "%s\n", index.error().to_string().c_str()), 1;
    const auto t0 = std::chrono::steady_clock::now();  // wall: training may use several threads
    if (auto st = index->train(base.data(), n); !st) return std::fprintf(stderr, "%s\n", st.error().to_string().c_str()), 1;
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::uint64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = i;
    const auto t1 = std::chrono::steady_clock::now();
    if (auto st = index->add(ids.data(), base.data(), n); !st) return 1;
    const double add_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    {  // codebook memory (LOPQ: what its local codebooks add), as a comment line beside the CSV
      const codebook_set& cb = *index->codebooks();
      std::printf("# %s codebook_bytes=%zu", name, cb.memory_bytes());
      if (cb.local())
        std::printf(" lopq_local_bytes=%zu lopq_groups=%zu lopq_local_lists=%zu", cb.local()->memory_bytes(),
                    cb.local()->num_groups(), cb.local()->num_local_lists());
      std::printf("\n");
    }
    auto plans = index->codebooks()->plan_queries(queries.data(), nq, nprobe);
    if (!plans) return 1;
    for (std::size_t ht : hts) {
      if (!poly && ht != 0) continue;
      search_params sp;
      sp.limit = 10;
      sp.nprobes = nprobe;
      sp.polysemous_ht = ht;
      scan_counters c;
      sp.counters = &c;
      // scan: search_planned on precomputed plans; end to end: search one query at a time
      // each timing is the best of 3 passes (the machine is shared: the minimum is the least disturbed)
      std::size_t hit = 0;
      double scan_s = 1e30, all_s = 1e30;
      for (int rep = 0; rep < 3; ++rep) {
        sp.counters = rep == 0 ? &c : nullptr;
        double t = cpu_seconds();
        for (std::size_t i = 0; i < nq; ++i) {
          auto r = index->search_planned((*plans)[i], sp);
          if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
          if (rep > 0) continue;
          std::set<std::int32_t> truth(&gt[i * dg], &gt[i * dg] + 10);
          for (const auto& h : *r) hit += truth.count(static_cast<std::int32_t>(h.id));
        }
        scan_s = std::min(scan_s, cpu_seconds() - t);
        t = cpu_seconds();
        for (std::size_t i = 0; i < nq; ++i)
          if (!index->search(&queries[i * d], sp)) return 1;
        all_s = std::min(all_s, cpu_seconds() - t);
      }
      std::printf("%s,%zu,%.4f,%.0f,%.1f,%.3f,%zu,%.1f,%.1f\n", name, ht,
                  double(hit) / double(nq * 10), double(nq) / all_s, scan_s / double(nq) * 1e6,
                  double(c.skipped) / double(std::max<std::size_t>(1, c.skipped + c.scanned)),
                  index->codebooks()->code_size(), train_s, add_s);
      std::fflush(stdout);
    }
    if (!poly) continue;
    // Multi-index hashing over all n polysemous codes: Hamming-radius search of each query's own code
    // (its residual's PQ code in its nearest list) against a linear hamming_filter over the same codes.
    std::vector<std::uint8_t> codes;
    for (const auto& l : index->lists()) codes.insert(codes.end(), l.codes(), l.codes() + l.size() * l.code_size());
    const std::size_t cs = index->codebooks()->code_size(), nc = codes.size() / cs;
    std::vector<std::uint32_t> lists(nq);
    std::vector<std::uint8_t> qcodes(nq * cs);
    index->codebooks()->encode(queries.data(), nq, lists.data(), qcodes.data());
    std::printf("# multi-index hashing over %zu codes of %zu bytes (m = substrings)\n", nc, cs);
    std::printf("mih_m,radius,mih_us_per_query,linear_us_per_query,found_per_query,candidates_per_query,identical\n");
    std::vector<std::uint32_t> slots(nc);
    for (std::size_t m : {8u, 16u}) {
      auto h = multi_index_hash::build(codes.data(), nc, cs, m);
      if (!h) return 1;
      for (unsigned r : {8u, 16u, 24u, 32u}) {
        mih_stats st;
        std::size_t found = 0, same = 1;
        double t_mih = 0, t_lin = 0;
        for (std::size_t i = 0; i < nq; ++i) {
          double t = cpu_seconds();
          auto got = h->search(&qcodes[i * cs], r, &st);
          t_mih += cpu_seconds() - t;
          if (!got) return std::fprintf(stderr, "%s\n", got.error().to_string().c_str()), 1;
          t = cpu_seconds();
          const std::size_t hits = kernels::hamming_filter(codes.data(), nc, cs, &qcodes[i * cs], r, slots.data());
          t_lin += cpu_seconds() - t;
          found += got->size();
          same &= std::equal(got->begin(), got->end(), slots.begin(), slots.begin() + hits) && got->size() == hits;
        }
        std::printf("%zu,%u,%.1f,%.1f,%.1f,%.1f,%s\n", m, r, t_mih / double(nq) * 1e6, t_lin / double(nq) * 1e6,
                    double(found) / double(nq), double(st.candidates) / double(nq), same ? "yes" : "NO");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
