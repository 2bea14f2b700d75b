#include "actors/partition_actor.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

namespace ivfstream::actors {

partition_actor::behavior_type
partition_behavior(partition_actor::stateful_pointer<partition_actor_state> self,
                   std::shared_ptr<partition_state> initial) {
  self->state.core = std::move(initial);
  return {
      [self](scan_atom, const scan_request& r) {
        scan_reply out;
        out.partition = self->state.core->index();
        auto hits = self->state.core->scan(r);
        if (hits)
          out.hits = std::move(*hits);
        else
          out.failure = std::move(hits).error();
        return out;
      },
      [self](scan_atom, const scan_batch& b) {
        scan_batch_reply out;
        out.partition = self->state.core->index();
        out.replies.resize(b.scans.size());
        for (std::size_t i = 0; i < b.scans.size(); ++i) {
          auto& r = out.replies[i];
          r.partition = out.partition;
          auto hits = self->state.core->scan(b.scans[i]);
          if (hits)
            r.hits = std::move(*hits);
          else
            r.failure = std::move(hits).error();
        }
        return out;
      },
      [self](apply_atom, const partition_update& u) {
        ack_reply out;
        auto st = self->state.core->apply(u);
        if (!st) out.failure = std::move(st).error();
        out.count = self->state.core->size();
        return out;
      },
      [self](codebooks_atom, const std::shared_ptr<const codebook_set>& cb) {
        ack_reply out;
        auto st = self->state.core->install(cb);
        if (!st) out.failure = std::move(st).error();
        return out;
      },
      [self](snapshot_atom, const std::string& path) {
        snapshot_reply out;
        out.partition = self->state.core->index();
        out.file = std::filesystem::path(path).filename().string();
        auto st = self->state.core->save(path);
        if (!st) out.failure = std::move(st).error();
        return out;
      },
      [self](stats_atom) { return self->state.core->stats(); },
      [](delay_atom, std::uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); },
  };
}

}  // namespace ivfstream::actors
