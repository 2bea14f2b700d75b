// The ingest actor's side of continuous retraining and the hot swap (protocol in swap_protocol.hpp).
#include "actors/swap_protocol.hpp"

#include <algorithm>
#include <deque>

#include "actors/internal/retrain_hooks.hpp"
#include "actors/retrain_status_file.hpp"
#include "actors/thread_priority.hpp"
#include "index/centroid_rebalance.hpp"

#include <unistd.h>

namespace ivfstream::actors {

std::size_t min_training_sample(const index_params& p) {
  return std::max<std::size_t>({p.ksub(), 4 * p.num_partitions, 1000});
}

namespace internal {
namespace {

using steady = std::chrono::steady_clock;

// How long one partition may take to answer a swap step (a rebuild of millions of entries included).
constexpr std::chrono::seconds k_swap_timeout{600};
// Period of the time-schedule check.
constexpr std::chrono::milliseconds k_tick{250};
// Migrate messages in flight per (source, destination) stream: the next chunk goes when one is
// acknowledged, so a destination's mailbox never holds more than two of them ahead of the scans. A
// chunk is what one re-encoded block sent that destination (partition_actor.cpp bounds the block), so
// neither the ingest actor (which no longer copies them) nor a destination (applying) does more than
// a block's work in one handler.
constexpr std::size_t k_migrate_window = 2;

/// What the trainer actor trains on, and what it returns.
struct train_job {
  index_params params;
  std::uint64_t version = 0;
  std::vector<float> sample;  // n × d prepared vectors (the reservoir, copied)
  int nice = 0;               // the training thread's nice value (retrain_policy::background_nice)
  std::vector<float> keep_centroids;  // the live coarse centroids when they are not refreshed, else empty
  // A rebalance (retrain_reason::rebalance): plan splits and merges of these codebooks' lists instead
  // of training; list_sizes: live entries per list of them, from the partitions.
  std::shared_ptr<const codebook_set> rebalance_from;
  std::vector<std::uint64_t> list_sizes;
  rebalance_options rebalance;
  std::shared_ptr<const codebook_trainer> trainer;  // null: codebook_set::train (ingest_state::trainer)
  std::uint64_t population = 0;                     // inserts the sample was drawn from (codebook_trainer)
};
struct train_result {
  std::shared_ptr<const codebook_set> codebooks;
  double baseline = 0;  // mean error of the new codebooks on their own training sample
  double ms = 0;
  std::optional<ivfstream::error> failure;
  std::optional<rebalance_report> rebalanced;  // a rebalance's plan; codebooks null when it changed nothing
};

}  // namespace
}  // namespace internal
}  // namespace ivfstream::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ivfstream::actors::internal::train_result)

