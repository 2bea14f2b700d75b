#define BOOST_TEST_MODULE bench_options
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

// `ivfstream bench` with the issue-5 index options (--quantizer, --coarse-quantizer, --imi-bits, --opq,
// --lopq, --polysemous, --polysemous-ht, ...): a bad name is a usage error naming the value and the allowed
// set, an unsupported pair is refused before training with both options named, and a supported option
// builds and reports its index label. Runs the built binary on a 400-vector data set it writes itself.

namespace {

namespace fs = std::filesystem;

const std::string& binary() {
  static const std::string bin = std::string(IVFSTREAM_BINARY_DIR) + "/apps/ivfstream";
  return bin;
}

/// base.fvecs (400 × 8), query.fvecs (20 × 8), gt.ivecs (20 × 10, any ids: recall is not checked here).
struct small_data {
  fs::path dir = fs::temp_directory_path() / ("bench_options_test-" + std::to_string(::getpid()));
  small_data() {
    fs::create_directories(dir);
    std::mt19937 rng(1);
    std::normal_distribution<float> g;
    write_fvecs("base.fvecs", 400, rng, g);
    write_fvecs("query.fvecs", 20, rng, g);
    std::ofstream gt(dir / "gt.ivecs", std::ios::binary);
    for (int i = 0; i < 20; ++i) {
      const std::int32_t k = 10;
      gt.write(reinterpret_cast<const char*>(&k), 4);
      for (std::int32_t j = 0; j < k; ++j) gt.write(reinterpret_cast<const char*>(&j), 4);
    }
  }
  ~small_data() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write_fvecs(const char* name, int rows, std::mt19937& rng, std::normal_distribution<float>& g) const {
    std::ofstream out(dir / name, std::ios::binary);
    for (int i = 0; i < rows; ++i) {
      const std::int32_t d = 8;
      out.write(reinterpret_cast<const char*>(&d), 4);
      for (int j = 0; j < d; ++j) {
        const float v = g(rng);
        out.write(reinterpret_cast<const char*>(&v), 4);
      }
    }
  }
  std::string args() const {
    return " bench --base " + (dir / "base.fvecs").string() + " --queries " + (dir / "query.fvecs").string() +
           " --gt " + (dir / "gt.ivecs").string() +
           " --metric l2 --nbits 8 --nprobe 2 --nq-single 5 --reps 1 --warmup 0 --max-iterations 3";
  }
};

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

run_result run(const std::string& args) {
  run_result r;
  FILE* p = ::popen((binary() + args + " 2>&1").c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, got);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(bench_options)

BOOST_AUTO_TEST_CASE(bad_names_are_usage_errors_naming_the_value_and_the_set) {
  const small_data data;
  const run_result q = run(data.args() + " --nlist 4 --m 4 --quantizer opq");
  BOOST_TEST(q.exit_code != 0);
  BOOST_TEST(contains(q.output, "opq"), q.output);
  BOOST_TEST((contains(q.output, "pq") && contains(q.output, "rq") && contains(q.output, "lsq")), q.output);
  const run_result c = run(data.args() + " --nlist 4 --m 4 --coarse-quantizer hnsw");
  BOOST_TEST(c.exit_code != 0);
  BOOST_TEST(contains(c.output, "hnsw"), c.output);
  BOOST_TEST((contains(c.output, "flat") && contains(c.output, "imi")), c.output);
}

BOOST_AUTO_TEST_CASE(unsupported_pairs_and_bad_values_are_refused_before_training) {
  const small_data data;
  const run_result rq_imi = run(data.args() + " --nlist 4 --m 4 --quantizer rq --coarse-quantizer imi --imi-bits 1");
  BOOST_TEST(rq_imi.exit_code != 0);
  BOOST_TEST(contains(rq_imi.output, "coarse_quantizer=imi with quantizer=rq: not supported, must be flat"),
             rq_imi.output);
  const run_result beam = run(data.args() + " --nlist 4 --m 4 --quantizer rq --rq-beam-size 0");
  BOOST_TEST(beam.exit_code != 0);
  BOOST_TEST(contains(beam.output, "rq_beam_size=0 with quantizer=rq: must be in [1, 64]"), beam.output);
  const run_result imi = run(data.args() + " --nlist 8 --m 4 --coarse-quantizer imi --imi-bits 1");
  BOOST_TEST(imi.exit_code != 0);
  BOOST_TEST(contains(imi.output, "num_partitions=8 with coarse_quantizer=imi imi_bits=1: must be 2^(2*imi_bits)=4"),
             imi.output);
  const run_result ht = run(data.args() + " --nlist 4 --m 4 --polysemous-ht 8");
  BOOST_TEST(ht.exit_code != 0);
  BOOST_TEST(contains(ht.output, "polysemous_ht=8: needs an index created with polysemous=true"), ht.output);
}

BOOST_AUTO_TEST_CASE(supported_options_build_and_label_their_rows) {
  const small_data data;
  const run_result rq = run(data.args() + " --nlist 4 --m 4 --quantizer rq --rq-beam-size 2");
  BOOST_TEST(rq.exit_code == 0, rq.output);
  BOOST_TEST(contains(rq.output, ",IVFRQ,"), rq.output);
  const run_result imi = run(data.args() + " --nlist 4 --m 4 --coarse-quantizer imi --imi-bits 1 --opq");
  BOOST_TEST(imi.exit_code == 0, imi.output);
  BOOST_TEST(contains(imi.output, ",OPQ-IMI-IVFPQ,"), imi.output);
  const run_result poly = run(data.args() + " --nlist 4 --m 4 --polysemous --polysemous-iterations 100 --polysemous-ht 20");
  BOOST_TEST(poly.exit_code == 0, poly.output);
  BOOST_TEST(contains(poly.output, ",IVFPQ-polysemous-ht20,"), poly.output);
}

BOOST_AUTO_TEST_SUITE_END()
