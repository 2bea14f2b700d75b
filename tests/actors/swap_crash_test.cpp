// Kill -9 while swaps commit and their checkpoints are written: the engine restarts on one
// consistent codebook version with every checkpointed vector. In the child, a writer thread keeps
// upserting new ids and taking checkpoints (journaling each completed one) while back-to-back
// retrains swap versions in, so commits, the first checkpoints of each new version and the
// cleanup of older checkpoints interleave; the parent kills the child at a different point in each
// trial. (A commit flips each partition in memory; the disk changes only through checkpoints, which
// every partition processes in the order the ingest actor sent them with the commit: a checkpoint is
// wholly before or wholly after a flip. What can be torn is the checkpoint being written.)
#define BOOST_TEST_MODULE swap_crash
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/retrain_status_file.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 32;
constexpr std::size_t k_first = 6000;  // vectors before the first checkpoint
constexpr std::size_t k_batch = 400;   // vectors per later upsert
constexpr std::size_t k_max = 40000;   // ids the child may use

index_params params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 24;
  p.num_sub_vectors = 8;
  p.max_iterations = 6;
  return p;
}

engine_options options(const fs::path& dir) {
  engine_options o;
  o.partition_actors = 3;
  o.scheduler_threads = 2;
  o.data_dir = dir.string();
  o.train_after = 3000;
  o.retrain.enabled = true;
  o.retrain.reservoir_size = 4000;
  o.retrain.drift_threshold = 0;  // only the explicit retrains
  o.retrain.background_nice = 0;  // swaps as fast as the box allows: more of them per trial
  o.caps.max_refine_factor = static_cast<std::uint32_t>(k_max);  // the exhaustive check below
  return o;
}

