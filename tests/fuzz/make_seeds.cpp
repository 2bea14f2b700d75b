// Writes the seed corpora of the fuzz targets from real records: every file is produced by the
// project's own encoders and save functions (record_codec, ivfpq_index::save, write_manifest,
// partition_state::save, dump_config; the vector files by
// their formats' layouts), so the fuzzers start from inputs that pass every check.
// Usage: ivfstream_fuzz_seeds <out_dir>; writes <out_dir>/<target>/<name> (about 20 KB in all).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "actors/checkpoint.hpp"
#include "actors/partition_state.hpp"
#include "actors/peer_codec.hpp"
#include "actors/train_codec.hpp"
#include "config/config_loader.hpp"
#include "connectors/record_codec.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/train_message_requests.hpp"

namespace fs = std::filesystem;
using namespace ivfstream;
using namespace ivfstream::connectors;

namespace {

void put(const fs::path& dir, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::cerr << "cannot write " << (dir / name) << "\n";
    std::exit(1);
  }
}

void put_text(const fs::path& dir, const std::string& name, const std::string& text) {
  put(dir, name, std::vector<std::uint8_t>(text.begin(), text.end()));
}

std::vector<std::uint8_t> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> gaussian(std::size_t n, std::size_t d, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(n * d);
  for (float& v : x) v = g(rng);
  return x;
}

std::vector<std::uint64_t> iota_ids(std::size_t n, std::uint64_t first) {
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = first + i * 7;
  return ids;
}

void check(const status& s, const char* what) {
  if (!s) {
    std::cerr << what << ": " << s.error().message() << "\n";
    std::exit(1);
  }
}

void record_seeds(const fs::path& out) {
  const auto x = gaussian(3, 8, 1);
  const auto ids = iota_ids(3, 100);
  put(out / "vector_record", "upsert_3x8", encode_upserts(ids.data(), x.data(), 3, 8, 1700000000000000ull));
  const auto x4 = gaussian(1, 4, 2);
  put(out / "vector_record", "upsert_1x4", encode_upserts(ids.data(), x4.data(), 1, 4));
  put(out / "vector_record", "delete_2", encode_deletes(ids.data(), 2, 42));

  const auto q = gaussian(2, 8, 3);
  query_request_fields f;
  f.correlation_id = "corr-1";
  f.reply_topic = "ivfstream.replies";
  f.dimension = 8;
  f.vectors = q.data();
  f.num_queries = 1;
  put(out / "query_request", "defaults_1x8", encode_query_request(f));
  f.num_queries = 2;
  f.k = 5;
  f.nprobes = 3;
  f.refine_factor = 2;
  f.deadline_ms = 250;
  put(out / "query_request", "full_2x8", encode_query_request(f));

  query_response r;
  r.correlation_id = "corr-1";
  r.results = {query_hits{{100, 107}, {0.5f, 1.25f}}, query_hits{{}, {}}};
  r.partial = true;
  r.missing_partitions = {1};
  r.server_time_us = 1234;
  put(out / "query_response", "ok_partial", encode_query_response(r));
  query_response e;
  e.correlation_id = "corr-2";
  e.error_code = 1;
  e.error_message = "k=0: must be in 1..1000";
  put(out / "query_response", "error", encode_query_response(e));
  dead_letter dl;
  dl.source_topic = "ivfstream.vectors";
  dl.source_partition = 2;
  dl.source_offset = 99;
  dl.error_code = 3;
  dl.reason = "dimension=4: index dimension is 8";
  dl.payload = encode_upserts(ids.data(), x4.data(), 1, 4);
  dl.source_key = {0, 0, 0, 0, 0, 0, 0, 100};
  dl.rejected_at_us = 5;
  put(out / "query_response", "dead_letter", encode_dead_letter(dl));
}

