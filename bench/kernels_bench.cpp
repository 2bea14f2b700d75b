// Kernel throughput for the performance note (not a test): ADC scans per SIMD level and nbits, 4-bit
// fast-scan per level, PQ encoding per level against the former path, matmul_nt and k-means at
// Fashion-MNIST scale (synthetic data of that shape).
// Usage: ivfstream_kernels_bench [--quick | --encode | --matmul]
//   --encode: only the PQ-encoding table; --matmul: only the query-planning products (tiled path
//   against oneDNN, the shapes of Fashion-MNIST/clustered-128 planning at n = 1, 2, 64).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fast_scan.hpp"
#include "kernels/gemm.hpp"
#include "kernels/internal/gemm_onednn.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/kmeans.hpp"
#include "kernels/pq_codes.hpp"
#include "kernels/pq_encode.hpp"

namespace k = ivfstream::kernels;

namespace {

using clock_type = std::chrono::steady_clock;

template <class F>
double best_seconds(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = clock_type::now();
    f();
    best = std::min(best, std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  return best;
}

std::vector<const k::kernel_table*> levels() {
  std::vector<const k::kernel_table*> out;
  for (auto level : {k::simd_level::scalar, k::simd_level::avx2, k::simd_level::avx512, k::simd_level::neon})
    if (k::simd_level_supported(level)) out.push_back(&k::kernels_for(level));
  return out;
}

void bench_adc(std::size_t n) {
  std::mt19937 gen(1);
  std::printf("ADC scan, %zu codes per call, Mcodes/s (best of 5)\n", n);
  std::printf("%6s %4s", "nbits", "M");
  for (auto* t : levels()) std::printf(" %10s", k::to_string(t->level));
  std::printf("\n");
  for (unsigned nbits : {4u, 6u, 8u, 10u, 12u})
    for (std::size_t M : {8, 16, 32, 64}) {
      const std::size_t ksub = std::size_t{1} << nbits, cs = k::code_size(M, nbits);
      std::vector<std::uint8_t> codes(n * cs);
      for (auto& c : codes) c = static_cast<std::uint8_t>(gen());
      std::vector<float> lut(M * ksub), out(n);
      for (auto& v : lut) v = static_cast<float>(gen() % 1000);
      std::printf("%6u %4zu", nbits, M);
      for (auto* t : levels()) {
        const double s = best_seconds(5, [&] { t->adc_scan(codes.data(), n, M, nbits, lut.data(), 0.f, out.data()); });
        std::printf(" %10.1f", static_cast<double>(n) / s / 1e6);
      }
      std::printf("\n");
    }
}

void bench_fast_scan(std::size_t n) {
  std::mt19937 gen(2);
  std::printf("\n4-bit fast-scan, %zu codes per call, Mcodes/s (best of 5): sums | fused filter (pass ~1%%)\n", n);
  std::printf("%4s", "M");
  for (auto* t : levels()) std::printf(" %21s", k::to_string(t->level));
  std::printf("\n");
  for (std::size_t M : {8, 16, 32, 64}) {
    std::vector<std::uint16_t> sub(n * M);
    for (auto& c : sub) c = static_cast<std::uint16_t>(gen() % 16);
    std::vector<std::uint8_t> codes(n * k::code_size(M, 4)), blocks(k::fast_scan_bytes(n, M)),
        lut(k::fast_scan_lut_bytes(M), 0);
    k::pack_codes(sub.data(), n, M, 4, codes.data());
    k::fast_scan_pack(codes.data(), n, M, blocks.data());
    for (std::size_t i = 0; i < M * 16; ++i) lut[i] = static_cast<std::uint8_t>(gen() % 256);
    std::vector<std::uint16_t> sums(n);
    k::kernels_for(k::simd_level::scalar).fast_scan(blocks.data(), n, M, lut.data(), sums.data());
    std::vector<std::uint16_t> sorted = sums;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n / 100), sorted.end());
    const std::uint16_t bound = sorted[n / 100];
    std::vector<std::uint32_t> slots(n);
    std::printf("%4zu", M);
    for (auto* t : levels()) {
      const double s1 = best_seconds(5, [&] { t->fast_scan(blocks.data(), n, M, lut.data(), sums.data()); });
      const double s2 = best_seconds(
          5, [&] { t->fast_scan_filter(blocks.data(), n, M, lut.data(), bound, slots.data(), sums.data()); });
      std::printf(" %10.1f %10.1f", static_cast<double>(n) / s1 / 1e6, static_cast<double>(n) / s2 / 1e6);
    }
    std::printf("\n");
  }
  // LUT quantisation for one query probing 16 lists, M = 16
  {
    const std::size_t lists = 16, M = 16;
    std::vector<float> luts(lists * M * 16), biases(lists), list_bias(lists);
    std::uniform_real_distribution<float> u(0.f, 100.f);
    for (auto& v : luts) v = u(gen);
    std::vector<std::uint8_t> q(lists * k::fast_scan_lut_bytes(M));
    const double s = best_seconds(20, [&] { k::quantize_lut(luts.data(), biases.data(), lists, M, q.data(), list_bias.data()); });
    std::printf("quantize_lut 16 lists x M=16: %.2f us\n", s * 1e6);
  }
}

