#define BOOST_TEST_MODULE vector_gc
// Garbage collection of the vector store (ivfpq_index::collect_garbage, index_options::vector_gc_fraction):
// the rows of replaced and deleted vectors are reclaimed, the files go away, and nothing a user sees
// changes: the same answers (refine reads the moved rows), the same raw vectors, the same after save/load.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_d = 16, k_n = 2000, k_rows_per_segment = 100;

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("ivfstream-gc-test-" + std::to_string(::getpid()));
  temp_dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
};

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

index_params params() {
  index_params p;
  p.dimension = k_d;
  p.metric = metric::l2;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.train_threads = 1;
  return p;
}

ivfpq_index make(const std::string& storage_dir, double gc_fraction) {
  index_options io;
  io.storage_dir = storage_dir;
  io.segment_bytes = k_rows_per_segment * k_d * sizeof(float);
  io.vector_gc_fraction = gc_fraction;
  auto index = ivfpq_index::create(params(), io);
  BOOST_REQUIRE(index);
  const auto x = test::clustered_data(k_n, k_d, 20, 1);
  BOOST_REQUIRE(index->train(x.data(), k_n));
  std::vector<std::uint64_t> ids(k_n);
  std::iota(ids.begin(), ids.end(), 0);
  BOOST_REQUIRE(index->add(ids.data(), x.data(), k_n));
  return std::move(*index);
}

/// (id, distance) of every hit of 40 queries, refined (reads the raw rows) and not.
std::vector<std::pair<std::uint64_t, float>> answers(const ivfpq_index& index) {
  const auto q = test::clustered_data(40, k_d, 20, 77);
  std::vector<std::pair<std::uint64_t, float>> out;
  for (std::size_t refine : {0u, 3u}) {
    search_params sp;
    sp.limit = 10;
    sp.nprobes = 4;
    sp.refine_factor = refine;
    auto hits = index.search_batch(q.data(), 40, sp);
    BOOST_REQUIRE(hits);
    for (const auto& h : *hits)
      for (const auto& hit : h) out.emplace_back(hit.id, hit.distance);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(collect_garbage_reclaims_dead_rows_and_changes_no_answer) {
  temp_dir dir;
  const fs::path store_dir = dir.path / "store";
  auto index = make(store_dir.string(), 1.0);  // ≥ 1: never automatically
  // replace 1200 vectors, delete 300 others: 1500 dead rows of 3200
  const auto y = test::clustered_data(1200, k_d, 20, 2);
  std::vector<std::uint64_t> ids(1200);
  std::iota(ids.begin(), ids.end(), 0);
  BOOST_REQUIRE(index.add(ids.data(), y.data(), 1200));
  std::vector<std::uint64_t> gone(300);
  std::iota(gone.begin(), gone.end(), 1500);
  BOOST_REQUIRE(index.remove(gone.data(), gone.size()));
  BOOST_TEST(index.size() == 1700u);
  BOOST_TEST(index.store()->size() == 3200u);
  BOOST_TEST(index.dead_vector_rows() == 1500u);
  BOOST_TEST(files_in(store_dir) == 32u);
  const auto before = answers(index);

  BOOST_REQUIRE(index.collect_garbage());
  BOOST_TEST(index.dead_vector_rows() == 0u);
  BOOST_TEST(index.store()->size() == 1700u);
  BOOST_TEST(index.memory().vector_store_used_bytes == 1700u * k_d * sizeof(float));
  BOOST_TEST(files_in(store_dir) == 17u);  // 15 segment files released
  const auto after = answers(index);
  BOOST_REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    BOOST_TEST(after[i].first == before[i].first, "hit " << i);
    BOOST_TEST(after[i].second == before[i].second, "hit " << i);
  }
  // every live id still has its latest vector
  for (std::uint64_t id : {0u, 5u, 1199u})
    BOOST_TEST(std::memcmp(index.raw_vector(id), y.data() + id * k_d, k_d * sizeof(float)) == 0, "id " << id);
  const auto x = test::clustered_data(k_n, k_d, 20, 1);
  for (std::uint64_t id : {1200u, 1499u, 1800u, 1999u})
    BOOST_TEST(std::memcmp(index.raw_vector(id), x.data() + id * k_d, k_d * sizeof(float)) == 0, "id " << id);
  for (std::uint64_t id : gone) BOOST_TEST(!index.find(id).has_value());

  // save after GC, load: identical answers
  const std::string path = (dir.path / "gc.ivfi").string();
  BOOST_REQUIRE(index.save(path));
  auto loaded = ivfpq_index::load(path);
  BOOST_REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
  const auto reloaded = answers(*loaded);
  BOOST_REQUIRE(reloaded.size() == before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    BOOST_TEST(reloaded[i].first == before[i].first, "hit " << i);
    BOOST_TEST(reloaded[i].second == before[i].second, "hit " << i);
  }

  // the collected index keeps working: an upsert after GC lands on a fresh row and is found first
  const std::uint64_t id = 7;
  std::vector<float> v(k_d, 4.0f);
  BOOST_REQUIRE(index.add(&id, v.data(), 1));
  BOOST_TEST(std::memcmp(index.raw_vector(id), v.data(), k_d * sizeof(float)) == 0);
  search_params sp;
  sp.limit = 1;
  sp.nprobes = 16;
  sp.refine_factor = 5;
  auto hit = index.search(v.data(), sp);
  BOOST_REQUIRE(hit);
  BOOST_REQUIRE(hit->size() == 1u);
  BOOST_TEST((*hit)[0].id == id);
  BOOST_TEST((*hit)[0].distance == 0.0f);
}

BOOST_AUTO_TEST_CASE(automatic_collection_bounds_dead_rows_and_matches_no_collection) {
  temp_dir dir;
  auto never = make("", 1.0);
  auto half = make((dir.path / "half").string(), 0.5);
  // overwrite the same 500 ids six times, deleting a few each round
  for (std::uint64_t round = 0; round < 6; ++round) {
    const auto y = test::clustered_data(500, k_d, 20, 100 + round);
    std::vector<std::uint64_t> ids(500);
    std::iota(ids.begin(), ids.end(), round * 50);
    BOOST_REQUIRE(never.add(ids.data(), y.data(), 500));
    BOOST_REQUIRE(half.add(ids.data(), y.data(), 500));
    const std::uint64_t del[2] = {1900 - round, 3 + round};
    BOOST_REQUIRE(never.remove(del, 2));
    BOOST_REQUIRE(half.remove(del, 2));
    BOOST_TEST(half.dead_vector_rows() * 2 <= half.store()->size(), "round " << round);
  }
  BOOST_TEST(never.dead_vector_rows() > never.size());  // without GC the garbage outgrows the live rows
  BOOST_TEST(half.size() == never.size());
  BOOST_TEST(half.store()->size() < never.store()->size());
  const auto a = answers(never), b = answers(half);
  BOOST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].first == b[i].first, "hit " << i);
    BOOST_TEST(a[i].second == b[i].second, "hit " << i);
  }
}

BOOST_AUTO_TEST_CASE(bad_gc_fraction_is_an_error) {
  index_options io;
  io.vector_gc_fraction = -0.1;
  auto index = ivfpq_index::create(params(), io);
  BOOST_REQUIRE(!index);
  BOOST_TEST(index.error().code() == errc::invalid_argument);
  BOOST_TEST(index.error().message().find("vector_gc_fraction=") != std::string::npos);
}