// [u32 LE length][snapshot][vectors file] (the layout index_snapshot_fuzz.cpp reads).
std::vector<std::uint8_t> pack_snapshot(const fs::path& path) {
  const auto snap = slurp(path);
  const fs::path raw = path.string() + ".vectors.1";  // first raw-vector generation (index/snapshot_files.hpp)
  const auto vecs = fs::exists(raw) ? slurp(raw) : std::vector<std::uint8_t>{};
  std::vector<std::uint8_t> out(4);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(snap.size() >> (8 * i));
  out.insert(out.end(), snap.begin(), snap.end());
  out.insert(out.end(), vecs.begin(), vecs.end());
  return out;
}

void snapshot_seeds(const fs::path& out, const fs::path& work) {
  struct variant {
    const char* name;
    metric m;
    unsigned bits;
    bool raw;
    bool train;
  };
  const variant variants[] = {{"l2_4bit_raw", metric::l2, 4, true, true},
                              {"cosine_8bit_noraw", metric::cosine, 8, false, true},
                              {"dot_untrained", metric::dot, 4, true, false}};
  for (const auto& v : variants) {
    index_params p = fuzz::fixed_params();
    p.metric = v.m;
    p.num_bits = v.bits;
    p.keep_raw_vectors = v.raw;
    auto index = ivfpq_index::create(p);
    check(index ? status{} : status{index.error()}, "create");
    if (v.train) {
      const auto x = gaussian(v.bits == 8 ? 512 : 64, 8, 4);
      check(index->train(x.data(), x.size() / 8), "train");
      const auto ids = iota_ids(24, 1);
      check(index->add(ids.data(), x.data(), 24), "add");
      check(index->remove(ids.data() + 3, 2), "remove");
    }
    const fs::path path = work / (std::string(v.name) + ".ivfi");
    check(index->save(path.string()), "save");
    put(out / "index_snapshot", v.name, pack_snapshot(path));
  }
}

void checkpoint_seeds(const fs::path& out, const fs::path& work) {
  const auto codebooks = fuzz::fixed_codebooks();
  // A partition snapshot holding real entries: encode vectors with the fixed codebooks.
  actors::partition_state state(0, 1);
  check(state.install(codebooks), "install");
  const std::size_t n = 12;
  const auto x = gaussian(n, 8, 5);
  actors::partition_update u;
  u.codebook_version = codebooks->version();
  u.ids = iota_ids(n, 1000);
  u.lists.resize(n);
  u.codes.resize(n * codebooks->code_size());
  codebooks->encode(x.data(), n, u.lists.data(), u.codes.data());
  u.vectors = x;
  check(state.apply(u), "apply");
  actors::partition_update d;
  d.codebook_version = codebooks->version();
  d.removes = {1000, 1007};
  check(state.apply(d), "apply removes");
  const fs::path part = work / "partition-0.ivps";
  check(state.save(part.string()), "partition save");
  put(out / "partition_snapshot", "twelve_minus_two", slurp(part));
  actors::partition_state empty(0, 1);
  check(empty.install(codebooks), "install");
  check(empty.save(part.string()), "partition save");
  put(out / "partition_snapshot", "empty", slurp(part));

  actors::checkpoint_manifest m;
  m.sequence = 7;
  m.created_unix_ms = 1700000000000;
  m.num_partition_actors = 2;
  m.codebooks = codebooks;
  m.partition_files = {"/data/checkpoint-7/partition-0.ivps", "/data/checkpoint-7/partition-1.ivps"};
  m.partition_sizes = {10, 0};
  m.offsets[{"ivfstream.vectors", 0}] = 120;
  m.offsets[{"ivfstream.vectors", 1}] = 98;
  m.train_after = 1000;
  check(actors::write_manifest(work.string(), m), "write_manifest");
  put(out / "checkpoint_manifest", "two_partitions", slurp(actors::manifest_path(work.string(), 7)));
}

