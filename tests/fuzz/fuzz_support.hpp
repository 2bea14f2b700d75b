#pragma once
// Shared pieces of the libFuzzer targets and of the seed generator (tests/fuzz/README.md):
// a private scratch directory for decoders that read files, and the fixed codebooks that partition
// snapshot seeds are written with (the partition fuzzer installs the same ones before load()).
// Not thread-safe: each fuzzer process runs one input at a time.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "index/codebook_set.hpp"
#include "index/index_params.hpp"

namespace ivfstream::fuzz {

/// A directory of this process under $TMPDIR (default /tmp), created on first use, named
/// ivfstream-fuzz-<pid>. Removing it is left to the caller (scripts/fuzz.sh removes them).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string d = std::string(tmp && *tmp ? tmp : "/tmp") + "/ivfstream-fuzz-" + std::to_string(::getpid());
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) std::abort();
    return d;
  }();
  return dir;
}

/// Writes size bytes to path (truncating). Aborts on I/O failure (a harness bug, not a finding).
inline void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

/// Parameters of the fixed codebooks: d = 8, 4 lists, M = 2, 4-bit codes (code_size 1), l2.
inline index_params fixed_params() {
  index_params p;
  p.dimension = 8;
  p.num_partitions = 4;
  p.num_sub_vectors = 2;
  p.num_bits = 4;
  p.max_iterations = 2;
  p.sample_rate = 4;
  p.keep_raw_vectors = true;
  return p;
}

/// Version of the fixed codebooks.
inline constexpr std::uint64_t k_fixed_codebook_version = 3;

/// Deterministic codebooks over fixed_params(): centroids (4 × 8) and PQ codebooks (16 × 8) from a
/// small LCG, so that the generator and the fuzzer agree bit for bit.
inline std::shared_ptr<const codebook_set> fixed_codebooks() {
  const index_params p = fixed_params();
  std::uint32_t s = 12345;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.f - 1.f;
  };
  std::vector<float> centroids(p.num_partitions * p.dimension), pq(p.ksub() * p.dimension);
  for (float& v : centroids) v = next();
  for (float& v : pq) v = next() * 0.25f;
  auto cb = codebook_set::from_parts(p, k_fixed_codebook_version, std::move(centroids), std::move(pq));
  if (!cb) std::abort();
  return std::move(*cb);
}

}  // namespace ivfstream::fuzz
