#include "actors/peer_service.hpp"

#include <optional>
#include <thread>
#include <tuple>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/engine_impl.hpp"
#include "config/service_config.hpp"

namespace ivfstream {
namespace {

// Extra time a synchronous caller waits beyond the deadline it gave the coordinator.
constexpr std::chrono::milliseconds k_reply_margin{2000};
// Bytes of one peer message: far above any request within [caps] (1024 queries × 4096 floats = 16 MiB)
// and any reply (1024 queries × k' candidates × 16 bytes); CAF has read the bytes already anyway.
constexpr std::uint64_t k_max_peer_message_bytes = std::uint64_t{256} << 20;

// trains_now: how long a peer never connected since this node started counts as up (starting too).
constexpr std::chrono::milliseconds k_startup_grace{10000};

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }
bool is_any(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

// True when `a` names this node: its own port on its bind address (or loopback when bound there or
// to every interface), so that every node may be given the same peers.nodes list.
bool is_self(const actors::peer_address& a, const peer_options& o) {
  if (!o.publish || o.port == 0 || a.port != o.port) return false;
  return a.host == o.bind || (is_loopback(a.host) && (is_loopback(o.bind) || is_any(o.bind)));
}

error from_caf(const caf::error& e, const char* what) {
  return fail(e == caf::sec::request_timeout ? errc::timeout : errc::unavailable,
              std::string(what) + ": " + caf::to_string(e));
}

}  // namespace

result<actors::peer_address> parse_peer_address(const std::string& text) {
  auto hp = parse_host_port(text);
  if (!hp) return std::move(hp).error();
  return actors::peer_address{std::move(hp->first), hp->second};
}

peer_options peer_options::from(const service_config& cfg) {
  peer_options o;
  o.bind = cfg.peers.bind;
  o.port = static_cast<std::uint16_t>(cfg.peers.port);
  o.nodes = cfg.peers.nodes;
  o.distributed_training = cfg.peers.distributed_training;
  return o;
}

status peer_options::validate() const {
  if (bind.empty()) return fail(errc::invalid_argument, "peers.bind is empty: must be an address, e.g. 127.0.0.1");
  for (const auto& n : nodes) {
    if (auto a = parse_peer_address(n); !a) return fail(a.error().code(), "peers." + a.error().message());
  }
  if (reconnect_interval.count() < 1)
    return fail(errc::invalid_argument, "reconnect_interval=" + std::to_string(reconnect_interval.count()) +
                                            "ms: must be >= 1 ms");
  return {};
}

result<std::unique_ptr<peer_service>> peer_service::start(engine& e, const peer_options& options) {
  IVF_TRY(options.validate());
  if (!e.options().network)
    return fail(errc::invalid_argument,
                "peer_service: the engine was opened with network=false; open it with engine_options::network = true "
                "(peers.enabled = true) so that CAF's middleman is loaded");
  auto& im = e.internals();
  auto& sys = *im.system;
  const bool tls = e.options().peer_tls.enabled;
  std::vector<actors::peer_address> peers;
  std::optional<actors::peer_address> self_entry;
  for (const auto& n : options.nodes) {
    auto a = parse_peer_address(n);
    if (is_self(*a, options))
      self_entry = std::move(*a);
    else
      peers.push_back(std::move(*a));
  }
  if (tls && !self_entry && !peers.empty())
    return fail(errc::invalid_argument,
                "peers.tls: this node (" + options.bind + ":" + std::to_string(options.port) +
                    ") is not in peers.nodes; with TLS every node must be given the same list, its own entry "
                    "included, so that of two nodes exactly one dials the other");
  actors::peer_limits limits;
  limits.caps = e.options().caps;
  limits.max_request_bytes = k_max_peer_message_bytes;
  limits.max_reply_bytes = k_max_peer_message_bytes;

  std::unique_ptr<peer_service> s(new peer_service());
  s->engine_ = &e;
  // How the other nodes name this one: its own entry of peers.nodes when given, else bind.
  s->self_host_ = self_entry ? self_entry->host : options.bind;
  actors::shard_search_setup shard;
  shard.partitions = im.partitions;
  shard.codebook_source = im.queries.front();
  shard.limits = limits;
  shard.admission = im.admission.get();
  shard.coverage = im.coverage;
  shard.samples = caf::actor_cast<actors::training_sample_source>(im.ingest);
  s->shard_ = sys.spawn(actors::shard_search, std::move(shard));
  actors::cluster_search_setup cs;
  cs.local = s->shard_;
  cs.codebook_source = im.queries.front();
  cs.peers = std::move(peers);
  cs.limits = limits;
  cs.reconnect_interval = options.reconnect_interval;
  cs.tls = tls;
  if (self_entry) cs.self = *self_entry;
  s->coordinator_ = sys.spawn(actors::cluster_search, std::move(cs));
  if (options.distributed_training) {
    s->trainer_ = std::make_shared<actors::cluster_trainer>(sys, s->coordinator_, options.training);
    caf::scoped_actor self{sys};
    std::optional<error> failed;
    self->request(im.ingest, std::chrono::seconds(10), actors::trainer_atom::value,
                  std::shared_ptr<const codebook_trainer>(s->trainer_))
        .receive([&](actors::ack_reply&) {}, [&](caf::error& e) { failed = from_caf(e, "distributed training"); });
    if (failed) {
      caf::anon_send_exit(s->coordinator_, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(s->shard_, caf::exit_reason::user_shutdown);
      return std::move(*failed);
    }
  }
  // Before publishing: a hello that arrives once the port is open must find its sink.
  caf::anon_send(s->shard_, actors::peer_link_atom::value, caf::actor_cast<actors::peer_hello_sink>(s->coordinator_));
  if (options.publish) {
    // reuse = true: a restarted node can bind its port again while old connections linger in TIME_WAIT.
    const actors::peer_search_actor handle{s->shard_};
    auto port = tls ? caf::openssl::publish(handle, options.port, options.bind.c_str(), true)
                    : sys.middleman().publish(handle, options.port, options.bind.c_str(), true);
    if (!port) {
      caf::anon_send_exit(s->coordinator_, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(s->shard_, caf::exit_reason::user_shutdown);
      return fail(errc::unavailable, "peers: cannot listen on " + options.bind + ":" + std::to_string(options.port) +
                                         ": " + sys.render(port.error()));
    }
    s->port_ = *port;
  }
  return s;
}

peer_service::~peer_service() {
  if (!engine_) return;
  auto& sys = engine_->system();
  if (port_ != 0) {
    if (engine_->options().peer_tls.enabled) {
      // caf::openssl::unpublish does not compile against 0.17.6's atoms; this is the message it would send.
      caf::anon_send(sys.openssl_manager().actor_handle(), caf::unpublish_atom::value,
                     caf::actor_cast<caf::actor_addr>(shard_), port_);
    } else {
      (void)sys.middleman().unpublish(actors::peer_search_actor{shard_}, port_);
    }
  }
  if (trainer_)  // the engine trains alone again (a training running now finishes with the peers it has)
    caf::anon_send(engine_->internals().ingest, actors::trainer_atom::value, std::shared_ptr<const codebook_trainer>());
  caf::anon_send_exit(coordinator_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(shard_, caf::exit_reason::user_shutdown);
}

result<bool> peer_service::trains_now(std::chrono::milliseconds grace) const {
  if (port_ == 0) return true;
  std::optional<result<actors::peer_links>> links;
  caf::scoped_actor self{engine_->system()};
  self->request(coordinator_, std::chrono::seconds(10), actors::links_atom::value)
      .receive([&](actors::peer_links& l) { links.emplace(std::move(l)); },
               [&](caf::error& e) { links.emplace(from_caf(e, "peer links")); });
  if (!*links) return std::move(*links).error();
  const auto& l = **links;
  const auto self_key = std::tie(self_host_, port_);
  auto before_me = [&](const actors::peer_address& a) { return std::tie(a.host, a.port) < self_key; };
  for (const auto& a : l.addresses)
    if (before_me(a)) return false;
  // A peer not seen since this node started may simply be starting too: it gets longer.
  const auto startup_grace = std::max(grace, k_startup_grace);
  for (std::size_t i = 0; i < l.down_addresses.size(); ++i)
    if (l.down_for[i] < (l.never_connected[i] ? startup_grace : grace) && before_me(l.down_addresses[i])) return false;
  return true;
}

actors::distributed_training_report peer_service::training_report() const {
  return trainer_ ? trainer_->report() : actors::distributed_training_report{};
}

result<std::vector<search_result>> peer_service::search_batch(const std::vector<float>& queries, std::size_t dimension,
                                                              const search_params& params,
                                                              std::chrono::milliseconds deadline) const {
  auto& im = engine_->internals();
  const std::uint64_t nq = dimension ? queries.size() / dimension : 0;
  IVF_TRY(im.admission->acquire(params, nq));
  actors::batch_search_request req;
  req.queries = queries;
  req.dimension = dimension;
  req.params = params;
  req.deadline = actors::clock::now() + deadline;
  std::optional<result<std::vector<search_result>>> out;
  {
    caf::scoped_actor self{*im.system};
    self->request(coordinator_, deadline + k_reply_margin, actors::search_atom::value, std::move(req))
        .receive(
            [&](actors::batch_search_response& r) {
              if (r.failure) {
                out.emplace(std::move(*r.failure));
                return;
              }
              std::vector<search_result> v;
              v.reserve(r.results.size());
              for (auto& q : r.results) {
                auto one = to_search_result(std::move(q));
                if (!one) {
                  out.emplace(std::move(one).error());
                  return;
                }
                v.push_back(std::move(*one));
              }
              out.emplace(std::move(v));
            },
            [&](caf::error& e) { out.emplace(from_caf(e, "cluster search")); });
  }
  im.admission->release(nq);
  return std::move(*out);
}

result<search_result> peer_service::search(const std::vector<float>& q, const search_params& params,
                                           std::chrono::milliseconds deadline) const {
  auto& im = engine_->internals();
  IVF_TRY(im.admission->acquire(params));
  actors::search_request req;
  req.query = q;
  req.params = params;
  req.deadline = actors::clock::now() + deadline;
  std::optional<result<search_result>> out;
  {
    caf::scoped_actor self{*im.system};
    self->request(coordinator_, deadline + k_reply_margin, actors::search_atom::value, std::move(req))
        .receive([&](actors::search_response& r) { out.emplace(to_search_result(std::move(r))); },
                 [&](caf::error& e) { out.emplace(from_caf(e, "cluster search")); });
  }
  im.admission->release();
  return std::move(*out);
}

result<actors::cluster_stats> peer_service::stats() const {
  std::optional<result<actors::cluster_stats>> out;
  caf::scoped_actor self{engine_->system()};
  self->request(coordinator_, std::chrono::seconds(10), actors::stats_atom::value)
      .receive([&](actors::cluster_stats& s) { out.emplace(std::move(s)); },
               [&](caf::error& e) { out.emplace(from_caf(e, "cluster stats")); });
  return std::move(*out);
}

bool peer_service::wait_connected(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto s = stats()) {
      std::size_t connected = 0;
      for (const auto& p : s->peers) connected += p.connected;
      if (connected >= n) return true;
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ivfstream
