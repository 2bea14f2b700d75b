// ingest_state's half of the hot-swap protocol (actors/swap_protocol.hpp): dual routing of every
// batch under the live and the shadow version, and the routes the shadow takes over at commit.
#include "actors/ingest_state.hpp"

namespace ivfstream::actors {

status ingest_state::begin_shadow(std::shared_ptr<const codebook_set> next) {
  IVF_ASSERT(next != nullptr);
  if (!codebooks_) return fail(errc::not_trained, "begin_shadow: the index is not trained");
  if (shadow_)
    return fail(errc::resource_exhausted, "begin_shadow: version " + std::to_string(shadow_->version()) +
                                              " is being built; at most one shadow at a time");
  // Newer, not necessarily live + 1: a node following the codebooks topic may skip versions (the
  // compacted topic keeps the newest only).
  if (next->version() <= codebooks_->version())
    return fail(errc::version_mismatch, "begin_shadow: version " + std::to_string(next->version()) +
                                            " must be newer than the live version " +
                                            std::to_string(codebooks_->version()));
  shadow_ = std::move(next);
  shadow_route_.clear();
  shadow_route_.reserve(route_.size());
  shadow_touched_.clear();
  return {};
}

void ingest_state::route_shadow(const std::uint64_t* ids, const float* prepared, std::size_t n, routed_batch& out) {
  const std::size_t d = shadow_->dimension();
  std::vector<std::uint32_t> lists(n);
  shadow_->assign(prepared, n, lists.data());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t p = lists[i] % num_partitions_;
    auto& u = out.shadow_updates[p];
    u.ids.push_back(ids[i]);
    u.lists.push_back(lists[i]);
    u.vectors.insert(u.vectors.end(), prepared + i * d, prepared + (i + 1) * d);
    // Where the shadow held the id before is unknown here (re-encoded by the partitions): every
    // other partition's shadow drops it.
    for (std::uint32_t q = 0; q < num_partitions_; ++q)
      if (q != p) out.shadow_updates[q].removes.push_back(ids[i]);
    shadow_route_[ids[i]] = p;
    shadow_touched_.insert(ids[i]);
  }
}

void ingest_state::note_shadow_members(std::uint32_t partition, const std::vector<std::uint64_t>& ids) {
  for (auto id : ids)
    if (!shadow_touched_.count(id)) shadow_route_[id] = partition;
}

status ingest_state::commit_shadow() {
  if (!shadow_) return fail(errc::invalid_argument, "commit_shadow: no shadow version is being built");
  codebooks_ = std::move(shadow_);
  shadow_.reset();
  retired_route_ = std::move(route_);
  route_ = std::move(shadow_route_);
  shadow_route_ = {};
  shadow_touched_ = {};
  return {};
}

void ingest_state::abort_shadow() {
  shadow_.reset();
  shadow_route_ = {};
  shadow_touched_ = {};
}

}  // namespace ivfstream::actors