namespace ivfstream::actors::internal {
namespace {

double ms_since(steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

// A one-shot detached actor (its own thread): trains, answers, quits. The job is a spawn argument.
caf::behavior trainer_actor(caf::event_based_actor* self, std::shared_ptr<train_job> job) {
  return {[self, job](train_atom) {
    // Training competes with scans for the cores: it gets what they leave (thread_priority.hpp).
    if (job->nice > 0) (void)lower_this_thread_priority(job->nice);
    train_result r;
    const auto t0 = steady::now();
    const std::size_t n = job->sample.size() / job->params.dimension;
    if (job->rebalance_from) {
      auto plan = plan_centroid_rebalance(*job->rebalance_from, job->list_sizes, job->sample.data(), n, job->rebalance);
      if (!plan) {
        r.failure = std::move(plan).error();
      } else {
        r.rebalanced = plan->report;
        r.codebooks = std::move(plan->codebooks);
        if (r.codebooks) r.baseline = trainer_state::mean_error(*r.codebooks, job->sample.data(), n);
      }
      r.ms = ms_since(t0);
      self->quit();
      return r;
    }
    // Kept centroids retrain only the PQ (through the cluster trainer too: on every node's sample).
    const bool keep = !job->keep_centroids.empty();
    auto cb = keep && job->trainer ? job->trainer->train_with_centroids(job->params, job->sample.data(), n,
                                                                        job->population, std::move(job->keep_centroids),
                                                                        job->version)
              : keep ? codebook_set::train_with_centroids(job->params, job->sample.data(), n,
                                                          std::move(job->keep_centroids), job->version)
              : job->trainer ? job->trainer->train(job->params, job->sample.data(), n, job->population, job->version)
                             : codebook_set::train(job->params, job->sample.data(), n, job->version);
    if (cb) {
      r.codebooks = std::move(*cb);
      r.baseline = trainer_state::mean_error(*r.codebooks, job->sample.data(), n);
    } else {
      r.failure = std::move(cb).error();
    }
    r.ms = ms_since(t0);
    self->quit();
    return r;
  }};
}

void check(ingest_pointer self, retrain_reason forced);

void start_training(ingest_pointer self, retrain_reason why, std::vector<std::uint64_t> list_sizes = {});

// Rewrites <data_dir>/retrain-status (retrain_status_file.hpp) for `ivfstream inspect`. Best effort:
// a failed write only leaves the previous status there.
void publish(ingest_pointer self) {
  const auto& st = self->state;
  if (st.setup.data_dir.empty() || !st.retrain->policy.enabled) return;
  const auto& cb = st.setup.state->codebooks();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  (void)write_retrain_status(st.setup.data_dir,
                             format_retrain_status(retrain_report(st), cb ? cb->version() : 0,
                                                   st.retrain->policy.drift_threshold, ::getpid(), now_ms));
}

void deliver_all(retrain_driver& dr, const ack_reply& r) {
  auto waiters = std::move(dr.waiters);
  dr.waiters.clear();
  for (auto& w : waiters) w(r);
}

void abandon(ingest_pointer self, ivfstream::error e) {
  auto& dr = *self->state.retrain;
  auto& core = *self->state.setup.state;
  if (dr.now == retrain_driver::phase::building) {
    core.abort_shadow();
    for (const auto& p : self->state.setup.partitions) self->send(p, abort_atom::value);
  }
  dr.now = retrain_driver::phase::idle;
  dr.next.reset();
  dr.rebalancing = false;
  dr.forced_rebalance = false;
  dr.status.building_version = 0;
  dr.status.shadow_bytes = 0;
  ++dr.status.failed_swaps;
  dr.status.last_error = e.to_string();
  if (dr.trainer) dr.trainer->training_abandoned(steady::now());
  ack_reply r;
  r.failure = std::move(e);
  deliver_all(dr, r);
  publish(self);
}

void finish_swap(ingest_pointer self) {
  auto& dr = *self->state.retrain;
  const std::uint64_t version = dr.next->version();
  // Every scan planned with the old version was enqueued before the query actors acknowledged.
  // Urgent, as scans are (query_actor.cpp): it stays behind every urgent scan planned with v.
  for (const auto& p : self->state.setup.partitions)
    self->template send<caf::message_priority::high>(p, retire_atom::value, version - 1);
  dr.status.last_swap_ms = ms_since(dr.swap_started);
  ++dr.status.swaps;
  if (dr.rebalancing) {
    ++dr.status.rebalances;
    ++dr.rebalances_without_inserts;
  }
  dr.forced_rebalance = false;
  dr.rebalancing = false;
  dr.status.building_version = 0;
  dr.status.shadow_bytes = 0;
  dr.status.last_error.clear();
  if (dr.trainer) dr.trainer->training_finished(steady::now(), dr.next_baseline, dr.next->num_partitions());
  dr.now = retrain_driver::phase::idle;
  dr.next.reset();
  ack_reply ok;
  ok.count = version;
  deliver_all(dr, ok);
  publish(self);
  check(self, retrain_reason::none);  // inserts during the swap may have made the next one due
}

// Frees what a commit replaced (the old routes: ~10^5 map nodes, ~3.4 ms of thread CPU measured at
// 100k vectors) on a detached thread of its own at the background priority, not on a scheduler thread
// that scans and replies are queued behind.
// The box travels as a spawn argument: CAF 0.17.6 dereferences a null argument tuple when a function
// actor is spawned with none (UBSan: reference binding to null pointer in init_fun_factory).
template <class T>
void free_off_the_scheduler(ingest_pointer self, T garbage, int nice) {
  self->spawn<caf::detached>(
      [nice](caf::event_based_actor*, std::shared_ptr<T> box) {
        if (nice > 0) (void)lower_this_thread_priority(nice);
        *box = T{};
      },
      std::make_shared<T>(std::move(garbage)));
}

void commit(ingest_pointer self) {
  auto& dr = *self->state.retrain;
  auto& st = self->state;
  if (auto c = st.setup.state->commit_shadow(); !c) return abandon(self, std::move(c).error());
  free_off_the_scheduler(self, st.setup.state->take_retired_routes(), dr.policy.background_nice);
  dr.now = retrain_driver::phase::committing;
  dr.outstanding = st.setup.partitions.size() + st.setup.queries.size();
  auto one_done = [self](std::optional<ivfstream::error> f) {
    auto& d = *self->state.retrain;
    if (f && !d.failure) d.failure = std::move(f);
    if (--d.outstanding == 0) {
      if (d.failure) d.status.last_error = d.failure->to_string();  // committed anyway: report it
      finish_swap(self);
    }
  };
  const std::uint64_t version = dr.next->version();
  // Partitions first: a query planned with the new version reaches a partition after its commit.
  for (const auto& p : st.setup.partitions)
    self->request(p, k_swap_timeout, commit_atom::value, version)
        .then([one_done](ack_reply& a) { one_done(std::move(a.failure)); },
              [one_done](caf::error& e) { one_done(fail(errc::unavailable, "commit: " + caf::to_string(e))); });
  for (const auto& q : st.setup.queries)
    self->request(q, k_swap_timeout, swap_atom::value, dr.next)
        .then([one_done](ack_reply& a) { one_done(std::move(a.failure)); },
              [one_done](caf::error& e) { one_done(fail(errc::unavailable, "swap: " + caf::to_string(e))); });
  mark_all_partitions_changed(self->state);
  publish(self);
}

// One step of the build phase finished (a partition's shadow_start or a migration).
// `cb`: the version the step belongs to. A late answer of an abandoned swap (a partition that was
// still re-encoding when the swap was given up) must not count for the next one, even of the same
// version number: swaps are told apart by their codebooks object.
using swap_id = std::shared_ptr<const codebook_set>;

void build_step_done(ingest_pointer self, const swap_id& cb, std::optional<ivfstream::error> f) {
  auto& dr = *self->state.retrain;
  if (dr.now != retrain_driver::phase::building || dr.next != cb) return;
  if (f && !dr.failure) dr.failure = std::move(f);
  if (--dr.outstanding != 0) return;
  if (dr.failure) {
    auto e = std::move(*dr.failure);
    dr.failure.reset();
    return abandon(self, std::move(e));
  }
  commit(self);
}

// The emigrants of one source partition for one destination, sent chunk by chunk (each chunk as it
// came from the source: one migrate message, moved, never copied or merged).
struct emigrant_stream {
  std::uint32_t dest = 0;
  std::deque<partition_update> chunks;  // not sent yet, in order
};

// Sends the stream's next chunk (if any) as one build step; its acknowledgement sends the one after.
void send_emigrants(ingest_pointer self, const swap_id& cb, const std::shared_ptr<emigrant_stream>& s) {
  auto& dr = *self->state.retrain;
  if (dr.now != retrain_driver::phase::building || dr.next != cb || dr.failure) return;
  if (s->chunks.empty()) return;
  auto chunk = std::move(s->chunks.front());
  s->chunks.pop_front();
  ++dr.outstanding;
  // The next chunk is sent before this one counts as done, so the count cannot reach zero early.
  self->request(self->state.setup.partitions[s->dest], k_swap_timeout, migrate_atom::value, std::move(chunk))
      .then(
          [self, cb, s](ack_reply& a) {
            if (!a.failure) send_emigrants(self, cb, s);
            build_step_done(self, cb, std::move(a.failure));
          },
          [self, cb](caf::error& err) {
            build_step_done(self, cb, fail(errc::unavailable, "migrate: " + caf::to_string(err)));
          });
}

void on_shadow_started(ingest_pointer self, const swap_id& cb, shadow_start& s) {
  auto& dr = *self->state.retrain;
  auto& core = *self->state.setup.state;
  if (dr.now != retrain_driver::phase::building || dr.next != cb || s.version != cb->version()) return;
  if (s.failure) return build_step_done(self, cb, std::move(s.failure));
  dr.status.shadow_bytes += s.shadow_bytes;
  dr.status.peak_shadow_bytes = std::max(dr.status.peak_shadow_bytes, dr.status.shadow_bytes);
  dr.status.swap_carried += s.carried;
  dr.status.swap_reencoded += s.reencoded;
  core.note_shadow_members(s.partition, s.kept);
  const std::size_t np = self->state.setup.partitions.size();
  std::vector<std::shared_ptr<emigrant_stream>> streams(np);
  for (auto& chunk : s.emigrants) {
    if (chunk.ids.empty()) continue;
    const std::uint32_t dest = chunk.lists.front() % static_cast<std::uint32_t>(np);  // one owner per chunk
    core.note_shadow_members(dest, chunk.ids);
    if (!streams[dest]) {
      streams[dest] = std::make_shared<emigrant_stream>();
      streams[dest]->dest = dest;
    }
    streams[dest]->chunks.push_back(std::move(chunk));
  }
  for (const auto& stream : streams)
    if (stream)
      for (std::size_t w = 0; w < k_migrate_window; ++w) send_emigrants(self, cb, stream);
  build_step_done(self, cb, std::nullopt);
}

void on_trained(ingest_pointer self, train_result& r) {
  auto& dr = *self->state.retrain;
  auto& st = self->state;
  if (r.failure) return abandon(self, std::move(*r.failure));
  if (r.rebalanced) {
    const rebalance_report& p = *r.rebalanced;
    dr.status.last_rebalance = std::to_string(p.splits) + " splits, " + std::to_string(p.merges) +
                               " merges (target " + std::to_string(p.target) + " per list, planned in " +
                               std::to_string(static_cast<long long>(r.ms)) + " ms)";
    if (!r.codebooks) {  // nothing could be split or merged: no swap; no new plan until the stream moved on
      dr.status.last_rebalance += ": nothing to swap";
      dr.now = retrain_driver::phase::idle;
      dr.rebalancing = false;
      dr.status.building_version = 0;
      if (dr.trainer) {
        dr.trainer->training_abandoned(steady::now());
        dr.quiet_until_seen = dr.trainer->seen() + std::max<std::uint64_t>(1000, dr.trainer->sample_size());
      }
      publish(self);
      if (dr.forced_rebalance) {  // engine::rebalance(): the live version stays
        dr.forced_rebalance = false;
        ack_reply same;
        same.count = self->state.setup.state->codebooks()->version();
        deliver_all(dr, same);
      } else if (!dr.waiters.empty()) {
        check(self, retrain_reason::forced);  // a forced retrain waited on the plan
      }
      return;
    }
  }
  dr.status.last_train_ms = r.ms;
  dr.status.last_train_device = r.codebooks->training_device();
  // Dual routing and the partitions' shadows start in this one handler: every later batch reaches a
  // partition after its shadow_atom.
  if (auto b = st.setup.state->begin_shadow(r.codebooks); !b) return abandon(self, std::move(b).error());
  dr.now = retrain_driver::phase::building;
  dr.next = r.codebooks;
  dr.next_baseline = r.baseline;
  dr.failure.reset();
  dr.status.shadow_bytes = 0;
  dr.status.swap_carried = dr.status.swap_reencoded = 0;
  dr.swap_started = steady::now();
  dr.outstanding = st.setup.partitions.size();
  for (std::uint32_t p = 0; p < st.setup.partitions.size(); ++p)
    self->request(st.setup.partitions[p], k_swap_timeout, shadow_atom::value, dr.next,
                  std::int32_t{dr.policy.background_nice})
        .then([self, cb = dr.next](shadow_start& s) { on_shadow_started(self, cb, s); },
              [self, cb = dr.next](caf::error& e) {
                build_step_done(self, cb, fail(errc::unavailable, "shadow: " + caf::to_string(e)));
              });
  publish(self);
}

// A rebalance (why == rebalance) plans new coarse centroids from list_sizes (entries per live list)
// instead of training; the rest of the swap is the same.
void start_training(ingest_pointer self, retrain_reason why, std::vector<std::uint64_t> list_sizes) {
  auto& dr = *self->state.retrain;
  const auto& live = self->state.setup.state->codebooks();
  auto job = std::make_shared<train_job>();
  job->params = live->params();
  job->version = live->version() + 1;
  job->params.seed = live->params().seed + job->version;  // another k-means start for each version
  job->params.train_threads = 1;  // one background thread (a restored set's params say 0 = all cores)
  // The training device is the one create_index asked for (ingest_state::params): codebooks restored
  // from a checkpoint or published by another node say cpu (accelerator is not saved).
  if (const auto& configured = self->state.setup.state->params()) job->params.accelerator = configured->accelerator;
  job->sample = dr.trainer->sample();
  job->population = std::max<std::uint64_t>(dr.trainer->seen(), dr.trainer->sample_size());
  job->nice = dr.policy.background_nice;
  job->trainer = self->state.setup.state->trainer();
  // Refreshed centroids move vectors between lists (and partitions) within the swap; kept ones
  // retrain only the PQ (every vector stays in its list).
  if (why == retrain_reason::rebalance) {
    job->rebalance_from = live;
    job->list_sizes = std::move(list_sizes);
    job->rebalance.split_factor = dr.policy.rebalance_split;
    job->rebalance.merge_factor = dr.policy.rebalance_merge;
    job->rebalance.seed = job->params.seed;
    dr.rebalancing = true;
  } else if (!dr.policy.refresh_centroids) {
    job->keep_centroids = live->centroids();
  }
  dr.trainer->training_started(steady::now());
  dr.now = retrain_driver::phase::training;
  dr.status.building_version = job->version;
  dr.status.last_reason = to_string(why);
  auto trainer = self->spawn<caf::detached>(trainer_actor, job);
  self->request(trainer, caf::infinite, train_atom::value)
      .then([self](train_result& r) { on_trained(self, r); },
            [self](caf::error& e) { abandon(self, fail(errc::unavailable, "trainer: " + caf::to_string(e))); });
  publish(self);
}

void check(ingest_pointer self, retrain_reason forced) {
  auto& dr = *self->state.retrain;
  const auto& core = *self->state.setup.state;
  if (dr.now != retrain_driver::phase::idle || !dr.trainer || !core.codebooks()) return;
  const std::size_t min_sample = min_training_sample(core.codebooks()->params());
  retrain_reason why = forced;
  if (why == retrain_reason::none) why = dr.trainer->due(steady::now(), min_sample);
  if (why == retrain_reason::none) {
    if (dr.policy.rebalance) rebalance_check(self);  // reads the list sizes now and then (rebalance_check.cpp)
    return;
  }
  if (dr.trainer->sample_size() < min_sample) {
    abandon(self, fail(errc::not_trained, "retrain: the reservoir holds " + std::to_string(dr.trainer->sample_size()) +
                                              " vectors; training needs at least " + std::to_string(min_sample)));
    return;
  }
  start_training(self, why);
}

}  // namespace

bool start_rebalance(ingest_pointer self, std::vector<std::uint64_t> list_sizes) {
  auto& dr = *self->state.retrain;
  const auto& live = self->state.setup.state->codebooks();
  if (dr.now != retrain_driver::phase::idle || !dr.trainer || !live || list_sizes.size() != live->num_partitions())
    return false;  // a swap started meanwhile, or the sizes are of another version: the next check asks again
  start_training(self, retrain_reason::rebalance, std::move(list_sizes));
  return true;
}

void deliver_to_waiters(ingest_pointer self, const ack_reply& r) { deliver_all(*self->state.retrain, r); }

void adopt_codebooks(ingest_pointer self, std::shared_ptr<const codebook_set> next,
                     std::function<void(ack_reply)> done) {
  auto& dr = *self->state.retrain;
  const auto& live = self->state.setup.state->codebooks();
  ack_reply r;
  if (!next)
    r.failure = fail(errc::invalid_argument, "swap to published codebooks: null codebooks");
  else if (!live)
    r.failure = fail(errc::not_trained, "swap to published codebooks: the index is not trained (install them instead)");
  else if (auto layout = check_codebook_layout(next->params(), *self->state.setup.state->params(),
                                               "swap to published codebooks version " + std::to_string(next->version()));
           !layout)
    r.failure = std::move(layout).error();
  else if (next->version() <= live->version())
    r.failure = fail(errc::version_mismatch, "swap to published codebooks version " + std::to_string(next->version()) +
                                                 ": not newer than the live version " + std::to_string(live->version()));
  else if (dr.now != retrain_driver::phase::idle)
    r.failure = fail(errc::resource_exhausted, "swap to published codebooks version " +
                                                   std::to_string(next->version()) + ": version " +
                                                   std::to_string(dr.status.building_version) +
                                                   " is being trained or swapped in; retry when it ends");
  if (r.failure) return done(std::move(r));
  // Trained elsewhere: the swap starts where a local retrain's would after training. The drift
  // baseline stays (this node did not measure the new codebooks on a sample of its own).
  dr.waiters.push_back(std::move(done));
  dr.status.building_version = next->version();
  dr.status.last_reason = "published";
  if (dr.trainer) dr.trainer->training_started(steady::now());
  train_result t;
  t.codebooks = std::move(next);
  t.baseline = dr.trainer ? dr.trainer->baseline_error() : 0;
  on_trained(self, t);
}

void mark_all_partitions_changed(ingest_actor_state& st) {
  // Incremental checkpoints: every partition's lists changed (run_checkpoint also re-snapshots all
  // of them when the codebook version differs from its snapshots'; this keeps the two independent).
  st.dirty.assign(st.setup.partitions.size(), true);
}

void start_ticking(ingest_pointer self) {
  auto& dr = *self->state.retrain;
  if (dr.ticking || !dr.trainer) return;
  if (dr.policy.every_ms > 0 || dr.policy.rebalance || !self->state.setup.data_dir.empty()) {
    dr.ticking = true;
    self->delayed_send(self, k_tick, rtick_atom::value);
  }
}

void retrain_observe(ingest_pointer self, const float* x, std::size_t n) {
  auto& dr = *self->state.retrain;
  const auto& core = *self->state.setup.state;
  if (!dr.policy.enabled || !core.params() || n == 0) return;
  const index_params& p = *core.params();
  if (!dr.trainer) {
    dr.trainer = std::make_unique<trainer_state>(dr.policy, p.dimension, p.seed);
    dr.trainer_saw_codebooks = core.codebooks() != nullptr;
    // The tick checks the time schedule and republishes the status (drift moves with every insert).
    start_ticking(self);
  }
  if (!core.codebooks()) {
    // Buffered for the first training: into the reservoir too, so a retrain samples the whole
    // stream (without them it missed whatever arrived before the first training, a timing-dependent
    // share of the stream's beginning).
    std::vector<float> prepared(n * p.dimension);
    if (codebook_set::prepare_vectors(p, x, n, prepared.data())) dr.trainer->observe(prepared.data(), n, nullptr);
    return;
  }
  if (!dr.trainer_saw_codebooks) {
    dr.trainer_saw_codebooks = true;
    dr.trainer->index_trained(steady::now());
  }
  dr.trainer->observe(x, n, core.codebooks().get());
  dr.rebalances_without_inserts = 0;
  check(self, retrain_reason::none);
}

void retrain_tick(ingest_pointer self) {
  check(self, retrain_reason::none);
  publish(self);
  self->delayed_send(self, k_tick, rtick_atom::value);
}

void retrain_now(ingest_pointer self, std::function<void(ack_reply)> done) {
  auto& dr = *self->state.retrain;
  const auto& core = *self->state.setup.state;
  ack_reply r;
  if (!dr.policy.enabled)
    r.failure = fail(errc::invalid_argument, "retrain: retrain.enabled=false (no reservoir is kept)");
  else if (!core.codebooks() || !dr.trainer)
    r.failure = fail(errc::not_trained, "retrain: the index is not trained or nothing was inserted since");
  if (r.failure) return done(std::move(r));
  dr.waiters.push_back(std::move(done));
  check(self, retrain_reason::forced);  // joins the swap running, if any
}

retrain_status retrain_report(const ingest_actor_state& st) {
  const auto& dr = *st.retrain;
  retrain_status s = dr.status;
  s.enabled = dr.policy.enabled;
  switch (dr.now) {
    case retrain_driver::phase::idle: s.phase = "idle"; break;
    case retrain_driver::phase::training: s.phase = "training"; break;
    case retrain_driver::phase::building: s.phase = "building"; break;
    case retrain_driver::phase::committing: s.phase = "committing"; break;
  }
  if (dr.trainer) {
    s.drift = dr.trainer->drift();
    s.recent_error = dr.trainer->recent_error();
    s.baseline_error = dr.trainer->baseline_error();
    s.sample_size = dr.trainer->sample_size();
    s.inserts_since_training = dr.trainer->inserts_since_training();
  }
  return s;
}

}  // namespace ivfstream::actors::internal
