#include "actors/ingest_actor.hpp"

#include <algorithm>
#include <chrono>

#include "actors/internal/durable_file.hpp"
#include "actors/internal/retrain_hooks.hpp"

namespace ivfstream::actors {
namespace {

ack_reply failed(ivfstream::error e) {
  ack_reply r;
  r.failure = std::move(e);
  return r;
}

using ingest_pointer = ingest_actor::stateful_pointer<ingest_actor_state>;

// Marks the partitions `batch` changes as needing a new snapshot at the next checkpoint. Called when
// the batch is sent: a snapshot request sent later is applied after it (mailbox order).
void mark_dirty(ingest_actor_state& st, const routed_batch& batch) {
  st.dirty.resize(st.setup.partitions.size(), true);
  for (std::size_t p = 0; p < batch.updates.size() && p < st.dirty.size(); ++p)
    if (batch.new_codebooks || !batch.updates[p].empty()) st.dirty[p] = true;
}

// Sends `batch` and completes `rp` once applied.
void send_and_reply(ingest_pointer self, routed_batch batch, caf::typed_response_promise<ack_reply> rp) {
  mark_dirty(self->state, batch);
  ++self->state.inflight;
  dispatch_batch(self, self->state.setup.partitions, self->state.setup.queries, std::move(batch),
                 [self, rp](ack_reply r) mutable {
                   --self->state.inflight;
                   rp.deliver(std::move(r));
                 });
}

// Incremental checkpoint: snapshots every partition changed since its newest snapshot into
// checkpoint-<seq>/, references the newest snapshot of every other one (in an older checkpoint's
// directory), then writes manifest-<seq>.
void run_checkpoint(ingest_pointer self, std::function<void(ack_reply)> rp_done) {
  struct deliverer {
    std::function<void(ack_reply)> f;
    void deliver(ack_reply r) { f(std::move(r)); }
  } rp{std::move(rp_done)};
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
  if (st.feed && st.feed->group_mode()) {  // staged together with the offsets, so consistent with them
    manifest->group_ingest = true;
    manifest->owned_ids = st.ownership.ids_by_partition();
  }
  manifest->partition_files.resize(st.setup.partitions.size());
  manifest->partition_sizes.resize(st.setup.partitions.size());
  auto left = std::make_shared<std::size_t>(st.setup.partitions.size());
  auto failure = std::make_shared<std::optional<ivfstream::error>>();
  st.checkpoint_running = true;
  st.last_checkpoint_time = std::chrono::steady_clock::now();
  st.records_since_checkpoint = 0;
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
  const std::size_t P = st.setup.partitions.size();
  st.dirty.resize(P, true);
  // New codebooks (training, a hot swap) change every partition, whatever path installed them.
  if (core.codebooks() && core.codebooks()->version() != st.snapshot_codebook_version) {
    st.dirty.assign(P, true);
    st.snapshot_codebook_version = core.codebooks()->version();
  }
  st.setup.snapshot_files.resize(P);
  ++*left;  // held until every request is sent, so an unchanged partition cannot finish it early
  for (std::uint32_t p = 0; p < P; ++p) {
    if (!st.dirty[p] && !st.setup.snapshot_files[p].empty()) {
      manifest->partition_files[p] = st.setup.snapshot_files[p];
      ++st.snapshots_reused;
      finish();
      continue;
    }
    const std::string file = dir + "/partition-" + std::to_string(p) + ".ivps";
    manifest->partition_files[p] = file;
    st.dirty[p] = false;  // updates sent from now on reach the partition after this snapshot
    ++st.snapshots_written;
    self->request(st.setup.partitions[p], k_apply_timeout, snapshot_atom::value, file)
        .then(
            [self, p, file, finish, failure](snapshot_reply& r) mutable {
              if (r.failure) {
                self->state.dirty[p] = true;
                if (!*failure) *failure = std::move(r.failure);
              } else {
                self->state.setup.snapshot_files[p] = file;
              }
              finish();
            },
            [self, p, finish, failure](caf::error& e) mutable {
              self->state.dirty[p] = true;
              if (!*failure) *failure = fail(errc::unavailable, "partition snapshot: " + caf::to_string(e));
              finish();
            });
  }
  finish();
}

// Kafka loop constants: records per poll, how long a poll may wait, pause when idle or failing.
constexpr std::size_t k_poll_records = 1024;
constexpr std::chrono::milliseconds k_poll_wait{2};
constexpr std::chrono::milliseconds k_backoff{50};
// Freshness percentiles are over the most recent records only (the steady state, not the backlog).
constexpr std::size_t k_freshness_samples = 1000;

std::uint64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void record_freshness(ingest_actor_state& st, const std::vector<std::uint64_t>& created) {
  const std::uint64_t now = now_us();
  for (auto c : created) {
    if (c == 0) continue;
    const float v = now > c ? static_cast<float>(now - c) : 0.f;
    if (st.freshness_us.size() < k_freshness_samples)
      st.freshness_us.push_back(v);
    else
      st.freshness_us[st.freshness_next++ % k_freshness_samples] = v;
    ++st.freshness_count;
  }
}

// Back-pressure: pause the vectors consumer at the bound, resume at half of it (hysteresis, so a
// consumer at the bound does not flap between the two on every batch).
void update_back_pressure(ingest_actor_state& st) {
  if (!st.feed) return;
  const std::uint64_t bound = st.setup.max_pending_vectors;
  if (!st.consumer_paused && st.pending_vectors >= bound) {
    if (auto p = st.feed->pause(); !p) {
      st.last_error = std::move(p).error();
      return;
    }
    st.consumer_paused = true;
    ++st.consumer_pauses;
  } else if (st.consumer_paused && st.pending_vectors <= bound / 2) {
    if (auto r = st.feed->resume(); !r) {
      st.last_error = std::move(r).error();
      return;
    }
    st.consumer_paused = false;
  }
}

// Stages a batch produced by the Kafka loop and dispatches it; freshness is measured on the ack.
void dispatch_kafka(ingest_pointer self, routed_batch batch, std::vector<std::uint64_t> created) {
  auto& st = self->state;
  mark_dirty(st, batch);
  std::uint64_t vectors = batch.routed_vectors;
  for (const auto& u : batch.updates) vectors += u.removes.size();
  ++st.inflight;
  st.pending_vectors += vectors;
  st.peak_pending_vectors = std::max(st.peak_pending_vectors, st.pending_vectors);
  dispatch_batch(self, st.setup.partitions, st.setup.queries, std::move(batch),
                 [self, vectors, created = std::move(created)](ack_reply r) {
                   auto& st = self->state;
                   --st.inflight;
                   st.pending_vectors -= vectors;
                   if (r.failure) st.last_error = std::move(r.failure);
                   st.applied_vectors += r.count;
                   record_freshness(st, created);
                   update_back_pressure(st);
                 });
}

// Records to take in one poll: as many as fit under the back-pressure bound when each is as large as
// the largest record seen so far (one until a record was seen), at least one, at most k_poll_records.
std::size_t records_to_poll(const ingest_actor_state& st) {
  const std::uint64_t bound = st.setup.max_pending_vectors;
  if (st.pending_vectors >= bound) return 0;
  if (st.largest_record_vectors == 0) return 1;
  const std::uint64_t fit = (bound - st.pending_vectors) / st.largest_record_vectors;
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(fit, 1, k_poll_records));
}

// One round of the Kafka loop: poll, validate, coalesce consecutive upserts, stage, dispatch.
void kafka_round(ingest_pointer self) {
  auto& st = self->state;
  auto& core = *st.setup.state;
  auto& feed = *st.feed;
  update_back_pressure(st);
  const std::size_t want = records_to_poll(st);
  if (want == 0 || st.consumer_paused) {  // at the bound: the acks resume the consumer
    self->delayed_send(self, std::chrono::milliseconds(1), poll_atom::value);
    return;
  }
  auto records = feed.poll(want, k_poll_wait);
  if (!records) {
    st.last_error = std::move(records).error();
    self->delayed_send(self, k_backoff, poll_atom::value);
    return;
  }
  const std::size_t d = core.params() ? core.params()->dimension : 0;
  std::vector<std::uint64_t> ids;
  std::vector<float> x;
  std::vector<std::uint64_t> created;
  auto flush = [&]() {
    if (ids.empty()) return;
    auto batch = core.upsert(ids.data(), x.data(), ids.size(), d);
    if (!batch) {
      st.last_error = std::move(batch).error();  // cannot happen: every record was checked alone
    } else {
      // Freshness is measured in steady state only: records buffered before training (or routed by
      // the batch that trained) wait for the training, which is not what freshness is about.
      if (batch->routed_vectors == 0 || batch->new_codebooks) created.clear();
      dispatch_kafka(self, std::move(*batch), std::move(created));
      internal::retrain_observe(self, x.data(), ids.size());
    }
    ids.clear();
    x.clear();
    created.clear();
  };
  for (auto& r : *records) {
    ++st.records_since_checkpoint;
    if (!r.rejected) {
      auto& rec = r.record;
      st.largest_record_vectors = std::max<std::uint64_t>(st.largest_record_vectors, rec.ids.size());
      if (rec.kind == connectors::vector_record_kind::upsert) {
        auto ok = core.check_upsert(rec.ids.data(), rec.vectors.data(), rec.ids.size(), rec.dimension);
        if (!ok) {
          feed.reject(r, ok.error());
        } else {
          if (feed.group_mode()) st.ownership.note_upsert({r.topic, r.partition}, rec.ids.data(), rec.ids.size());
          ids.insert(ids.end(), rec.ids.begin(), rec.ids.end());
          x.insert(x.end(), rec.vectors.begin(), rec.vectors.end());
          created.push_back(rec.created_at_us);
        }
      } else {
        flush();
        if (feed.group_mode()) st.ownership.note_delete(rec.ids.data(), rec.ids.size());
        auto batch = core.remove(rec.ids.data(), rec.ids.size());
        if (batch) dispatch_kafka(self, std::move(*batch), {});
      }
    }
    core.note_offset(r.topic, r.partition, r.offset);
  }
  flush();
  // Periodic checkpoint (only once trained: before that a restart replays from the start).
  const auto since = std::chrono::steady_clock::now() - st.last_checkpoint_time;
  const bool by_time = st.setup.checkpoint_interval_ms > 0 &&
                       since >= std::chrono::milliseconds(st.setup.checkpoint_interval_ms);
  const bool by_count = st.setup.checkpoint_interval_records > 0 &&
                        st.records_since_checkpoint >= st.setup.checkpoint_interval_records;
  if ((by_time || by_count) && !st.checkpoint_running && core.trained() && !st.setup.data_dir.empty())
    run_checkpoint(self, [self](ack_reply r) {
      if (r.failure) self->state.last_error = std::move(r.failure);
    });
  if (records->empty() || st.inflight > st.setup.max_inflight_batches)
    self->delayed_send(self, std::chrono::milliseconds(1), poll_atom::value);
  else
    self->send(self, poll_atom::value);
}

// Consumer-group mode (issue 6): what this node indexes follows the group's assignment.
void install_group_hooks(ingest_pointer self) {
  vector_feed::group_hooks hooks;
  // Partitions revoked and not assigned again are dropped (their ids removed, their offsets forgotten);
  // the rest continue where this node's staged offsets say; new ones replay from the beginning.
  hooks.on_assign = [self](const std::vector<topic_partition_key>& tps) {
    auto& st = self->state;
    auto& core = *st.setup.state;
    auto [ids, gone] = st.ownership.assign(tps);
    if (!ids.empty()) {
      auto batch = core.remove(ids.data(), ids.size());
      if (batch)
        dispatch_kafka(self, std::move(*batch), {});
      else
        st.last_error = std::move(batch).error();
    }
    auto offsets = core.offsets();
    for (const auto& tp : gone) offsets.erase(tp);
    if (!gone.empty()) core.set_offsets(offsets);
    offset_map start;
    for (const auto& tp : tps)
      if (auto it = offsets.find(tp); it != offsets.end()) start[tp] = it->second;
    return start;
  };
  // Revocation: commit what was staged of those partitions; their data stay until the next assignment
  // says whether they come back (eager rebalancing revokes everything first).
  hooks.on_revoke = [self](const std::vector<topic_partition_key>& tps) {
    auto& st = self->state;
    st.ownership.revoke(tps);
    offset_map done;
    for (const auto& tp : tps)
      if (auto it = st.setup.state->offsets().find(tp); it != st.setup.state->offsets().end()) done[tp] = it->second;
    if (auto c = st.feed->commit(done); !c) st.last_error = std::move(c).error();
  };
  self->state.feed->set_group_hooks(std::move(hooks));
}

}  // namespace

