#include "actors/engine.hpp"

#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/checkpoint.hpp"
#include "actors/engine_impl.hpp"
#include "actors/internal/durable_file.hpp"
#include "config/service_config.hpp"

namespace ivfstream {
namespace {

// Extra time a synchronous caller waits beyond the deadline it gave the actors (the reply itself).
constexpr std::chrono::milliseconds k_reply_margin{2000};
// How long a synchronous write waits for the partitions to apply it.
constexpr std::chrono::seconds k_write_timeout{300};

error from_caf(const caf::error& e, const char* what) {
  return fail(e == caf::sec::request_timeout ? errc::timeout : errc::unavailable,
              std::string(what) + ": " + caf::to_string(e));
}

}  // namespace

result<search_result> to_search_result(actors::search_response&& r) {
  if (r.failure) return std::move(*r.failure);
  search_result out;
  out.hits = std::move(r.hits);
  out.partial = r.partial;
  out.missing_partitions = std::move(r.missing_partitions);
  out.codebook_version = r.codebook_version;
  out.missing_peers = std::move(r.missing_peers);
  return out;
}

engine_options engine_options::from(const service_config& cfg) {
  engine_options o;
  o.partition_actors = cfg.engine.partition_actors;
  o.data_dir = cfg.engine.data_dir;
  o.query_deadline = std::chrono::milliseconds(cfg.engine.query_deadline_ms);
  o.train_after = cfg.engine.train_after;
  o.default_search = cfg.search;
  o.caps.max_k = cfg.caps.max_k;
  o.caps.max_nprobes = cfg.caps.max_nprobes;
  o.caps.max_refine_factor = cfg.caps.max_refine_factor;
  o.caps.max_vectors_per_request = cfg.caps.max_vectors_per_request;
  o.caps.max_inflight_queries = cfg.caps.max_inflight_queries;
  o.checkpoint_interval_ms = cfg.engine.checkpoint_interval_ms;
  o.checkpoint_interval_records = cfg.engine.checkpoint_interval_records;
  o.retrain.enabled = cfg.retrain.enabled;
  o.retrain.reservoir_size = cfg.retrain.reservoir_size;
  o.retrain.every_inserts = cfg.retrain.every_inserts;
  o.retrain.every_ms = cfg.retrain.every_ms;
  o.retrain.drift_threshold = cfg.retrain.drift_threshold;
  o.retrain.error_window = cfg.retrain.error_window;
  o.retrain.error_sample_every = cfg.retrain.error_sample_every;
  o.retrain.refresh_centroids = cfg.retrain.refresh_centroids;
  o.retrain.background_nice = static_cast<int>(cfg.retrain.background_nice);  // validated: 0..19
  o.retrain.rebalance = cfg.retrain.rebalance;
  o.retrain.rebalance_split = cfg.retrain.rebalance_split;
  o.retrain.rebalance_merge = cfg.retrain.rebalance_merge;
  o.retrain.rebalance_check_ms = cfg.retrain.rebalance_check_ms;
  o.max_pending_vectors = cfg.engine.max_pending_vectors;
  o.network = cfg.peers.enabled;
  o.peer_tls.enabled = cfg.peers.enabled && cfg.peers.tls;
  o.peer_tls.certificate = cfg.peers.tls_certificate;
  o.peer_tls.key = cfg.peers.tls_key;
  o.peer_tls.key_passphrase = cfg.peers.tls_key_passphrase;
  o.peer_tls.cafile = cfg.peers.tls_cafile;
  o.peer_tls.capath = cfg.peers.tls_capath;
  return o;
}

status engine_options::validate() const {
  IVF_TRY(retrain.validate());
  if (partition_actors < 1 || partition_actors > 1024)
    return fail(errc::invalid_argument,
                "partition_actors=" + std::to_string(partition_actors) + ": must be in 1..1024");
  if (query_actors < 1 || query_actors > 1024)
    return fail(errc::invalid_argument, "query_actors=" + std::to_string(query_actors) + ": must be in 1..1024");
  if (query_deadline.count() < 1)
    return fail(errc::invalid_argument,
                "query_deadline=" + std::to_string(query_deadline.count()) + "ms: must be >= 1 ms");
  if (caps.max_inflight_queries < 1)
    return fail(errc::invalid_argument, "caps.max_inflight_queries=0: must be >= 1");
  IVF_TRY(actors::query_admission(caps).check(default_search));
  if (peer_tls.enabled && !network)
    return fail(errc::invalid_argument, "peer_tls.enabled=true with network=false: TLS applies to the peer links, "
                                        "which need network = true (peers.enabled)");
  IVF_TRY(peer_tls.validate());
  return default_search.validate();
}

namespace {

using search_done = std::function<void(result<search_result>)>;

// A one-shot actor: sends one search to a query actor and hands the reply (or the failure) to `done`.
// Its inputs are spawn arguments, not lambda captures: CAF 0.17.6 binds `*args_` on a null
// shared_ptr when a function-based actor is spawned with no arguments (init_fun_factory.hpp), which
// UBSan reports as a null reference; with arguments CAF allocates the tuple (scripts/sanitizers/README.md).
void search_relay(caf::event_based_actor* self, actors::query_actor target, std::chrono::microseconds timeout,
                  actors::search_request req, search_done done) {
  self->request(target, timeout, actors::search_atom::value, std::move(req))
      .then([done](actors::search_response& r) { done(to_search_result(std::move(r))); },
            [done](caf::error& e) { done(from_caf(e, "search")); });
}

}  // namespace

void engine::impl::search_async(actors::search_request req, search_done done) const {
  if (auto admitted = admission->acquire(req.params); !admitted) {
    done(std::move(admitted).error());
    return;
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(req.deadline - actors::clock::now()) +
                       k_reply_margin;
  // The slot is released before `done` runs, so a caller woken by it may search again at once.
  search_done release_then_done = [adm = admission.get(), done = std::move(done)](result<search_result> r) {
    adm->release();
    done(std::move(r));
  };
  system->spawn(search_relay, pick_query(), timeout, std::move(req), std::move(release_then_done));
}

engine::engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

engine::~engine() {
  if (!impl_ || !impl_->system) return;
  for (auto& q : impl_->queries) caf::anon_send_exit(q, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(impl_->ingest, caf::exit_reason::user_shutdown);
  for (auto& p : impl_->partitions) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  impl_->queries.clear();
  impl_->partitions.clear();
  impl_->ingest = nullptr;
  impl_->system.reset();  // waits for every actor to finish
}

result<std::unique_ptr<engine>> engine::open(const engine_options& options) {
  IVF_TRY(options.validate());
  auto im = std::make_unique<impl>();
  im->options = options;
  im->admission = std::make_unique<actors::query_admission>(options.caps);
  im->config = std::make_unique<caf::actor_system_config>();
  const std::size_t threads =
      options.scheduler_threads ? options.scheduler_threads : std::max(2u, std::thread::hardware_concurrency());
  im->config->set("scheduler.max-threads", threads);
  im->config->set("logger.verbosity", caf::atom("quiet"));
  if (options.network) {
    im->config->load<caf::io::middleman>();  // peer links (actors/peer_service.hpp)
    if (options.peer_tls.enabled) options.peer_tls.apply(*im->config);
  }
  const std::uint32_t P = options.partition_actors;

  // Restore the newest complete checkpoint, in plain code, before any actor runs.
  std::vector<std::shared_ptr<actors::partition_state>> parts;
  for (std::uint32_t p = 0; p < P; ++p) parts.push_back(std::make_shared<actors::partition_state>(p, P));
  auto ingest = std::make_shared<actors::ingest_state>(P);
  std::shared_ptr<const codebook_set> codebooks;
  std::uint64_t last_checkpoint = 0;
  std::vector<std::string> snapshot_files;
  std::map<actors::topic_partition_key, std::vector<std::uint64_t>> owned_ids;
  if (!options.data_dir.empty()) {
    IVF_TRY(actors::internal::make_directories(options.data_dir));
    if (auto m = actors::latest_checkpoint(options.data_dir)) {
      if (m->num_partition_actors != P)
        return fail(errc::invalid_argument, "partition_actors=" + std::to_string(P) + ": the checkpoint in '" +
                                                options.data_dir + "' was written with " +
                                                std::to_string(m->num_partition_actors));
      codebooks = m->codebooks;
      IVF_TRY(ingest->create_index(codebooks->params(), m->train_after ? m->train_after : options.train_after));
      ingest->adopt(codebooks);
      for (std::uint32_t p = 0; p < P; ++p) {
        IVF_TRY(parts[p]->install(codebooks));
        IVF_TRY(parts[p]->load(m->partition_files[p]));
        parts[p]->for_each([&](std::uint64_t id, std::uint32_t, const std::uint8_t*, const float*) {
          ingest->note_route(id, p);
        });
      }
      ingest->set_offsets(m->offsets);
      if (m->group_ingest) owned_ids = std::move(m->owned_ids);
      last_checkpoint = m->sequence;
      snapshot_files = m->partition_files;
      im->dimension = codebooks->params().dimension;
    }
  }

  im->system = std::make_unique<caf::actor_system>(*im->config);
  auto& sys = *im->system;
  for (std::uint32_t p = 0; p < P; ++p) im->partitions.push_back(sys.spawn(actors::partition_behavior, parts[p]));
  for (std::uint32_t q = 0; q < options.query_actors; ++q)
    im->queries.push_back(sys.spawn(actors::query_behavior, im->partitions, codebooks));
  actors::ingest_setup setup;
  setup.state = ingest;
  setup.partitions = im->partitions;
  setup.queries = im->queries;
  setup.data_dir = options.data_dir;
  setup.last_checkpoint = last_checkpoint;
  setup.snapshot_files = std::move(snapshot_files);
  setup.checkpoint_interval_ms = options.checkpoint_interval_ms;
  setup.checkpoint_interval_records = options.checkpoint_interval_records;
  setup.retrain = options.retrain;
  setup.max_pending_vectors = std::max<std::uint64_t>(1, options.max_pending_vectors);
  setup.restored_owned_ids = std::move(owned_ids);
  im->restored_ingest = ingest;
  im->ingest = sys.spawn<caf::detached>(actors::ingest_behavior, std::move(setup));
  return std::unique_ptr<engine>(new engine(std::move(im)));
}

status engine::create_index(const index_params& params) {
  std::optional<error> failure;
  caf::scoped_actor self{*impl_->system};
  self->request(impl_->ingest, k_write_timeout, actors::create_atom::value, params,
                std::uint64_t{impl_->options.train_after})
      .receive([&](actors::ack_reply& r) { failure = std::move(r.failure); },
               [&](caf::error& e) { failure = from_caf(e, "create_index"); });
  if (failure) return std::move(*failure);
  impl_->dimension = params.dimension;
  return {};
}

status engine::create_index(const index_params& params, const float* training, std::size_t n) {
  IVF_TRY(create_index(params));
  std::optional<error> failure;
  caf::scoped_actor self{*impl_->system};
  self->request(impl_->ingest, k_write_timeout, actors::train_atom::value,
                std::vector<float>(training, training + n * params.dimension))
      .receive([&](actors::ack_reply& r) { failure = std::move(r.failure); },
               [&](caf::error& e) { failure = from_caf(e, "train"); });
  if (failure) return std::move(*failure);
  return {};
}

namespace {

// Sends one command to the ingest actor and waits for its ack.
template <class... Ts>
status ingest_call(const engine::impl& im, const char* what, std::uint64_t* count, Ts&&... xs) {
  std::optional<error> failure;
  caf::scoped_actor self{*im.system};
  self->request(im.ingest, k_write_timeout, std::forward<Ts>(xs)...)
      .receive(
          [&](actors::ack_reply& r) {
            failure = std::move(r.failure);
            if (count) *count = r.count;
          },
          [&](caf::error& e) { failure = from_caf(e, what); });
  if (failure) return std::move(*failure);
  return {};
}

}  // namespace

status engine::upsert(const std::uint64_t* ids, const float* x, std::size_t n) {
  const std::size_t d = impl_->dimension.load();
  if (d == 0) return fail(errc::not_trained, "upsert: no index; call create_index first");
  return ingest_call(*impl_, "upsert", nullptr, actors::upsert_atom::value, std::vector<std::uint64_t>(ids, ids + n),
                     std::vector<float>(x, x + n * d));
}

status engine::remove(const std::uint64_t* ids, std::size_t n) {
  return ingest_call(*impl_, "remove", nullptr, actors::remove_atom::value, std::vector<std::uint64_t>(ids, ids + n));
}

result<std::uint64_t> engine::retrain() {
  std::uint64_t version = 0;
  IVF_TRY(ingest_call(*impl_, "retrain", &version, actors::retrain_atom::value));
  return version;
}

result<std::uint64_t> engine::rebalance() {
  std::uint64_t version = 0;
  IVF_TRY(ingest_call(*impl_, "rebalance", &version, actors::rebalance_atom::value));
  return version;
}

status engine::set_training(std::uint64_t train_after, const actors::retrain_policy& policy) {
  return ingest_call(*impl_, "set_training", nullptr, actors::policy_atom::value, train_after, policy);
}

status engine::install_codebooks(std::shared_ptr<const codebook_set> codebooks) {
  return ingest_call(*impl_, "install_codebooks", nullptr, actors::codebooks_atom::value, std::move(codebooks));
}

result<std::shared_ptr<const codebook_set>> engine::codebooks() const {
  std::optional<result<std::shared_ptr<const codebook_set>>> out;
  caf::scoped_actor self{*impl_->system};
  self->request(impl_->queries.front(), k_write_timeout, actors::codebooks_atom::value)
      .receive([&](std::shared_ptr<const codebook_set>& cb) { out.emplace(std::move(cb)); },
               [&](caf::error& e) { out.emplace(from_caf(e, "codebooks")); });
  return std::move(*out);
}

result<std::uint64_t> engine::checkpoint() {
  std::uint64_t seq = 0;
  IVF_TRY(ingest_call(*impl_, "checkpoint", &seq, actors::checkpoint_atom::value));
  return seq;
}

search_builder engine::search(const float* q, std::size_t dimension) const {
  return search(std::vector<float>(q, q + dimension));
}

search_builder engine::search(std::vector<float> q) const {
  return search_builder(*this, std::move(q), impl_->options.default_search, impl_->options.query_deadline);
}

const engine_options& engine::options() const noexcept { return impl_->options; }

caf::actor_system& engine::system() const { return *impl_->system; }

result<engine_stats> engine::stats() const {
  engine_stats out;
  std::optional<error> failure;
  caf::scoped_actor self{*impl_->system};
  self->request(impl_->ingest, k_write_timeout, actors::stats_atom::value)
      .receive(
          [&](actors::ingest_stats& s) {
            out.configured = s.configured;
            out.codebook_version = s.codebook_version;
            out.buffered = s.counters.buffered;
            out.upserts = s.counters.upserts;
            out.deletes = s.counters.deletes;
            out.rejected = s.counters.rejected;
            out.last_checkpoint = s.last_checkpoint;
            for (const auto& [tp, off] : s.offsets) out.offsets.emplace_back(tp.first, tp.second, off);
            out.applied_vectors = s.applied_vectors;
            out.pending_vectors = s.pending_vectors;
            out.peak_pending_vectors = s.peak_pending_vectors;
            out.consumer_pauses = s.consumer_pauses;
            out.kafka_records = s.feed.records;
            out.dead_letters = s.feed.dead_letters;
            out.lost_records = s.feed.lost_records;
            out.freshness_samples = s.freshness.samples;
            out.freshness_p50_us = s.freshness.p50_us;
            out.freshness_p99_us = s.freshness.p99_us;
            out.freshness_max_us = s.freshness.max_us;
            if (s.last_error) out.last_error = s.last_error->to_string();
            out.retrain_phase = s.retrain.phase;
            out.building_version = s.retrain.building_version;
            out.drift = s.retrain.drift;
            out.reservoir_vectors = s.retrain.sample_size;
            out.inserts_since_training = s.retrain.inserts_since_training;
            out.swaps = s.retrain.swaps;
            out.failed_swaps = s.retrain.failed_swaps;
            out.rebalances = s.retrain.rebalances;
            out.last_rebalance = s.retrain.last_rebalance;
            out.last_train_ms = s.retrain.last_train_ms;
            out.last_train_device = s.retrain.last_train_device;
            out.last_swap_ms = s.retrain.last_swap_ms;
            out.shadow_bytes = s.retrain.shadow_bytes;
            out.peak_shadow_bytes = s.retrain.peak_shadow_bytes;
            out.swap_carried = s.retrain.swap_carried;
            out.swap_reencoded = s.retrain.swap_reencoded;
          },
          [&](caf::error& e) { failure = from_caf(e, "stats"); });
  if (failure) return std::move(*failure);
  for (const auto& p : impl_->partitions) {
    self->request(p, k_write_timeout, actors::stats_atom::value)
        .receive(
            [&](actors::partition_stats& s) {
              out.vectors += s.live_vectors;
              out.partition_sizes.push_back(s.live_vectors);
              out.list_sizes.insert(out.list_sizes.end(), s.list_sizes.begin(), s.list_sizes.end());
            },
            [&](caf::error& e) { failure = from_caf(e, "stats"); });
    if (failure) return std::move(*failure);
  }
  std::sort(out.list_sizes.begin(), out.list_sizes.end());
  return out;
}

// ---- search_builder ----------------------------------------------------------------------------

namespace {

actors::search_request make_request(const std::vector<float>& q, const search_params& p,
                                    std::chrono::milliseconds deadline) {
  actors::search_request r;
  r.query = q;
  r.params = p;
  r.deadline = actors::clock::now() + deadline;
  return r;
}

}  // namespace

result<search_result> search_builder::to_list() const {
  const auto& im = *engine_->impl_;
  IVF_TRY(im.admission->acquire(params_));
  auto req = make_request(query_, params_, deadline_);
  std::optional<result<search_result>> out;
  {
    caf::scoped_actor self{*im.system};
    self->request(im.pick_query(), deadline_ + k_reply_margin, actors::search_atom::value, std::move(req))
        .receive([&](actors::search_response& r) { out.emplace(to_search_result(std::move(r))); },
                 [&](caf::error& e) { out.emplace(from_caf(e, "search")); });
  }
  im.admission->release();
  return std::move(*out);
}

std::future<result<search_result>> search_builder::to_future() const {
  auto promise = std::make_shared<std::promise<result<search_result>>>();
  auto fut = promise->get_future();
  engine_->impl_->search_async(make_request(query_, params_, deadline_),
                               [promise](result<search_result> r) { promise->set_value(std::move(r)); });
  return fut;
}

void search_builder::then(std::function<void(result<search_result>)> callback) const {
  engine_->impl_->search_async(make_request(query_, params_, deadline_), std::move(callback));
}

}  // namespace ivfstream
