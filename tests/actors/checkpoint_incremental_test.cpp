// Incremental checkpoints: a checkpoint writes snapshots only of the partitions that changed since
// their newest snapshot and references the others' files in older checkpoint directories; retention
// keeps exactly the referenced files; a restart from such a chain answers exactly as before.
#define BOOST_TEST_MODULE checkpoint_incremental
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <unistd.h>

#include "actors/checkpoint.hpp"
#include "actors/engine.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 16, n = 3000;
constexpr std::uint32_t P = 4;

index_params params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

engine_options options(const fs::path& dir) {
  engine_options o;
  o.partition_actors = P;
  o.scheduler_threads = 2;
  o.data_dir = dir.string();
  return o;
}

std::unique_ptr<engine> open_engine(const engine_options& o) {
  auto e = engine::open(o);
  BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
  return std::move(*e);
}

// Partition files of checkpoint `seq` that live in its own directory (written by it).
std::size_t written_by(const fs::path& dir, std::uint64_t seq) {
  auto m = read_manifest(dir.string(), seq);
  BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.error().to_string()));
  std::size_t own = 0;
  for (const auto& f : m->partition_files) {
    BOOST_REQUIRE(fs::exists(f));
    own += fs::path(f).parent_path() == fs::path(checkpoint_directory(dir.string(), seq));
  }
  return own;
}

std::vector<std::vector<search_hit>> answers(const engine& e, const std::vector<float>& q, std::size_t nq) {
  std::vector<std::vector<search_hit>> out;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = e.search(q.data() + i * d, d).nprobes(8).limit(10).refine_factor(2).to_list();
    BOOST_REQUIRE(r);
    out.push_back(r->hits);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(only_changed_partitions_are_written_and_a_restart_from_the_chain_is_identical) {
  const auto dir = fs::temp_directory_path() / ("ivf_ckpt_incr_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto x = test::clustered_data(n, d, 25, 11);
  const auto ids = test::iota_ids(n, 1);
  const auto q = test::clustered_data(20, d, 25, 12);
  std::vector<std::vector<search_hit>> before;
  std::uint64_t live = 0;
  {
    auto e = open_engine(options(dir));
    BOOST_REQUIRE(e->create_index(params(), x.data(), n));
    BOOST_REQUIRE(e->upsert(ids.data(), x.data(), n));
    auto s1 = e->checkpoint();
    BOOST_REQUIRE_MESSAGE(s1, (s1 ? "" : s1.error().to_string()));
    BOOST_TEST(written_by(dir, 1) == P);  // the first checkpoint writes everything

    // Nothing changed: the next checkpoint writes no snapshot at all.
    auto s2 = e->checkpoint();
    BOOST_REQUIRE(s2);
    BOOST_TEST(written_by(dir, 2) == 0u);

    // One delete touches one partition: only that one is written.
    BOOST_REQUIRE(e->remove(ids.data() + 7, 1));
    auto s3 = e->checkpoint();
    BOOST_REQUIRE(s3);
    BOOST_TEST(written_by(dir, 3) == 1u);

    // Re-upsert a vector elsewhere (it may move between partitions) and delete another.
    BOOST_REQUIRE(e->upsert(ids.data() + 100, x.data() + 2500 * d, 1));
    BOOST_REQUIRE(e->remove(ids.data() + 200, 1));
    auto s4 = e->checkpoint();
    BOOST_REQUIRE(s4);
    BOOST_TEST(written_by(dir, 4) >= 1u);
    BOOST_TEST(written_by(dir, 4) <= 3u);

    // Retention: only manifest 4 is left, and every file it references still exists.
    BOOST_TEST(!fs::exists(manifest_path(dir.string(), 3)));
    BOOST_TEST(!fs::exists(checkpoint_directory(dir.string(), 2)));  // referenced nothing of its own
    BOOST_TEST(fs::exists(checkpoint_directory(dir.string(), 1)));   // unchanged partitions still live there
    before = answers(*e, q, 20);
    auto st = e->stats();
    BOOST_REQUIRE(st);
    live = st->vectors;
    BOOST_TEST(live == n - 2);
  }
  auto e = open_engine(options(dir));
  auto st = e->stats();
  BOOST_REQUIRE(st);
  BOOST_TEST(st->last_checkpoint == 4u);
  BOOST_TEST(st->vectors == live);
  const auto after = answers(*e, q, 20);
  for (std::size_t i = 0; i < before.size(); ++i) {
    BOOST_REQUIRE_EQUAL(after[i].size(), before[i].size());
    for (std::size_t j = 0; j < before[i].size(); ++j) {
      BOOST_TEST(after[i][j].id == before[i][j].id);
      BOOST_TEST(after[i][j].distance == before[i][j].distance);
    }
  }
  // After the restart the chain continues: an unchanged engine references all 4 restored files.
  auto s5 = e->checkpoint();
  BOOST_REQUIRE(s5);
  BOOST_TEST(*s5 == 5u);
  BOOST_TEST(written_by(dir, 5) == 0u);
  e.reset();
  fs::remove_all(dir);
}
