// What a rebalance swap's re-encoding costs with and without carrying codes (index/code_carry.hpp), on
// one thread: the same entries, the same split/merge plan, once through codebook_set::encode (every
// entry assigned among all lists and PQ-encoded, what a swap did before) and once through
// code_carry::between + apply (entries whose list kept its centroid and stays nearest keep their code).
//   ivfstream_code_carry_bench [n=100000] [d=128] [nlist=256] [M=16] [max_steps=0] [hot_percent=50] [reps=3]
// Data: n × d rows around 100 Gaussian centres (spread 0.35, seeded); the index trains on the first n/5;
// of the rest hot_percent % (every other row at 50, hot_swap_bench's rebalance mode) are moved next to
// row 0, so one region piles up. max_steps bounds the plan's splits + merges (0 = until every list is
// in bounds). hot_percent 50 is the extreme case (two fifths of the data in one list); a few percent
// is the common one in a stream (one list grew past 4× the mean and is split).
// Prints the plan, the carried share and the best of `reps` thread-CPU times of each path.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "index/centroid_rebalance.hpp"
#include "index/code_carry.hpp"
#include "index/codebook_set.hpp"

using namespace ivfstream;

namespace {

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

std::vector<float> skewed_stream(std::size_t n, std::size_t d, double hot_percent) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g(0.f, 1.f), near(0.f, 0.35f);
  std::vector<float> centres(100 * d), x(n * d);
  for (auto& v : centres) v = g(rng);
  std::uniform_int_distribution<std::size_t> pick(0, 99);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = pick(rng);
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = centres[k * d + j] + near(rng);
  }
  const auto every = static_cast<std::size_t>(std::max(1.0, 100.0 / hot_percent));
  for (std::size_t i = n / 5; i < n; i += every)
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = x[j] + near(rng);
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t d = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 128;
  const std::size_t nlist = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 256;
  const std::size_t M = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 16;
  const std::size_t max_steps = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
  const double hot_percent = argc > 6 ? std::atof(argv[6]) : 50;
  const int reps = argc > 7 ? std::atoi(argv[7]) : 3;
  if (hot_percent <= 0 || hot_percent > 100) return std::printf("hot_percent %g: allowed (0, 100]\n", hot_percent), 1;
  index_params p;
  p.dimension = d;
  p.num_partitions = nlist;
  p.num_sub_vectors = M;
  p.max_iterations = 10;
  p.train_threads = 1;
  const auto x = skewed_stream(n, d, hot_percent);
  auto live = codebook_set::train(p, x.data(), n / 5);
  if (!live) return std::printf("train: %s\n", live.error().to_string().c_str()), 1;
  const codebook_set& cb = **live;
  const std::size_t cs = cb.code_size();
  std::vector<std::uint32_t> lists(n), out_lists(n);
  std::vector<std::uint8_t> codes(n * cs), out_codes(n * cs);
  cb.encode(x.data(), n, lists.data(), codes.data());
  std::vector<std::uint64_t> sizes(nlist, 0);
  for (auto l : lists) ++sizes[l];
  std::vector<float> sample;
  for (std::size_t i = 0; i < n; i += 4) sample.insert(sample.end(), x.data() + i * d, x.data() + (i + 1) * d);
  rebalance_options opt;
  if (max_steps) opt.max_steps = max_steps;
  auto plan = plan_centroid_rebalance(cb, sizes, sample.data(), sample.size() / d, opt);
  if (!plan) return std::printf("plan: %s\n", plan.error().to_string().c_str()), 1;
  if (!plan->codebooks) return std::printf("plan: nothing to split or merge\n"), 1;
  const auto& next = plan->codebooks;
  double full = 1e30, carried_ms = 1e30;
  code_carry::counts counts;
  std::size_t changed = 0;
  for (int r = 0; r < reps; ++r) {
    double t = cpu_ms();
    next->encode(x.data(), n, out_lists.data(), out_codes.data());
    full = std::min(full, cpu_ms() - t);
    t = cpu_ms();
    auto carry = code_carry::between(cb, next);
    if (!carry) return std::printf("carry: refused\n"), 1;
    counts = carry->apply(x.data(), n, lists.data(), codes.data(), out_lists.data(), out_codes.data());
    carried_ms = std::min(carried_ms, cpu_ms() - t);
    changed = carry->changed().size();
  }
  std::printf("n=%zu d=%zu M=%zu hot %g%%: lists %zu -> %zu (%zu splits, %zu merges; %zu centroids new or moved)\n", n, d, M,
              hot_percent, nlist, next->num_partitions(), plan->report.splits, plan->report.merges, changed);
  std::printf("carried %zu (%.1f%%), re-encoded %zu | full encode %.1f ms, carry %.1f ms: %.2fx less CPU\n",
              counts.carried, 100.0 * double(counts.carried) / double(n), counts.reencoded, full, carried_ms,
              full / carried_ms);
  return 0;
}
