// Checkpoint manifests: round trip, newest complete one wins, corrupt or incomplete ones are skipped.
#define BOOST_TEST_MODULE checkpoint
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "actors/checkpoint.hpp"
#include "actors/partition_state.hpp"
#include "tests/index/synthetic_data.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;
namespace fs = std::filesystem;

namespace {

struct data_dir {
  data_dir() : path(fs::temp_directory_path() / ("ivf_ckpt_test_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~data_dir() { fs::remove_all(path); }
  fs::path path;
};

std::shared_ptr<const codebook_set> codebooks() {
  index_params p;
  p.dimension = 8;
  p.num_partitions = 4;
  p.num_sub_vectors = 2;
  p.num_bits = 4;
  auto x = test::clustered_data(400, 8, 4, 1);
  auto cb = codebook_set::train(p, x.data(), 400, 3);
  BOOST_REQUIRE(cb);
  return *cb;
}

checkpoint_manifest write_one(const std::string& dir, std::uint64_t seq, std::shared_ptr<const codebook_set> cb) {
  checkpoint_manifest m;
  m.sequence = seq;
  m.num_partition_actors = 2;
  m.codebooks = cb;
  m.offsets[{"vectors", 0}] = 17 * seq;
  m.offsets[{"vectors", 3}] = 5;
  fs::create_directories(checkpoint_directory(dir, seq));
  for (std::uint32_t p = 0; p < 2; ++p) {
    partition_state s(p, 2);
    BOOST_REQUIRE(s.install(cb));
    const auto f = checkpoint_directory(dir, seq) + "/partition-" + std::to_string(p) + ".ivps";
    BOOST_REQUIRE(s.save(f));
    m.partition_files.push_back(f);
    m.partition_sizes.push_back(0);
  }
  BOOST_REQUIRE(write_manifest(dir, m));
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(manifest_round_trips_codebooks_offsets_and_files) {
  data_dir dd;
  auto cb = codebooks();
  write_one(dd.path.string(), 1, cb);
  auto m = read_manifest(dd.path.string(), 1);
  BOOST_REQUIRE(m);
  BOOST_CHECK_EQUAL(m->num_partition_actors, 2u);
  BOOST_CHECK_EQUAL(m->codebooks->version(), 3u);
  BOOST_TEST(m->codebooks->centroids() == cb->centroids(), boost::test_tools::per_element());
  BOOST_TEST(m->codebooks->pq_codebooks() == cb->pq_codebooks(), boost::test_tools::per_element());
  BOOST_CHECK_EQUAL((m->offsets.at({"vectors", 0})), 17);
  BOOST_CHECK_EQUAL((m->offsets.at({"vectors", 3})), 5);
  BOOST_CHECK_EQUAL(m->partition_files.size(), 2u);
}

BOOST_AUTO_TEST_CASE(newest_complete_checkpoint_wins_and_broken_ones_are_skipped) {
  data_dir dd;
  const auto dir = dd.path.string();
  auto cb = codebooks();
  write_one(dir, 1, cb);
  write_one(dir, 2, cb);
  // Checkpoint 3: manifest truncated (as if the disk lied); checkpoint 4: a partition file missing.
  write_one(dir, 3, cb);
  fs::resize_file(manifest_path(dir, 3), 20);
  write_one(dir, 4, cb);
  fs::remove(checkpoint_directory(dir, 4) + "/partition-1.ivps");
  auto m = latest_checkpoint(dir);
  BOOST_REQUIRE(m);
  BOOST_CHECK_EQUAL(m->sequence, 2u);
  remove_checkpoints_before(dir, 2);
  BOOST_CHECK(!fs::exists(manifest_path(dir, 1)));
  BOOST_CHECK(!fs::exists(checkpoint_directory(dir, 1)));
  BOOST_CHECK(fs::exists(manifest_path(dir, 2)));
}

BOOST_AUTO_TEST_CASE(an_empty_directory_has_no_checkpoint) {
  data_dir dd;
  BOOST_CHECK(!latest_checkpoint(dd.path.string()));
  std::ofstream(dd.path / "manifest-x.ivcm") << "junk";
  BOOST_CHECK(!latest_checkpoint(dd.path.string()));
}

// A checkpoint of an OPQ index carries the rotation, the OPQ parameters and the codebook version: the
// restored codebooks encode every vector to the same list and code as the ones written.
BOOST_AUTO_TEST_CASE(manifest_round_trips_opq_rotation_and_codebook_version) {
  data_dir dd;
  index_params p;
  p.dimension = 8;
  p.num_partitions = 4;
  p.num_sub_vectors = 2;
  p.num_bits = 4;
  p.opq = true;
  p.opq_iterations = 3;
  const auto x = test::clustered_data(400, 8, 4, 1);
  auto trained = codebook_set::train(p, x.data(), 400, 7);
  BOOST_REQUIRE(trained);
  const std::shared_ptr<const codebook_set> cb = *trained;
  BOOST_REQUIRE_EQUAL(cb->rotation().size(), 64u);
  write_one(dd.path.string(), 5, cb);
  auto m = read_manifest(dd.path.string(), 5);
  BOOST_REQUIRE(m);
  const codebook_set& back = *m->codebooks;
  BOOST_CHECK_EQUAL(back.version(), 7u);
  BOOST_TEST(back.params().opq);
  BOOST_CHECK_EQUAL(back.params().opq_iterations, 3u);
  BOOST_TEST(back.rotation() == cb->rotation(), boost::test_tools::per_element());
  BOOST_TEST(back.pq_codebooks() == cb->pq_codebooks(), boost::test_tools::per_element());
  std::vector<std::uint32_t> la(400), lb(400);
  std::vector<std::uint8_t> ca(400 * cb->code_size()), cbytes(400 * cb->code_size());
  cb->encode(x.data(), 400, la.data(), ca.data());
  back.encode(x.data(), 400, lb.data(), cbytes.data());
  BOOST_TEST(la == lb, boost::test_tools::per_element());
  BOOST_TEST(ca == cbytes, boost::test_tools::per_element());
}
