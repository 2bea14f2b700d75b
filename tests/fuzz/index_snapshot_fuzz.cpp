// libFuzzer target: ivfpq_index::load (schemas/index_snapshot.fbs + the ".vectors" sibling file).
// Input layout: u32 little-endian L, then L bytes of snapshot file, then the raw-vector file (the
// rest). Inputs shorter than 4 bytes are a snapshot with no sibling file. Both are written to the
// fuzzer's scratch directory as snap.ivfi and snap.ivfi.vectors.1 (the first generation save() writes).
// Property: load never crashes or over-allocates; a loaded index answers a search (and a refined
// search when it keeps raw vectors) without error, returning at most `limit` hits of live ids.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "index/ivfpq_index.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace ivfstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/snap.ivfi";
  const std::string raw = path + ".vectors.1";  // the first generation save() names (index/snapshot_files.hpp)
  std::size_t snap_len = size;
  const std::uint8_t* snap = data;
  const std::uint8_t* rest = nullptr;
  std::size_t rest_len = 0;
  if (size >= 4) {
    std::uint32_t l = 0;
    for (int i = 3; i >= 0; --i) l = (l << 8) | data[i];
    snap = data + 4;
    snap_len = std::min<std::size_t>(l, size - 4);
    rest = snap + snap_len;
    rest_len = size - 4 - snap_len;
  }
  fuzz::write_bytes(path, snap, snap_len);
  if (rest) fuzz::write_bytes(raw, rest, rest_len);
  else std::remove(raw.c_str());

  auto loaded = ivfpq_index::load(path);
  if (!loaded) return 0;
  const ivfpq_index& index = *loaded;
  if (!index.trained()) {
    if (index.size() != 0) std::abort();
    return 0;
  }
  const std::vector<float> q(index.params().dimension, 0.5f);
  search_params sp;
  sp.limit = 5;
  sp.nprobes = 2;
  auto hits = index.search(q.data(), sp);
  if (!hits || hits->size() > sp.limit) std::abort();
  for (const auto& h : *hits)
    if (!index.find(h.id)) std::abort();
  if (index.params().keep_raw_vectors) {
    sp.refine_factor = 2;
    auto refined = index.search(q.data(), sp);
    if (!refined || refined->size() > sp.limit) std::abort();
  }
  return 0;
}