/// PQ encoding of n residual rows of d = 128 floats: the path codebook_set used before kernel_table::pq_encode
/// (per sub-space: gather the sub-vectors, assign_nearest = matmul_nt_small + nearest_from_ip at the
/// detected level) against pq_encode at each level. Thousand rows per second, best of 9 calls.
void bench_pq_encode(std::size_t n) {
  std::mt19937 gen(4);
  std::normal_distribution<float> dist(0.f, 1.f);
  const std::size_t d = 128;
  std::vector<float> x(n * d);
  for (auto& v : x) v = dist(gen);
  std::printf("\nPQ encoding, %zu rows x %zu-d per call, k rows/s (best of 9); 'before' = gather + assign_nearest per "
              "sub-space (%s)\n", n, d, k::to_string(k::default_kernels().level));
  std::printf("%4s %5s %5s %10s", "M", "dsub", "nbits", "before");
  for (auto* t : levels()) std::printf(" %10s", k::to_string(t->level));
  std::printf(" %12s\n", "best/before");
  for (const auto& [M, nbits] : {std::pair<std::size_t, unsigned>{64, 8}, {32, 8}, {16, 8}, {8, 8}, {32, 4}, {16, 4}}) {
    const std::size_t dsub = d / M, ksub = std::size_t{1} << nbits;
    std::vector<float> cb(M * ksub * dsub);
    for (auto& v : cb) v = dist(gen);
    const auto table = k::pq_encode_table(cb.data(), M, ksub, dsub);
    std::vector<std::uint16_t> codes(n * M);
    std::vector<float> sub(n * dsub);
    std::vector<std::uint32_t> labels(n);
    const double before = best_seconds(9, [&] {
      for (std::size_t m = 0; m < M; ++m) {
        for (std::size_t i = 0; i < n; ++i) std::memcpy(&sub[i * dsub], &x[i * d + m * dsub], dsub * sizeof(float));
        k::assign_nearest(sub.data(), n, &cb[m * ksub * dsub], ksub, dsub, labels.data(), nullptr);
        for (std::size_t i = 0; i < n; ++i) codes[i * M + m] = static_cast<std::uint16_t>(labels[i]);
      }
    });
    std::printf("%4zu %5zu %5u %10.1f", M, dsub, nbits, static_cast<double>(n) / before / 1e3);
    double best = 1e30;
    for (auto* t : levels()) {
      const double s = best_seconds(9, [&] { t->pq_encode(table.data(), x.data(), n, M, dsub, ksub, codes.data()); });
      best = std::min(best, s);
      std::printf(" %10.1f", static_cast<double>(n) / s / 1e3);
    }
    std::printf(" %11.2fx\n", before / best);
  }
}