void config_seeds(const fs::path& out) {
  put_text(out / "config", "defaults.toml", dump_config(service_config{}));
  put_text(out / "config", "kafka_sasl.toml", R"([kafka]
embedded_broker = false
brokers = "kafka-1:9092,kafka-2:9092"
group_id = "g1"
[kafka.topics]
vectors = "v"
[kafka.properties]
"security.protocol" = "SASL_SSL"
sasl.mechanism = "PLAIN"
sasl.password = "secret"
"queue.buffering.max.ms" = 5
[index]
metric = "cosine"
dimension = 64
num_sub_vectors = 8
num_bits = 4
[search]
nprobes = 7
[caps]
max_k = 50
[engine]
data_dir = "/var/lib/ivf"
)");
  std::string sets;
  for (const auto& k : config_keys()) sets += k.key + "=" + k.default_value + "\n";
  put_text(out / "config", "set_every_key.txt", sets);
}

// vector_file inputs: [format byte: 0 fvecs, 1 ivecs, 2 bvecs, 3 npy][file bytes] (vector_file_fuzz.cpp).
template <class T>
std::vector<std::uint8_t> vecs_file(std::uint8_t format, const std::vector<T>& values, std::size_t dim) {
  std::vector<std::uint8_t> out{format};
  const auto d32 = static_cast<std::int32_t>(dim);
  for (std::size_t r = 0; r < values.size() / dim; ++r) {
    const auto* h = reinterpret_cast<const std::uint8_t*>(&d32);
    out.insert(out.end(), h, h + sizeof d32);
    const auto* v = reinterpret_cast<const std::uint8_t*>(values.data() + r * dim);
    out.insert(out.end(), v, v + dim * sizeof(T));
  }
  return out;
}

