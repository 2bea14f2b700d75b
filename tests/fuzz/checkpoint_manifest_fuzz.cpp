// libFuzzer target: actors::read_manifest (schemas/checkpoint.fbs), the first file a restarting
// node trusts. The input is written as <scratch>/manifest-1.ivcm and read back.
// Property: never crashes or over-allocates; an accepted manifest names one file per partition
// actor, inside the checkpoint directory, and codebooks with the manifest's parameters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "actors/checkpoint.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace ivfstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& dir = fuzz::scratch_dir();
  fuzz::write_bytes(actors::manifest_path(dir, 1), data, size);
  auto m = actors::read_manifest(dir, 1);
  if (!m) return 0;
  if (m->num_partition_actors == 0 || m->partition_files.size() != m->num_partition_actors ||
      m->partition_sizes.size() != m->num_partition_actors || !m->codebooks)
    std::abort();
  const std::string prefix = actors::checkpoint_directory(dir, 1) + "/";
  for (const auto& f : m->partition_files)
    if (!f.empty() && (f.compare(0, prefix.size(), prefix) != 0 || f.find('/', prefix.size()) != std::string::npos))
      std::abort();
  return 0;
}
