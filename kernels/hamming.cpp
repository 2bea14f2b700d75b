#include "kernels/hamming.hpp"

#include <cstring>

namespace ivfstream::kernels {

namespace {

// One body, compiled twice: once for baseline x86-64 (popcount in software) and once with the POPCNT
// instruction enabled through a target attribute (no global -m flags, see kernels/CMakeLists.txt).
// Rows are compared 8 bytes at a time (memcpy: codes need no alignment), then the tail byte-wise.
#define IVF_HAMMING_BODY                                                                  \
  std::size_t hits = 0;                                                                   \
  if (bytes == 16) { /* M = 16 bytes of 8-bit codes: the common case, two words */        \
    std::uint64_t q0, q1;                                                                 \
    std::memcpy(&q0, query, 8);                                                           \
    std::memcpy(&q1, query + 8, 8);                                                       \
    for (std::size_t i = 0; i < n; ++i) {                                                 \
      std::uint64_t a, b;                                                                 \
      std::memcpy(&a, codes + 16 * i, 8);                                                 \
      std::memcpy(&b, codes + 16 * i + 8, 8);                                             \
      const unsigned dist = static_cast<unsigned>(__builtin_popcountll(a ^ q0) + __builtin_popcountll(b ^ q1)); \
      slots[hits] = static_cast<std::uint32_t>(i);                                        \
      hits += dist <= max_distance;                                                       \
    }                                                                                     \
    return hits;                                                                          \
  }                                                                                       \
  const std::size_t words = bytes / 8, tail = bytes % 8;                                  \
  std::uint64_t q[8] = {};                                                                \
  const bool small = words <= 8;                                                          \
  if (small) std::memcpy(q, query, words * 8);                                            \
  for (std::size_t i = 0; i < n; ++i) {                                                   \
    const std::uint8_t* c = codes + i * bytes;                                            \
    unsigned dist = 0;                                                                    \
    for (std::size_t w = 0; w < words; ++w) {                                             \
      std::uint64_t a, b;                                                                 \
      std::memcpy(&a, c + 8 * w, 8);                                                      \
      if (small) b = q[w]; else std::memcpy(&b, query + 8 * w, 8);                        \
      dist += static_cast<unsigned>(__builtin_popcountll(a ^ b));                         \
    }                                                                                     \
    for (std::size_t t = 0; t < tail; ++t)                                                \
      dist += static_cast<unsigned>(__builtin_popcount(unsigned(c[words * 8 + t] ^ query[words * 8 + t]))); \
    slots[hits] = static_cast<std::uint32_t>(i);                                          \
    hits += dist <= max_distance;                                                         \
  }                                                                                       \
  return hits;

std::size_t filter_portable(const std::uint8_t* codes, std::size_t n, std::size_t bytes, const std::uint8_t* query,
                            unsigned max_distance, std::uint32_t* slots) noexcept {
  IVF_HAMMING_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) std::size_t filter_popcnt(const std::uint8_t* codes, std::size_t n,
                                                             std::size_t bytes, const std::uint8_t* query,
                                                             unsigned max_distance, std::uint32_t* slots) noexcept {
  IVF_HAMMING_BODY
}
#endif

#undef IVF_HAMMING_BODY

// Distance of one pair, 8 bytes at a time then the tail.
#define IVF_DISTANCE_BODY                                                                 \
  unsigned dist = 0;                                                                      \
  std::size_t i = 0;                                                                      \
  for (; i + 8 <= bytes; i += 8) {                                                        \
    std::uint64_t x, y;                                                                   \
    std::memcpy(&x, a + i, 8);                                                            \
    std::memcpy(&y, b + i, 8);                                                            \
    dist += static_cast<unsigned>(__builtin_popcountll(x ^ y));                           \
  }                                                                                       \
  for (; i < bytes; ++i) dist += static_cast<unsigned>(__builtin_popcount(unsigned(a[i] ^ b[i]))); \
  return dist;

unsigned distance_portable(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes) noexcept {
  IVF_DISTANCE_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) unsigned distance_popcnt(const std::uint8_t* a, const std::uint8_t* b,
                                                           std::size_t bytes) noexcept {
  IVF_DISTANCE_BODY
}
#endif

#undef IVF_DISTANCE_BODY

using distance_fn = unsigned (*)(const std::uint8_t*, const std::uint8_t*, std::size_t) noexcept;

distance_fn pick_distance() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("popcnt")) return &distance_popcnt;
#endif
  return &distance_portable;
}

using filter_fn = std::size_t (*)(const std::uint8_t*, std::size_t, std::size_t, const std::uint8_t*, unsigned,
                                  std::uint32_t*) noexcept;

filter_fn pick_filter() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("popcnt")) return &filter_popcnt;
#endif
  return &filter_portable;
}

}  // namespace

unsigned hamming_distance(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes) noexcept {
  static const distance_fn fn = pick_distance();  // immutable after its thread-safe initialisation
  return fn(a, b, bytes);
}

std::size_t hamming_filter(const std::uint8_t* codes, std::size_t n, std::size_t bytes, const std::uint8_t* query,
                           unsigned max_distance, std::uint32_t* slots) noexcept {
  static const filter_fn fn = pick_filter();  // immutable after its thread-safe initialisation
  return fn(codes, n, bytes, query, max_distance, slots);
}

}  // namespace ivfstream::kernels
