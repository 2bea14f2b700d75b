#include "actors/ingest_actor.hpp"

#include <chrono>

#include "actors/internal/durable_file.hpp"

namespace ivfstream::actors {
namespace {

ack_reply failed(ivfstream::error e) {
  ack_reply r;
  r.failure = std::move(e);
  return r;
}

using ingest_pointer = ingest_actor::stateful_pointer<ingest_actor_state>;

// Sends `batch` and completes `rp` once applied.
void send_and_reply(ingest_pointer self, routed_batch batch, caf::typed_response_promise<ack_reply> rp) {
  ++self->state.inflight;
  dispatch_batch(self, self->state.setup.partitions, self->state.setup.queries, std::move(batch),
                 [self, rp](ack_reply r) mutable {
                   --self->state.inflight;
                   rp.deliver(std::move(r));
                 });
}

// Snapshots every partition into checkpoint-<seq>/, then writes manifest-<seq>.
void run_checkpoint(ingest_pointer self, caf::typed_response_promise<ack_reply> rp) {
  auto& st = self->state;
  const auto& core = *st.setup.state;
  const std::uint64_t seq = st.setup.last_checkpoint + 1;
  const std::string dir = checkpoint_directory(st.setup.data_dir, seq);
  if (auto mk = internal::make_directories(dir); !mk) {
    rp.deliver(failed(std::move(mk).error()));
    return;
  }
  auto manifest = std::make_shared<checkpoint_manifest>();
  manifest->sequence = seq;
  manifest->created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  manifest->num_partition_actors = static_cast<std::uint32_t>(st.setup.partitions.size());
  manifest->codebooks = core.codebooks();
  manifest->offsets = core.offsets();  // everything staged so far: partitions apply it before the snapshot
  manifest->train_after = core.train_after();
  manifest->partition_files.resize(st.setup.partitions.size());
  manifest->partition_sizes.resize(st.setup.partitions.size());
  auto left = std::make_shared<std::size_t>(st.setup.partitions.size());
  auto failure = std::make_shared<std::optional<ivfstream::error>>();
  st.checkpoint_running = true;
  auto finish = [self, rp, manifest, left, failure, seq]() mutable {
    if (--*left != 0) return;
    self->state.checkpoint_running = false;
    if (*failure) {
      rp.deliver(failed(std::move(**failure)));
      return;
    }
    const std::string& data_dir = self->state.setup.data_dir;
    if (auto w = write_manifest(data_dir, *manifest); !w) {
      rp.deliver(failed(std::move(w).error()));
      return;
    }
    self->state.setup.last_checkpoint = seq;
    remove_checkpoints_before(data_dir, seq);
    ack_reply ok;
    ok.count = seq;
    rp.deliver(std::move(ok));
  };
  for (std::uint32_t p = 0; p < st.setup.partitions.size(); ++p) {
    const std::string file = dir + "/partition-" + std::to_string(p) + ".ivps";
    manifest->partition_files[p] = file;
    self->request(st.setup.partitions[p], k_apply_timeout, snapshot_atom::value, file)
        .then(
            [finish, failure](snapshot_reply& r) mutable {
              if (r.failure && !*failure) *failure = std::move(r.failure);
              finish();
            },
            [finish, failure](caf::error& e) mutable {
              if (!*failure) *failure = fail(errc::unavailable, "partition snapshot: " + caf::to_string(e));
              finish();
            });
  }
}

}  // namespace

ingest_actor::behavior_type ingest_behavior(ingest_pointer self, ingest_setup setup) {
  self->state.setup = std::move(setup);
  return {
      [self](create_atom, const index_params& p, std::uint64_t train_after) -> ack_reply {
        auto& core = *self->state.setup.state;
        if (core.trained() && core.params()) {
          // Restored from a checkpoint: creating the same index again is a no-op.
          const auto& have = *core.params();
          if (have.dimension == p.dimension && have.metric == p.metric && have.num_partitions == p.num_partitions &&
              have.num_sub_vectors == p.num_sub_vectors && have.num_bits == p.num_bits)
            return ack_reply{};
        }
        auto st = core.create_index(p, train_after);
        if (!st) return failed(std::move(st).error());
        return ack_reply{};
      },
      [self](train_atom, const std::vector<float>& x) -> caf::result<ack_reply> {
        auto& core = *self->state.setup.state;
        if (!core.params()) return failed(fail(errc::not_trained, "train: call create_index first"));
        const std::size_t d = core.params()->dimension;
        if (x.size() % d != 0)
          return failed(fail(errc::dimension_mismatch, "training set of " + std::to_string(x.size()) +
                                                           " floats is not a multiple of dimension " +
                                                           std::to_string(d)));
        auto batch = core.train(x.data(), x.size() / d);
        if (!batch) return failed(std::move(batch).error());
        auto rp = self->make_response_promise<ack_reply>();
        send_and_reply(self, std::move(*batch), rp);
        return rp;
      },
      [self](upsert_atom, const std::vector<std::uint64_t>& ids,
             const std::vector<float>& x) -> caf::result<ack_reply> {
        auto& core = *self->state.setup.state;
        if (!core.params()) return failed(fail(errc::not_trained, "upsert: no index; call create_index first"));
        const std::size_t d = core.params()->dimension;
        if (ids.empty()) return ack_reply{};
        if (x.size() != ids.size() * d)
          return failed(fail(errc::dimension_mismatch, "upsert of " + std::to_string(ids.size()) + " ids with " +
                                                           std::to_string(x.size()) + " floats: expected n × " +
                                                           std::to_string(d)));
        auto batch = core.upsert(ids.data(), x.data(), ids.size(), d);
        if (!batch) return failed(std::move(batch).error());
        auto rp = self->make_response_promise<ack_reply>();
        send_and_reply(self, std::move(*batch), rp);
        return rp;
      },
      [self](remove_atom, const std::vector<std::uint64_t>& ids) -> caf::result<ack_reply> {
        auto batch = self->state.setup.state->remove(ids.data(), ids.size());
        if (!batch) return failed(std::move(batch).error());
        auto rp = self->make_response_promise<ack_reply>();
        send_and_reply(self, std::move(*batch), rp);
        return rp;
      },
      [self](checkpoint_atom) -> caf::result<ack_reply> {
        auto& st = self->state;
        if (st.setup.data_dir.empty())
          return failed(fail(errc::invalid_argument, "checkpoint: no data_dir configured"));
        if (!st.setup.state->trained())
          return failed(fail(errc::not_trained, "checkpoint: nothing to save before the index is trained"));
        if (st.checkpoint_running)
          return failed(fail(errc::resource_exhausted, "checkpoint: another checkpoint is still being written"));
        auto rp = self->make_response_promise<ack_reply>();
        run_checkpoint(self, rp);
        return rp;
      },
      [self](stats_atom) {
        const auto& core = *self->state.setup.state;
        ingest_stats s;
        s.counters = core.counters();
        s.configured = core.configured();
        s.codebook_version = core.codebooks() ? core.codebooks()->version() : 0;
        s.train_after = core.train_after();
        s.last_checkpoint = self->state.setup.last_checkpoint;
        s.offsets = core.offsets();
        s.inflight_batches = self->state.inflight;
        return s;
      },
  };
}

}  // namespace ivfstream::actors