// A .npy 1.0 file: magic, version, u16 LE header length, the header dict padded with spaces to a
// multiple of 64 bytes and ended by '\n', then the raw little-endian data.
std::vector<std::uint8_t> npy_file(const std::string& descr, const std::string& shape,
                                   const std::vector<std::uint8_t>& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<std::uint8_t> out{3, 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<std::uint8_t>(header.size() & 0xff));
  out.push_back(static_cast<std::uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <class T>
std::vector<std::uint8_t> raw_bytes(const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
  return {p, p + v.size() * sizeof(T)};
}

void vector_file_seeds(const fs::path& out) {
  const auto x = gaussian(3, 8, 6);
  put(out / "vector_file", "fvecs_3x8", vecs_file<float>(0, x, 8));
  put(out / "vector_file", "ivecs_2x4", vecs_file<std::int32_t>(1, {5, 1, 9, 2, 7, 3, 0, 4}, 4));
  put(out / "vector_file", "bvecs_2x3", vecs_file<std::uint8_t>(2, {0, 127, 255, 1, 2, 3}, 3));
  put(out / "vector_file", "npy_f4_3x8", npy_file("<f4", "(3, 8)", raw_bytes(x)));
  put(out / "vector_file", "npy_f8_4", npy_file("<f8", "(4,)", raw_bytes(std::vector<double>{1, -2, 3.5, 0})));
  put(out / "vector_file", "npy_u1_2x2", npy_file("|u1", "(2, 2)", {1, 2, 3, 4}));
  put(out / "vector_file", "npy_i2_1x3", npy_file("<i2", "(1, 3)", raw_bytes(std::vector<std::int16_t>{-7, 0, 7})));
  // An empty (0, 3) array: accepted with no rows (the first fuzz run's only finding was the harness
  // comparing its null data pointers; kept as a seed so every run checks that case).
  put(out / "vector_file", "npy_i2_0x3", npy_file("<i2", "(0, 3)", {}));
}

// [num_queries][max_candidates][message] (the layout peer_message_fuzz.cpp reads), messages from
// actors/peer_codec's encoders: requests with and without refine, an answer with candidates and a
// missing partition, an empty answer, a failure reply from an untrained node.
std::vector<std::uint8_t> peer_seed(std::uint8_t nq, std::uint8_t max_candidates, const std::vector<char>& msg) {
  std::vector<std::uint8_t> b{nq, max_candidates};
  b.insert(b.end(), msg.begin(), msg.end());
  return b;
}

void peer_seeds(const fs::path& out) {
  const auto cb = fuzz::fixed_codebooks();
  const actors::codebook_identity id{cb->version(), actors::codebook_fingerprint(*cb)};
  actors::peer_request rq;
  rq.codebooks = id;
  rq.dimension = 8;
  rq.queries = gaussian(2, 8, 7);
  rq.params.limit = 5;
  rq.params.nprobes = 3;
  rq.budget = std::chrono::microseconds(200000);
  put(out / "peer_message", "request_2x8", peer_seed(0, 0, actors::encode_peer_request(rq)));
  rq.queries = gaussian(1, 8, 8);
  rq.params.refine_factor = 2;
  rq.params.polysemous_ht = 6;
  put(out / "peer_message", "request_1x8_refine", peer_seed(0, 0, actors::encode_peer_request(rq)));

  actors::peer_reply rp;
  rp.codebooks = id;
  rp.results.resize(2);
  rp.results[0].candidates = {{100, 0.5f, 0.5f}, {107, 1.25f, 1.25f}, {114, 2.f, 2.f}};
  rp.results[1].candidates = {{121, 0.25f, 0.3f}};
  rp.results[1].missing_partitions = {1, 3};
  rp.server_time_us = 812;
  put(out / "peer_message", "reply_2_answers", peer_seed(2, 10, actors::encode_peer_reply(rp)));
  rp.results.assign(1, actors::peer_result{});
  put(out / "peer_message", "reply_empty_answer", peer_seed(1, 5, actors::encode_peer_reply(rp)));
  actors::peer_reply failed;
  failed.codebooks = {0, 0};
  failed.failure = fail(errc::version_mismatch, "codebooks version=3: this node has version 0 (not trained)");
  put(out / "peer_message", "reply_failure", peer_seed(3, 10, actors::encode_peer_reply(failed)));
}

// [request index][message] (the layout train_message_fuzz.cpp reads): each request of
// train_message_requests() and a node's answer to it (answer_train_request on gaussian rows, index
// shape of the request), a failure reply from a node of another shape, and an answer with max_rows.
void train_seeds(const fs::path& out) {
  const auto& requests = fuzz::train_message_requests();
  auto seed = [](std::size_t asked, const std::vector<char>& msg) {
    std::vector<std::uint8_t> b{static_cast<std::uint8_t>(asked)};
    b.insert(b.end(), msg.begin(), msg.end());
    return b;
  };
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    index_params own = fuzz::index_shape_of(r);
    const std::string name = std::to_string(i) + (r.phase == actors::train_phase::coarse ? "_coarse"
                                                  : r.phase == actors::train_phase::pq   ? "_pq"
                                                                                         : "_census");
    put(out / "train_message", "request_" + name, seed(i, actors::encode_train_request(r)));
    const auto rows = gaussian(6, r.dimension, static_cast<std::uint32_t>(20 + i));
    put(out / "train_message", "reply_" + name, seed(i, actors::encode_train_reply(
                                                        actors::answer_train_request(r, own, rows.data(), 6, 40))));
    own.num_partitions += 1;  // another shape: the answer is a failure naming num_partitions
    put(out / "train_message", "reply_failure_" + name, seed(i, actors::encode_train_reply(
                                                                actors::answer_train_request(r, own, rows.data(), 6, 40))));
  }
  // The target's first finding: finite centroids so large that a node's statistics overflow float.
  actors::train_request far = requests[2];
  std::fill(far.coarse.begin(), far.coarse.end(), 3e38f);
  std::fill(far.pq.begin(), far.pq.end(), -3e38f);
  put(out / "train_message", "request_2_pq_overflow", seed(2, actors::encode_train_request(far)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <out_dir>\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path work = fs::temp_directory_path() / ("ivfstream-seeds-" + std::to_string(::getpid()));
  fs::create_directories(work);
  record_seeds(out);
  snapshot_seeds(out, work);
  checkpoint_seeds(out, work);
  config_seeds(out);
  vector_file_seeds(out);
  peer_seeds(out);
  train_seeds(out);
  fs::remove_all(work);
  std::cout << "seeds written to " << out.string() << "\n";
  return 0;
}
