// The embedded API in one page: open an engine (no Kafka), create an IVF_PQ index, stream upserts
// in, search LanceDB-style, update and delete, checkpoint and reopen.
//
//   build/apps/embedded_example [data_dir]
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "actors/engine.hpp"

int main(int argc, char** argv) {
  using namespace ivfstream;
  constexpr std::size_t d = 64, n = 20000;
  const std::string dir = argc > 1 ? argv[1] : "";

  engine_options opts;
  opts.partition_actors = 4;  // inverted list l lives in partition actor l % 4
  opts.data_dir = dir;        // empty: nothing survives the process
  auto opened = engine::open(opts);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().to_string().c_str());
    return 1;
  }
  engine& db = **opened;

  index_params params;  // LanceDB create_index(metric="l2", num_partitions=64, num_sub_vectors=16, num_bits=8)
  params.dimension = d;
  params.num_partitions = 64;
  params.num_sub_vectors = 16;
  params.num_bits = 8;
  if (auto st = db.create_index(params); !st) {  // trains itself once enough vectors have arrived
    std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
    return 1;
  }

  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::vector<float> x(n * d);
  for (auto& v : x) v = g(rng);
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = 1000 + i;
  for (std::size_t off = 0; off < n; off += 1000)  // each call returns once its vectors are searchable
    if (auto st = db.upsert(ids.data() + off, x.data() + off * d, 1000); !st) {
      std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
      return 1;
    }

  // Synchronous search: the LanceDB-like builder.
  auto hits = db.search(x.data() + 42 * d, d).nprobes(10).limit(5).refine_factor(2).to_list();
  if (!hits) {
    std::fprintf(stderr, "%s\n", hits.error().to_string().c_str());
    return 1;
  }
  std::printf("nearest to row 42 (id 1042):%s\n", hits->partial ? " (partial)" : "");
  for (const auto& h : hits->hits) std::printf("  id %llu  distance %.4f\n", (unsigned long long)h.id, h.distance);

  // Asynchronous forms: a future, or a callback on an actor thread.
  auto fut = db.search(x.data() + 7 * d, d).limit(3).to_future();
  db.search(x.data() + 8 * d, d).limit(3).then([](result<search_result> r) {
    if (r) std::printf("callback: %zu hits\n", r->hits.size());
  });
  if (auto r = fut.get(); r) std::printf("future: best id %llu\n", (unsigned long long)r->hits.at(0).id);

  // Upsert replaces by id; remove deletes.
  std::vector<float> moved(x.begin() + 5 * d, x.begin() + 6 * d);
  std::uint64_t id = 1042;
  (void)db.upsert(&id, moved.data(), 1);
  (void)db.remove(ids.data() + 5, 1);  // id 1005: row 5's vector now answers with id 1042
  auto again = db.search(moved).limit(1).refine_factor(2).to_list();
  if (again && !again->hits.empty())
    std::printf("after update: nearest to row 5 is id %llu\n", (unsigned long long)again->hits[0].id);

  if (!dir.empty()) {
    auto seq = db.checkpoint();
    if (seq) std::printf("checkpoint %llu written to %s; reopen to restore it\n", (unsigned long long)*seq, dir.c_str());
  }
  auto stats = db.stats();
  if (stats) std::printf("%llu vectors, codebook version %llu\n", (unsigned long long)stats->vectors,
                         (unsigned long long)stats->codebook_version);
  return 0;
}
