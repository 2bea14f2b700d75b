#include "kernels/simd_level.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <cstdio>
#include <cstdlib>

namespace ivfstream::kernels {

const char* to_string(simd_level level) noexcept {
  switch (level) {
    case simd_level::scalar: return "scalar";
    case simd_level::avx2: return "avx2";
    case simd_level::avx512: return "avx512";
    case simd_level::neon: return "neon";
  }
  return "scalar";
}

std::optional<simd_level> parse_simd_level(std::string_view text) noexcept {
  if (text == "scalar") return simd_level::scalar;
  if (text == "avx2") return simd_level::avx2;
  if (text == "avx512") return simd_level::avx512;
  if (text == "neon") return simd_level::neon;
  return std::nullopt;
}

namespace {

#if defined(__x86_64__)
// XCR0 bits the OS must enable: SSE|AVX state (0x6) for AVX2; plus opmask|ZMM (0xE0) for AVX-512.
constexpr unsigned k_xcr0_avx = 0x6;
constexpr unsigned k_xcr0_avx512 = 0xE6;

unsigned long long read_xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

simd_level cpu_level() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return simd_level::scalar;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12);
  if (!osxsave || !fma) return simd_level::scalar;
  const auto xcr0 = read_xcr0();
  if ((xcr0 & k_xcr0_avx) != k_xcr0_avx) return simd_level::scalar;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return simd_level::scalar;
  const bool avx2 = b & (1u << 5), bmi2 = b & (1u << 8);
  if (!avx2 || !bmi2) return simd_level::scalar;
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31), avx512vbmi = c & (1u << 1);
  if (avx512f && avx512dq && avx512bw && avx512vl && avx512vbmi &&
      (xcr0 & k_xcr0_avx512) == k_xcr0_avx512)
    return simd_level::avx512;
  return simd_level::avx2;
}
#elif defined(__aarch64__)
// Advanced SIMD is part of ARMv8-A; the hwcap check only guards against a kernel that hides it.
simd_level cpu_level() {
#if defined(__linux__) && defined(HWCAP_ASIMD)
  if ((getauxval(AT_HWCAP) & HWCAP_ASIMD) == 0) return simd_level::scalar;
#endif
  return simd_level::neon;
}
#else
simd_level cpu_level() { return simd_level::scalar; }
#endif

simd_level compiled_level() {
#if defined(IVFSTREAM_HAVE_NEON)
  return simd_level::neon;
#elif defined(IVFSTREAM_HAVE_AVX512)
  return simd_level::avx512;
#elif defined(IVFSTREAM_HAVE_AVX2)
  return simd_level::avx2;
#else
  return simd_level::scalar;
#endif
}

}  // namespace

simd_level detect_simd_level() noexcept {
  // cpu_level() and compiled_level() are of the same family (both x86 or both aarch64) or scalar
  const auto cpu = cpu_level(), built = compiled_level();
  return cpu < built ? cpu : built;
}

bool simd_level_supported(simd_level level) noexcept {
  if (level == simd_level::scalar) return true;
  const auto best = detect_simd_level();
  if (level == simd_level::neon || best == simd_level::neon) return level == best;
  return level <= best;
}

simd_level choose_simd_level() noexcept {
  const auto best = detect_simd_level();
  const char* forced = std::getenv("IVFSTREAM_SIMD");
  if (forced == nullptr || *forced == '\0') return best;
  auto level = parse_simd_level(forced);
  if (!level) {
    std::fprintf(stderr, "ivfstream: IVFSTREAM_SIMD=%s: must be one of scalar, avx2, avx512, neon; using %s\n",
                 forced, to_string(best));
    return best;
  }
  if (!simd_level_supported(*level)) {
    std::fprintf(stderr, "ivfstream: IVFSTREAM_SIMD=%s: not supported here; using %s\n", forced,
                 to_string(best));
    return best;
  }
  return *level;
}

}  // namespace ivfstream::kernels
