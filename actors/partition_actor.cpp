#include "actors/partition_actor.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

#include "actors/reencoder.hpp"
#include "actors/thread_priority.hpp"

namespace ivfstream::actors {
namespace {

using self_pointer = partition_actor::stateful_pointer<partition_actor_state>;

// Entries per block of a shadow rebuild. The partition actor's share of a block is a copy of its rows
// (block × d floats), appending the codes and cutting the emigrant chunks; scans queued meanwhile
// wait for it, so it stays small (2048-entry blocks held a partition for milliseconds; 512 still took
// 0.6-0.9 ms of thread CPU per block at d = 128, several times a steady query: bench/README.md "hot
// swap"). The emigrant chunks of a block, one migrate message each, are bounded by it too.
constexpr std::size_t k_shadow_block_entries = 256;
// Blocks at the re-encoder at once: one being encoded while the next waits, so it never idles on us.
constexpr std::size_t k_shadow_blocks_in_flight = 2;

void end_rebuild(self_pointer self, const std::shared_ptr<shadow_rebuild>& rb) {
  if (rb->encoder) self->send_exit(rb->encoder, caf::exit_reason::user_shutdown);
  rb->encoder = nullptr;
  if (self->state.rebuild == rb) self->state.rebuild.reset();
}

void pump_rebuild(self_pointer self, const std::shared_ptr<shadow_rebuild>& rb);

void on_block_encoded(self_pointer self, const std::shared_ptr<shadow_rebuild>& rb, reencode_block& b) {
  --rb->in_flight;
  if (!rb->failure) {
    // Fails only when the shadow was dropped (abort) meanwhile: pump_rebuild reports that.
    (void)self->state.core->place_shadow_block(std::move(b), rb->answer);
  }
  pump_rebuild(self, rb);
}

// Keeps the encoder fed; answers the shadow request once every block is placed (or on failure/abort).
void pump_rebuild(self_pointer self, const std::shared_ptr<shadow_rebuild>& rb) {
  auto& core = *self->state.core;
  if (!rb->failure && core.shadow_codebooks() != rb->codebooks.get())
    rb->failure = fail(errc::invalid_argument, "shadow abandoned while it was built");
  while (!rb->failure && rb->in_flight < k_shadow_blocks_in_flight) {
    auto block = core.take_shadow_block(k_shadow_block_entries);
    if (!block) break;
    ++rb->in_flight;
    self->request(rb->encoder, caf::infinite, encode_atom::value, std::move(*block))
        .then([self, rb](reencode_block& done) { on_block_encoded(self, rb, done); },
              [self, rb](caf::error& e) {
                --rb->in_flight;
                if (!rb->failure) rb->failure = fail(errc::unavailable, "re-encoder: " + caf::to_string(e));
                pump_rebuild(self, rb);
              });
  }
  if (rb->in_flight > 0 || !rb->reply.pending()) return;
  if (rb->failure) {
    rb->answer.failure = std::move(rb->failure);
  } else {
    core.finish_shadow_blocks(rb->answer);
  }
  rb->reply.deliver(std::move(rb->answer));
  end_rebuild(self, rb);
}

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
      [self](shadow_atom, const std::shared_ptr<const codebook_set>& next, std::int32_t nice) -> caf::result<shadow_start> {
        auto& st = self->state;
        shadow_start refused;
        refused.partition = st.core->index();
        refused.version = next->version();
        if (auto ok = st.core->begin_shadow(next); !ok) {
          refused.failure = std::move(ok).error();
          return refused;
        }
        // A rebuild of an abandoned shadow may still wait for its encoder: it answers on its own.
        auto rb = std::make_shared<shadow_rebuild>();
        rb->codebooks = next;
        rb->answer.partition = st.core->index();
        rb->answer.version = next->version();
        rb->encoder = self->spawn<caf::detached>(reencoder, static_cast<int>(nice));
        rb->reply = self->make_response_promise<shadow_start>();
        st.rebuild = rb;
        // The shadow's id map is allocated on the re-encoder's thread (its page faults are the
        // largest single cost of a swap); blocks start once it is here. Counted as in flight, so an
        // abort meanwhile answers only after it came back.
        ++rb->in_flight;
        self->request(rb->encoder, caf::infinite, shadow_atom::value,
                      static_cast<std::uint64_t>(st.core->shadow_ids_wanted()))
            .then(
                [self, rb](id_map& ids) {
                  --rb->in_flight;
                  if (self->state.core->shadow_codebooks() == rb->codebooks.get())
                    self->state.core->adopt_shadow_ids(std::move(ids));
                  pump_rebuild(self, rb);
                },
                [self, rb](caf::error& e) {
                  --rb->in_flight;
                  if (!rb->failure) rb->failure = fail(errc::unavailable, "re-encoder: " + caf::to_string(e));
                  pump_rebuild(self, rb);
                });
        return rb->reply;
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
      [self](abort_atom) {
        self->state.core->abort_shadow();
        if (auto rb = self->state.rebuild) pump_rebuild(self, rb);  // answers once its blocks are back
      },
  };
}

}  // namespace ivfstream::actors
