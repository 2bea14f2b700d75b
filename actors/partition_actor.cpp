#include "actors/partition_actor.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

namespace ivfstream::actors {
namespace {

// Entries a partition re-encodes per step of a shadow rebuild (scans are served between steps).
constexpr std::size_t k_shadow_step_entries = 2048;

}  // namespace

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
      [self](shadow_atom, const std::shared_ptr<const codebook_set>& next) -> caf::result<shadow_start> {
        auto& st = self->state;
        st.shadow = shadow_start{};
        st.shadow.partition = st.core->index();
        st.shadow.version = next->version();
        if (auto ok = st.core->begin_shadow(next); !ok) {
          st.shadow.failure = std::move(ok).error();
          return std::move(st.shadow);
        }
        // The rebuild runs in steps (shadow_atom without arguments) so scans interleave with it.
        st.shadow_reply = self->make_response_promise<shadow_start>();
        self->send(self, shadow_atom::value);
        return st.shadow_reply;
      },
      [self](shadow_atom) {
        auto& st = self->state;
        if (!st.shadow_reply.pending()) return;
        if (st.core->shadow_version() != st.shadow.version) {  // aborted meanwhile
          st.shadow.failure = fail(errc::invalid_argument, "shadow abandoned while it was built");
          st.shadow_reply.deliver(std::move(st.shadow));
          return;
        }
        if (st.core->shadow_step(k_shadow_step_entries, st.shadow))
          st.shadow_reply.deliver(std::move(st.shadow));
        else
          self->send(self, shadow_atom::value);
      },
      [self](migrate_atom, const partition_update& u) {
        ack_reply out;
        if (auto st = self->state.core->migrate(u); !st) out.failure = std::move(st).error();
        return out;
      },
      [self](commit_atom, std::uint64_t version) {
        ack_reply out;
        if (auto st = self->state.core->commit_shadow(version); !st) out.failure = std::move(st).error();
        out.count = self->state.core->size();
        return out;
      },
      [self](retire_atom, std::uint64_t version) { self->state.core->retire(version); },
      [self](abort_atom) { self->state.core->abort_shadow(); },
  };
}

}  // namespace ivfstream::actors