ingest_actor::behavior_type ingest_behavior(ingest_pointer self, ingest_setup setup) {
  self->state.setup = std::move(setup);
  self->state.retrain->policy = self->state.setup.retrain;
  {  // Restored partitions equal their snapshot files: clean until an update reaches them.
    auto& st = self->state;
    st.setup.snapshot_files.resize(st.setup.partitions.size());
    st.dirty.assign(st.setup.partitions.size(), true);
    for (std::size_t p = 0; p < st.dirty.size(); ++p) st.dirty[p] = st.setup.snapshot_files[p].empty();
    if (const auto& cb = st.setup.state->codebooks()) st.snapshot_codebook_version = cb->version();
    if (!st.setup.restored_owned_ids.empty()) {
      st.ownership.restore(st.setup.restored_owned_ids);
      st.setup.restored_owned_ids.clear();
    }
  }
  return {
      [self](create_atom, const index_params& p, std::uint64_t train_after) -> ack_reply {
        auto& core = *self->state.setup.state;
        if (core.trained() && core.params()) {
          // Restored from a checkpoint: creating the same index again is a no-op; another code layout is
          // refused, naming both sides (index_params.hpp check_codebook_layout).
          auto same = check_codebook_layout(core.codebooks()->params(), p, "create_index on the restored index");
          if (!same) return failed(std::move(same).error());
          core.set_accelerator(p.accelerator);  // retrains run where this call asks (not saved: restored say cpu)
          return ack_reply{};
        }
        auto st = core.create_index(p, train_after);
        if (!st) return failed(std::move(st).error());
        return ack_reply{};
      },
      [self](trainer_atom, std::shared_ptr<const codebook_trainer>& t) -> ack_reply {
        self->state.setup.state->set_trainer(std::move(t));
        return ack_reply{};
      },
      [self](policy_atom, std::uint64_t train_after, const retrain_policy& policy) -> caf::result<ack_reply> {
        if (auto ok = policy.validate(); !ok) return failed(ok.error());
        auto& core = *self->state.setup.state;
        if (!core.params()) return failed(fail(errc::not_trained, "set_training: call create_index first"));
        if (train_after == 0) train_after = ingest_state::default_train_after(*core.params());
        auto& dr = *self->state.retrain;
        const std::size_t reservoir = dr.policy.reservoir_size, window = dr.policy.error_window;
        dr.policy = policy;
        if (dr.trainer) {  // the sizes of what the trainer holds stay (trainer_state::set_policy)
          dr.policy.reservoir_size = reservoir;
          dr.policy.error_window = window;
          dr.trainer->set_policy(dr.policy);
        }
        internal::start_ticking(self);
        core.set_train_after(train_after);
        auto batch = core.train_if_due();
        if (!batch) return failed(std::move(batch).error());
        if (!*batch) return ack_reply{};
        auto rp = self->make_response_promise<ack_reply>();
        send_and_reply(self, std::move(**batch), rp);
        return rp;
      },
      [self](sample_atom) -> training_sample {
        const auto& dr = *self->state.retrain;
        const auto& core = *self->state.setup.state;
        training_sample s;
        s.params = core.params();
        const bool reservoir = dr.trainer && dr.trainer->sample_size() > 0;
        s.rows = reservoir ? dr.trainer->sample() : core.buffered_sample();
        const std::uint64_t n = s.params ? s.rows.size() / s.params->dimension : 0;
        s.population = reservoir ? std::max<std::uint64_t>(dr.trainer->seen(), n) : n;
        return s;
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
      [self](codebooks_atom, std::shared_ptr<const codebook_set>& cb) -> caf::result<ack_reply> {
        if (!cb) return failed(fail(errc::invalid_argument, "install codebooks: null codebooks"));
        if (self->state.setup.state->codebooks()) {  // trained: hot swap to the newer version
          auto rp = self->make_response_promise<ack_reply>();
          internal::adopt_codebooks(self, std::move(cb), [rp](ack_reply r) mutable { rp.deliver(std::move(r)); });
          return rp;
        }
        auto batch = self->state.setup.state->install(std::move(cb));
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
        internal::retrain_observe(self, x.data(), ids.size());
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
        run_checkpoint(self, [rp](ack_reply r) mutable { rp.deliver(std::move(r)); });
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
        s.snapshots_written = self->state.snapshots_written;
        s.snapshots_reused = self->state.snapshots_reused;
        if (self->state.feed) s.feed = self->state.feed->counters();
        s.applied_vectors = self->state.applied_vectors;
        s.pending_vectors = self->state.pending_vectors;
        s.peak_pending_vectors = self->state.peak_pending_vectors;
        s.consumer_pauses = self->state.consumer_pauses;
        s.consumer_paused = self->state.consumer_paused;
        s.last_error = self->state.last_error;
        s.retrain = internal::retrain_report(self->state);
        auto samples = self->state.freshness_us;
        s.freshness.samples = self->state.freshness_count;
        if (!samples.empty()) {
          std::sort(samples.begin(), samples.end());
          auto at = [&](double q) { return samples[std::min(samples.size() - 1, std::size_t(q * samples.size()))]; };
          s.freshness.p50_us = at(0.5);
          s.freshness.p99_us = at(0.99);
          s.freshness.max_us = samples.back();
        }
        return s;
      },
      [self](attach_atom, std::shared_ptr<vector_feed>& feed) {
        const bool first = !self->state.feed;
        self->state.feed = std::move(feed);
        if (self->state.feed->group_mode()) install_group_hooks(self);
        if (first) self->send(self, poll_atom::value);
      },
      [self](retrain_atom) -> caf::result<ack_reply> {
        auto rp = self->make_response_promise<ack_reply>();
        internal::retrain_now(self, [rp](ack_reply r) mutable { rp.deliver(std::move(r)); });
        return rp;
      },
      [self](rebalance_atom) -> caf::result<ack_reply> {
        auto rp = self->make_response_promise<ack_reply>();
        internal::rebalance_now(self, [rp](ack_reply r) mutable { rp.deliver(std::move(r)); });
        return rp;
      },
      [self](rtick_atom) { internal::retrain_tick(self); },
      [self](poll_atom) {
        if (self->state.feed) kafka_round(self);
      },
  };
}

}  // namespace ivfstream::actors