/// The products of query planning (coarse: n × nlist × d; tables: n × 256 × dsub per sub-space) on
/// the register-tiled path (kernel_table::matmul_nt_small, what matmul_nt uses for these shapes)
/// against oneDNN's matmul (1 thread), in µs per call and GFLOP/s.
void bench_planning_matmul() {
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::printf("%-22s %4s %12s %8s %12s %8s\n", "b (m x d)", "n", "tiled us", "GFLOP/s", "oneDNN us", "GFLOP/s");
  for (const auto& [m, d] : {std::pair<std::size_t, std::size_t>{256, 784}, {256, 49}, {1024, 128}, {256, 8}}) {
    std::vector<float> b(m * d);
    for (auto& v : b) v = u(gen);
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{64}}) {
      std::vector<float> a(n * d), c(n * m);
      for (auto& v : a) v = u(gen);
      const int reps = n == 64 ? 50 : 400;
      const double st = best_seconds(reps, [&] { k::matmul_nt(a.data(), n, b.data(), m, d, c.data()); });
      const double so = best_seconds(reps, [&] { k::detail::matmul_nt_onednn(a.data(), n, b.data(), m, d, c.data(), 1); });
      const double flop = 2.0 * static_cast<double>(n * m * d);
      std::printf("%4zu x %-15zu %4zu %12.2f %8.2f %12.2f %8.2f\n", m, d, n, st * 1e6, flop / st / 1e9, so * 1e6,
                  flop / so / 1e9);
      {  // the transposed-b kernel codebook_set uses for query tables; printed for the coarse shapes too,
         // where it loses at n = 1 (its column panels walk b with a stride of m floats)
        std::vector<float> bt(d * m);
        for (std::size_t j = 0; j < m; ++j)
          for (std::size_t t = 0; t < d; ++t) bt[t * m + j] = b[j * d + t];
        const auto& kt = k::default_kernels();
        const double sn = best_seconds(reps, [&] { kt.matmul_nn_small(a.data(), n, bt.data(), d, m, c.data()); });
        std::printf("%4zu x %-15zu %4zu %12.2f %8.2f   (matmul_nn_small, b transposed)\n", m, d, n, sn * 1e6,
                    flop / sn / 1e9);
      }
    }
  }
}

void bench_training(bool quick) {
  const std::size_t n = quick ? 10000 : 60000, d = 784;
  std::mt19937 gen(3);
  // clustered synthetic data of Fashion-MNIST's shape: 10 centres, pixel noise
  std::uniform_real_distribution<float> u(0.f, 255.f), noise(-40.f, 40.f);
  std::vector<float> centres(10 * d), x(n * d);
  for (auto& v : centres) v = u(gen);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < d; ++t) x[i * d + t] = centres[(i % 10) * d + t] + noise(gen);

  std::vector<float> c(4096 * 256);
  k::matmul_nt(x.data(), 4096, x.data(), 256, d, c.data());
  const double sm = best_seconds(5, [&] { k::matmul_nt(x.data(), 4096, x.data(), 256, d, c.data()); });
  std::printf("\nmatmul_nt 4096x256x784 (1 thread, tiled path: b < 2^20 floats): %.2f ms, %.1f GFLOP/s\n", sm * 1e3, 2.0 * 4096 * 256 * 784 / sm / 1e9);

  for (const auto& [m, dd] : {std::pair<std::size_t, std::size_t>{256, 784}, {256, 49}, {1024, 128}, {4096, 8}}) {
    std::vector<float> bm(m * dd, 0.5f), out(64 * m);
    for (std::size_t n : {std::size_t{1}, std::size_t{64}}) {
      k::matmul_nt(x.data(), n, bm.data(), m, dd, out.data());
      const double s = best_seconds(20, [&] { k::matmul_nt(x.data(), n, bm.data(), m, dd, out.data()); });
      std::printf("matmul_nt n=%2zu x %4zu x %3zu: %8.1f us\n", n, m, dd, s * 1e6);
    }
  }

  k::kmeans_options opt;
  auto t0 = clock_type::now();
  const auto coarse = k::kmeans(x.data(), n, d, 256, opt);
  const double tc = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("kmeans %zux%zu k=256 (coarse): %.2f s, %zu iterations\n", n, d, tc, coarse.iterations);

  const std::size_t M = 16, dsub = d / M;
  std::vector<float> sub(n * dsub);
  t0 = clock_type::now();
  std::size_t iters = 0;
  for (std::size_t m = 0; m < M; ++m) {
    for (std::size_t i = 0; i < n; ++i) std::memcpy(&sub[i * dsub], &x[i * d + m * dsub], dsub * sizeof(float));
    iters += k::kmeans(sub.data(), n, dsub, 256, opt).iterations;
  }
  const double tp = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("kmeans PQ 16 x (%zux%zu k=256): %.2f s, %zu iterations in all\n", n, dsub, tp, iters);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("detected SIMD level: %s\n\n", k::to_string(k::detect_simd_level()));
  if (argc > 1 && std::strcmp(argv[1], "--encode") == 0) {
    bench_pq_encode(1024);
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "--matmul") == 0) {
    bench_planning_matmul();
    return 0;
  }
  bench_adc(quick ? 20000 : 200000);
  bench_fast_scan(quick ? 32000 : 320000);
  bench_pq_encode(1024);
  bench_training(quick);
  return 0;
}
