// libFuzzer target: actors::partition_state::load (schemas/partition_snapshot.fbs), read on restart
// for each partition named by a manifest. The state is partition 0 of 1 with the fixed codebooks of
// fuzz_support.hpp installed (the seeds are written with the same ones). The input is written as
// <scratch>/partition-0.ivps.
// Property: never crashes or over-allocates; after a successful load every held id is found in
// its list and a scan of every list returns only held ids, each once.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "actors/partition_state.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace ivfstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::shared_ptr<const codebook_set> codebooks = fuzz::fixed_codebooks();
  const std::string path = fuzz::scratch_dir() + "/partition-0.ivps";
  fuzz::write_bytes(path, data, size);
  actors::partition_state state(0, 1);
  if (!state.install(codebooks)) std::abort();
  if (!state.load(path)) return 0;
  if (state.stats().live_vectors != state.size()) std::abort();
  std::vector<float> q(codebooks->dimension(), 0.25f);
  auto plan = codebooks->plan_query(q.data(), codebooks->params().num_partitions);
  if (!plan) std::abort();
  actors::scan_request req;
  req.codebooks = codebooks;
  req.plan = std::make_shared<const query_plan>(std::move(*plan));
  req.probes.resize(req.plan->lists.size());
  std::iota(req.probes.begin(), req.probes.end(), 0u);
  req.k = 1000;
  req.exact = true;
  auto hits = state.scan(req);
  if (!hits) std::abort();
  // Every id at most once (a snapshot naming an id twice must be refused, as ivfpq_index::load does).
  std::vector<std::uint64_t> ids;
  for (const auto& h : *hits) {
    if (!state.list_of(h.id)) std::abort();
    ids.push_back(h.id);
  }
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) std::abort();
  return 0;
}
