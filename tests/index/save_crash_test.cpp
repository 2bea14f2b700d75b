#define BOOST_TEST_MODULE save_crash
// Crash-consistent save (index/snapshot_files.hpp): a crash after any step of ivfpq_index::save leaves a
// snapshot that loads as the old index or as the new one — never a mix of the two — and the next save
// cleans up what the crash left behind.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_d = 16;

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("ivfstream-save-crash-test-" + std::to_string(::getpid()));
  temp_dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
};

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// Old index: 1500 vectors. New index: the old one plus 500 more, 300 replaced, 100 deleted.
ivfpq_index build(bool updated) {
  index_params p;
  p.dimension = k_d;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.train_threads = 1;
  auto index = ivfpq_index::create(p);
  BOOST_REQUIRE(index);
  const auto x = test::clustered_data(2000, k_d, 20, 3);
  BOOST_REQUIRE(index->train(x.data(), 2000));
  std::vector<std::uint64_t> ids(2000);
  std::iota(ids.begin(), ids.end(), 0);
  BOOST_REQUIRE(index->add(ids.data(), x.data(), 1500));
  if (updated) {
    BOOST_REQUIRE(index->add(ids.data() + 1500, x.data() + 1500 * k_d, 500));
    const auto y = test::clustered_data(300, k_d, 20, 4);
    BOOST_REQUIRE(index->add(ids.data(), y.data(), 300));
    BOOST_REQUIRE(index->remove(ids.data() + 700, 100));
  }
  return std::move(*index);
}

/// Every hit (id, distance) of 30 queries, refined on the raw vectors (so the .vectors file matters).
std::vector<std::pair<std::uint64_t, float>> answers(const ivfpq_index& index) {
  const auto q = test::clustered_data(30, k_d, 20, 9);
  search_params sp;
  sp.limit = 10;
  sp.nprobes = 16;
  sp.refine_factor = 4;
  auto hits = index.search_batch(q.data(), 30, sp);
  BOOST_REQUIRE(hits);
  std::vector<std::pair<std::uint64_t, float>> out;
  for (const auto& h : *hits)
    for (const auto& hit : h) out.emplace_back(hit.id, hit.distance);
  return out;
}

const char* name(save_step s) {
  switch (s) {
    case save_step::vectors_written: return "vectors_written";
    case save_step::vectors_renamed: return "vectors_renamed";
    case save_step::snapshot_written: return "snapshot_written";
    case save_step::snapshot_renamed: return "snapshot_renamed";
    case save_step::done: return "done";
  }
  return "?";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_crash_at_any_step_loads_the_old_or_the_new_index) {
  const auto old_index = build(false);
  const auto new_index = build(true);
  const auto old_answers = answers(old_index), new_answers = answers(new_index);
  BOOST_REQUIRE(old_answers != new_answers);
  for (save_step crash : {save_step::vectors_written, save_step::vectors_renamed, save_step::snapshot_written,
                          save_step::snapshot_renamed, save_step::done}) {
    BOOST_TEST_CONTEXT("crash after " << name(crash)) {
      temp_dir dir;
      const std::string path = (dir.path / "idx.ivfi").string();
      BOOST_REQUIRE(old_index.save(path));
      BOOST_REQUIRE(new_index.save_until(path, crash));  // the process "dies" here
      auto loaded = ivfpq_index::load(path);
      BOOST_REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
      const bool committed = crash >= save_step::snapshot_renamed;
      BOOST_TEST(loaded->size() == (committed ? new_index.size() : old_index.size()));
      BOOST_TEST((answers(*loaded) == (committed ? new_answers : old_answers)));
      // the next save after the "restart" replaces everything and removes the leftovers
      BOOST_REQUIRE(new_index.save(path));
      const auto names = names_in(dir.path);
      BOOST_TEST(names.size() == 2u, "files left: " << names.size());
      auto again = ivfpq_index::load(path);
      BOOST_REQUIRE(again);
      BOOST_TEST((answers(*again) == new_answers));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_crash_during_the_first_save_leaves_no_snapshot) {
  const auto index = build(false);
  for (save_step crash : {save_step::vectors_written, save_step::vectors_renamed, save_step::snapshot_written}) {
    BOOST_TEST_CONTEXT("crash after " << name(crash)) {
      temp_dir dir;
      const std::string path = (dir.path / "first.ivfi").string();
      BOOST_REQUIRE(index.save_until(path, crash));
      auto loaded = ivfpq_index::load(path);
      BOOST_REQUIRE(!loaded);
      BOOST_TEST(loaded.error().code() == errc::io_error);  // nothing under the final name
      BOOST_REQUIRE(index.save(path));
      BOOST_TEST(names_in(dir.path).size() == 2u);
      auto ok = ivfpq_index::load(path);
      BOOST_REQUIRE(ok);
      BOOST_TEST((answers(*ok) == answers(index)));
    }
  }
}

BOOST_AUTO_TEST_CASE(generations_are_numbered_past_any_present) {
  temp_dir dir;
  const std::string path = (dir.path / "g.ivfi").string();
  BOOST_TEST(next_vectors_generation(path) == 1u);
  const auto index = build(false);
  BOOST_REQUIRE(index.save(path));
  BOOST_TEST(fs::exists(path + ".vectors.1"));
  BOOST_REQUIRE(index.save_until(path, save_step::vectors_renamed));  // a crash leaves generation 2
  BOOST_TEST(next_vectors_generation(path) == 3u);
  BOOST_REQUIRE(index.save(path));
  BOOST_TEST((names_in(dir.path) == std::vector<std::string>{"g.ivfi", "g.ivfi.vectors.3"}));
  // a file of another snapshot in the same directory is not touched
  const std::string other = (dir.path / "h.ivfi").string();
  BOOST_REQUIRE(index.save(other));
  BOOST_REQUIRE(index.save(path));
  BOOST_TEST((names_in(dir.path) ==
              std::vector<std::string>{"g.ivfi", "g.ivfi.vectors.4", "h.ivfi", "h.ivfi.vectors.1"}));
}