// The child: never returns. Journal lines "seq count": checkpoint seq holds ids [0, count).
[[noreturn]] void run_child(const fs::path& dir, const fs::path& journal, const fs::path& marker,
                            const std::vector<float>& x) {
  auto eo = engine::open(options(dir));
  if (!eo) ::_exit(2);
  auto& e = **eo;
  const auto ids = test::iota_ids(k_max);
  std::ofstream log(journal, std::ios::app);
  if (!e.create_index(params())) ::_exit(3);
  if (!e.upsert(ids.data(), x.data(), k_first)) ::_exit(4);
  auto seq = e.checkpoint();
  if (!seq) ::_exit(5);
  log << *seq << " " << k_first << std::endl;
  std::thread swapper([&] {
    bool marked = false;
    for (;;) {
      (void)e.retrain();  // the reservoir refills from the writer's upserts
      if (!marked) std::ofstream(marker) << "swapped";
      marked = true;
    }
  });
  // Until killed: new ids while they last, then the first batch again (same vectors: held stays k_max).
  for (std::size_t count = k_first;;) {
    const bool fresh = count + k_batch <= k_max;
    const std::size_t first = fresh ? count : 0;
    if (!e.upsert(ids.data() + first, x.data() + first * d, k_batch)) ::_exit(6);
    if (fresh) count += k_batch;
    if (auto s = e.checkpoint()) log << *s << " " << count << std::endl;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(kill_9_while_swaps_commit_and_checkpoint_restarts_on_one_version_with_nothing_lost) {
  const auto x = test::drifting_stream(k_max, d, 12, 77);
  const auto ids = test::iota_ids(k_max);
  std::mt19937 rng(20261127);
  std::size_t newer_versions = 0;
  constexpr int k_trials = 3;
  for (int trial = 0; trial < k_trials; ++trial) {
    const fs::path dir =
        fs::temp_directory_path() / ("ivfstream-swap-crash-" + std::to_string(::getpid()) + "-" + std::to_string(trial));
    const fs::path journal = dir.string() + ".journal", marker = dir.string() + ".swapped";
    fs::remove_all(dir);
    fs::remove(journal);
    fs::remove(marker);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) run_child(dir, journal, marker, x);

    // Kill at a different point of the swap/checkpoint loop each trial: after the first swap, plus
    // 0..600 ms.
    const auto until = std::chrono::steady_clock::now() + 150s;  // generous: ASan, a loaded machine
    while (!fs::exists(marker) && std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) BOOST_FAIL("the engine process exited early: " << status);
      std::this_thread::sleep_for(2ms);
    }
    if (trial == 0) {
      // This trial first waits for a checkpoint completed after the first swap (it holds version
      // ≥ 2), so at least one restart must come up on a swapped-in version.
      auto lines = [&] {
        std::ifstream in(journal);
        return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
      };
      const auto at_swap = lines();
      while (lines() <= at_swap && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 600)(rng)));
    std::string phase = "?";
    if (auto st = actors::read_retrain_status(dir.string())) phase = (*st)["phase"] + " v" + (*st)["live_version"];
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_REQUIRE_MESSAGE(fs::exists(marker), "no swap finished in the child");

    // The journal: checkpoints the child saw complete, (seq, ids it holds).
    std::vector<std::pair<std::uint64_t, std::size_t>> done;
    {
      std::ifstream in(journal);
      std::uint64_t s = 0;
      std::size_t c = 0;
      while (in >> s >> c) done.emplace_back(s, c);
    }
    BOOST_REQUIRE(!done.empty());

    auto eo = engine::open(options(dir));
    BOOST_REQUIRE_MESSAGE(eo, (eo ? "" : eo.error().to_string()));
    auto& e = **eo;
    auto s = e.stats();
    BOOST_REQUIRE(s);
    BOOST_TEST_MESSAGE("trial " << trial << ": killed in phase " << phase << "; restarted on checkpoint "
                                << s->last_checkpoint << ", codebook version " << s->codebook_version << ", "
                                << s->vectors << " vectors; last journaled checkpoint " << done.back().first
                                << " (" << done.back().second << " ids)");
    // Nothing acknowledged as checkpointed is lost: the restored checkpoint is the newest journaled
    // one or a newer one (written, then killed before the journal line).
    BOOST_CHECK_GE(s->last_checkpoint, done.back().first);
    std::size_t held = 0;
    for (const auto& [seq, count] : done)
      if (seq <= s->last_checkpoint) held = count;
    BOOST_CHECK_GE(s->vectors, held);
    BOOST_CHECK_LE(s->vectors, held + k_batch);
    BOOST_CHECK_GE(s->codebook_version, 1u);
    newer_versions += s->codebook_version > 1;
    // One version: every answer comes from it, and each checkpointed id is found by its own vector.
    // A normal search (refine_factor 20) must find it among the first half, which every version's
    // codebook was trained on: that also checks the codes agree with the restored version. The
    // second half drifts away, and a restart on a version trained before the drift legitimately ranks
    // those ids badly in compressed space (CI's ASan stage restarted on version 1 with ids past the
    // drift held, stop 14); one the normal search misses there must be found by an exhaustive search
    // (every list, every candidate re-ranked on its stored vector): nothing checkpointed is lost.
    const auto drift_at = k_max / 2;
    std::size_t exhaustive = 0;
    for (std::size_t i = 0; i < held; i += 53) {
      auto search = [&](std::size_t refine) {
        auto r = e.search(x.data() + i * d, d).nprobes(24).limit(1).refine_factor(refine).to_list();
        BOOST_REQUIRE(r);
        BOOST_CHECK(!r->partial);
        BOOST_CHECK_EQUAL(r->codebook_version, s->codebook_version);
        BOOST_REQUIRE_EQUAL(r->hits.size(), 1u);
        return r->hits[0].id;
      };
      const auto found = search(20);
      if (i < drift_at || found == ids[i]) {
        BOOST_CHECK_EQUAL(found, ids[i]);
        continue;
      }
      ++exhaustive;
      BOOST_CHECK_EQUAL(search(k_max), ids[i]);
    }
    BOOST_TEST_MESSAGE("trial " << trial << ": " << exhaustive << " post-drift ids needed the exhaustive search");
    eo->reset();
    fs::remove_all(dir);
    fs::remove(journal);
    fs::remove(marker);
  }
  BOOST_TEST_MESSAGE(newer_versions << " of " << k_trials << " restarts came up on a swapped-in version");
  BOOST_CHECK_GE(newer_versions, 1u);  // trial 0 at least
}
