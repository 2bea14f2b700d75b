#include "actors/cluster_search.hpp"

#include <algorithm>
#include <functional>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/query_state.hpp"

namespace ivfstream::actors {
namespace {

using self_pointer = cluster_search_actor::stateful_pointer<cluster_search_state>;
using batch_done = std::function<void(batch_search_response)>;

// Shard 0 is this node; shard s ≥ 1 is peer s − 1 (ids in each query_gather).
constexpr std::uint32_t k_local_shard = 0;

std::chrono::microseconds time_left(clock::time_point deadline) {
  const auto now = clock::now();
  if (deadline <= now) return std::chrono::microseconds(1);
  return std::max(std::chrono::microseconds(1),
                  std::chrono::duration_cast<std::chrono::microseconds>(deadline - now));
}

// One search batch across the shards.
struct cluster_gather {
  search_params params;
  std::uint64_t codebook_version = 0;
  std::vector<query_gather> queries;                       // one per query, over shards 0..S-1
  std::vector<std::vector<std::uint32_t>> local_missing;   // per query: this node's missing partitions
  std::vector<std::vector<bool>> peer_missing;             // per query, per peer: answered, some partitions did not
  std::vector<bool> peer_absent;                           // per peer: left out of the whole batch
  std::vector<held_partitions> held;                       // per shard that answered: its share of the topic
  std::vector<std::string> peer_names;
  std::size_t outstanding = 0;                             // shards not yet answered
  std::optional<error> failure;                            // this node's shard refused the batch
  batch_done done;
  self_pointer self;

  cluster_gather(self_pointer s, search_params p, std::size_t nq, std::size_t num_peers)
      : params(p),
        local_missing(nq),
        peer_missing(nq, std::vector<bool>(num_peers, false)),
        peer_absent(num_peers, false),
        self(s) {
    std::vector<std::uint32_t> asked(num_peers + 1);
    for (std::uint32_t i = 0; i < asked.size(); ++i) asked[i] = i;
    queries.reserve(nq);
    for (std::size_t i = 0; i < nq; ++i) queries.emplace_back(params, asked);
    outstanding = num_peers + 1;
  }

  // Shard s answered with one candidate list per query, holding `share` of the vectors topic.
  void add(std::uint32_t shard, std::vector<peer_result>& results, held_partitions share) {
    held.push_back(std::move(share));
    for (std::size_t i = 0; i < queries.size(); ++i) {
      scan_reply r;
      r.partition = shard;
      r.hits = std::move(results[i].candidates);
      queries[i].add(std::move(r));
      if (shard == k_local_shard)
        local_missing[i] = std::move(results[i].missing_partitions);
      else if (!results[i].missing_partitions.empty())
        peer_missing[i][shard - 1] = true;  // answered, but some of its partitions did not
    }
    arrived();
  }

  // Shard s is left out of every query of the batch.
  void miss(std::uint32_t shard, const std::string& why) {
    for (std::size_t i = 0; i < queries.size(); ++i) queries[i].miss(shard);
    if (shard != k_local_shard) {
      peer_absent[shard - 1] = true;
      auto& st = self->state.links[shard - 1].status;
      ++st.misses;
      st.last_error = why;
    }
    arrived();
  }

  void arrived() {
    if (--outstanding == 0) finish();
  }

  void finish() {
    batch_search_response out;
    auto& stats = self->state.stats;
    stats.queries += queries.size();
    if (failure) {
      out.failure = std::move(failure);
      done(std::move(out));
      return;
    }
    out.results.reserve(queries.size());
    // Peers left out hold nothing that is missing when the shards that answered (this node's among
    // them: a local miss leaves `held` without it, so nothing is excused) hold every partition of the
    // vectors topic between them: the group reassigned the absent peers' partitions (shard_coverage.hpp).
    const std::size_t answered_peers =
        peer_names.size() - static_cast<std::size_t>(std::count(peer_absent.begin(), peer_absent.end(), true));
    const bool local_answered = held.size() > answered_peers;
    const bool absent_excused = local_answered && covers_every_partition(held);
    for (std::size_t i = 0; i < queries.size(); ++i) {
      search_response r = queries[i].finish();
      r.missing_partitions = std::move(local_missing[i]);
      for (std::size_t p = 0; p < peer_names.size(); ++p)
        if (peer_missing[i][p] || (peer_absent[p] && !absent_excused)) r.missing_peers.push_back(peer_names[p]);
      r.partial = !r.missing_partitions.empty() || !r.missing_peers.empty();
      r.codebook_version = codebook_version;
      stats.partial_queries += r.partial;
      out.results.push_back(std::move(r));
    }
    done(std::move(out));
  }
};

void connect_peer(self_pointer self, std::uint32_t i);

void retry_later(self_pointer self, std::uint32_t i) {
  self->delayed_send(self, self->state.setup.reconnect_interval, peer_link_atom::value, i);
}

void connect_peer(self_pointer self, std::uint32_t i) {
  auto& link = self->state.links[i];
  if (link.handle || link.connecting || !link.dials) return;
  link.connecting = true;
  auto mm = self->state.setup.tls ? self->system().openssl_manager().actor_handle()
                                  : self->system().middleman().actor_handle();
  self->request(mm, caf::duration{self->state.setup.connect_timeout}, caf::connect_atom::value, link.address.host,
                link.address.port)
      .then(
          [self, i](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
            auto& link = self->state.links[i];
            link.connecting = false;
            if (!ptr) {
              link.status.last_error = "connect " + link.address.name() + ": no actor published on that port";
              return retry_later(self, i);
            }
            if (!self->system().assignable<peer_search_actor>(ifs)) {
              link.status.last_error =
                  "connect " + link.address.name() + ": the actor published there is not an ivfstream peer search";
              return retry_later(self, i);
            }
            link.handle = caf::actor_cast<peer_search_actor>(ptr);
            link.status.connected = true;
            link.ever_connected = true;
            self->monitor(link.handle);
            if (self->state.setup.tls) {
              // The peer searches this node over this connection instead of dialing back.
              self->send(link.handle, peer_hello_atom::value,
                         caf::actor_cast<caf::strong_actor_ptr>(self->state.setup.local),
                         self->state.setup.self.name());
            }
          },
          [self, i](caf::error& e) {
            auto& link = self->state.links[i];
            link.connecting = false;
            link.status.last_error = "connect " + link.address.name() + ": " + caf::to_string(e);
            retry_later(self, i);
          });
}

// Runs one batch: local shard + every peer, merged; `done` is called exactly once.
void run_batch(self_pointer self, std::shared_ptr<batch_search_request> req, batch_done done) {
  auto& st = self->state;
  self->request(st.setup.codebook_source, caf::duration{time_left(req->deadline)}, codebooks_atom::value)
      .then(
          [self, req, done](std::shared_ptr<const codebook_set>& cb) {
            auto& st = self->state;
            batch_search_response refused;
            if (!cb) {
              refused.failure = fail(errc::not_trained, "search: the index is not trained yet");
              return done(std::move(refused));
            }
            if (auto ok = req->params.validate(); !ok) {
              refused.failure = std::move(ok).error();
              return done(std::move(refused));
            }
            const std::size_t d = cb->dimension();
            if (req->dimension != d || req->queries.empty() || req->queries.size() % d != 0) {
              refused.failure = fail(errc::dimension_mismatch,
                                     "query dimension=" + std::to_string(req->dimension) + " with " +
                                         std::to_string(req->queries.size()) + " floats: the index has dimension " +
                                         std::to_string(d) + " (nq × dimension floats, nq >= 1)");
              return done(std::move(refused));
            }
            const std::size_t nq = req->queries.size() / d;
            const auto id = identify(cb, st.fingerprinted, st.fingerprint);
            const std::size_t num_peers = st.links.size();
            auto g = std::make_shared<cluster_gather>(self, req->params, nq, num_peers);
            g->codebook_version = cb->version();
            g->done = done;
            for (const auto& l : st.links) g->peer_names.push_back(l.address.name());
            const auto left = time_left(req->deadline);

            // Peers first (their round trip is the longer one), then this node's shard.
            if (num_peers > 0) {
              peer_request pr;
              pr.codebooks = id;
              pr.dimension = static_cast<std::uint32_t>(d);
              pr.queries = req->queries;
              pr.params = req->params;
              pr.budget = left;
              const auto bytes = encode_peer_request(pr);
              const std::size_t kprime = req->params.limit * std::max<std::size_t>(1, req->params.refine_factor);
              for (std::uint32_t i = 0; i < num_peers; ++i) {
                const std::uint32_t shard = i + 1;
                auto& link = st.links[i];
                if (!link.handle) {
                  connect_peer(self, i);  // no-op while an attempt is running
                  g->miss(shard, link.status.last_error.empty() ? "not connected yet" : link.status.last_error);
                  continue;
                }
                self->request(link.handle, caf::duration{left}, peer_search_atom::value, bytes)
                    .then(
                        [g, shard, nq, kprime, id, self](std::vector<char>& reply_bytes) {
                          const std::string name = g->peer_names[shard - 1];
                          auto reply = decode_peer_reply(reply_bytes, nq, kprime, self->state.setup.limits);
                          if (!reply) return g->miss(shard, name + ": bad reply: " + reply.error().to_string());
                          if (reply->failure) return g->miss(shard, name + ": " + reply->failure->to_string());
                          if (reply->codebooks != id)
                            return g->miss(shard, name + ": answered with codebooks version=" +
                                                      std::to_string(reply->codebooks.version) + ", asked for " +
                                                      std::to_string(id.version));
                          g->add(shard, reply->results, std::move(reply->held));
                        },
                        [g, shard](caf::error& e) {
                          g->miss(shard, g->peer_names[shard - 1] + ": " + caf::to_string(e));
                        });
              }
            }
            shard_request local;
            local.codebooks = cb;
            local.queries = std::move(req->queries);
            local.dimension = d;
            local.params = req->params;
            local.deadline = req->deadline;
            self->request(st.setup.local, caf::duration{left}, search_atom::value, std::move(local))
                .then(
                    [g, nq](peer_reply& r) {
                      if (r.failure || r.results.size() != nq) {
                        // This node could not run the batch (e.g. a non-finite query): fail it as one
                        // node would, once the peers' answers are in.
                        g->failure = r.failure ? std::move(*r.failure)
                                               : fail(errc::internal, "local shard answered " +
                                                                          std::to_string(r.results.size()) +
                                                                          " of " + std::to_string(nq) + " queries");
                        return g->miss(k_local_shard, "");
                      }
                      g->add(k_local_shard, r.results, std::move(r.held));
                    },
                    [g](caf::error& e) { g->miss(k_local_shard, caf::to_string(e)); });
          },
          [done](caf::error& e) {
            batch_search_response refused;
            refused.failure = fail(e == caf::sec::request_timeout ? errc::timeout : errc::unavailable,
                                   "search: the node's codebooks could not be read: " + caf::to_string(e));
            done(std::move(refused));
          });
}

}  // namespace

cluster_search_actor::behavior_type cluster_search(cluster_search_actor::stateful_pointer<cluster_search_state> self,
                                                   cluster_search_setup setup) {
  auto& st = self->state;
  st.setup = std::move(setup);
  for (const auto& a : st.setup.peers) {
    cluster_link l;
    l.address = a;
    l.status.name = a.name();
    if (st.setup.tls && std::tie(a.host, a.port) < std::tie(st.setup.self.host, st.setup.self.port)) {
      l.dials = false;
      l.status.last_error = "TLS: waiting for " + a.name() + " to dial this node (of two nodes, the one whose "
                            "address sorts first dials)";
    }
    st.links.push_back(std::move(l));
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    for (std::uint32_t i = 0; i < self->state.links.size(); ++i) {
      auto& link = self->state.links[i];
      if (link.handle && link.handle.address() == dm.source) {
        link.handle = nullptr;
        link.status.connected = false;
        link.down_since = std::chrono::steady_clock::now();
        link.status.last_error = link.address.name() + " went down: " + caf::to_string(dm.reason);
        if (!link.dials) link.status.last_error += " (TLS: waiting for it to dial this node again)";
        retry_later(self, i);
      }
    }
  });
  for (std::uint32_t i = 0; i < st.links.size(); ++i) connect_peer(self, i);
  return {
      [self](search_atom, search_request& req) -> caf::result<search_response> {
        auto rp = self->make_response_promise<search_response>();
        auto batch = std::make_shared<batch_search_request>();
        batch->dimension = req.query.size();
        batch->queries = std::move(req.query);
        batch->params = req.params;
        batch->deadline = req.deadline;
        run_batch(self, std::move(batch), [rp](batch_search_response r) mutable {
          search_response out;
          if (r.failure)
            out.failure = std::move(r.failure);
          else
            out = std::move(r.results.front());
          rp.deliver(std::move(out));
        });
        return rp;
      },
      [self](search_atom, batch_search_request& req) -> caf::result<batch_search_response> {
        auto rp = self->make_response_promise<batch_search_response>();
        run_batch(self, std::make_shared<batch_search_request>(std::move(req)),
                  [rp](batch_search_response r) mutable { rp.deliver(std::move(r)); });
        return rp;
      },
      // The coordinator plans nothing itself: it reads the codebooks of codebook_source per search,
      // so the ingest actor's installs and swaps need not reach it.
      [](codebooks_atom, std::shared_ptr<const codebook_set>&) {},
      [](swap_atom, std::shared_ptr<const codebook_set>&) { return ack_reply{}; },
      [self](codebooks_atom) -> caf::result<std::shared_ptr<const codebook_set>> {
        auto rp = self->make_response_promise<std::shared_ptr<const codebook_set>>();
        self->request(self->state.setup.codebook_source, caf::duration{std::chrono::seconds(10)},
                      codebooks_atom::value)
            .then([rp](std::shared_ptr<const codebook_set>& cb) mutable { rp.deliver(std::move(cb)); },
                  [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [self](peer_link_atom, std::uint32_t i) {
        if (i < self->state.links.size()) connect_peer(self, i);
      },
      [self](peer_hello_atom, caf::strong_actor_ptr& introduced, std::string& from) {
        // Only a peer this node waits for (TLS, its address sorts first) is taken, and only as the
        // peer search it claims to be; anything else is ignored. TLS already authenticated the node.
        if (!introduced) return;
        for (auto& link : self->state.links) {
          if (link.dials || link.address.name() != from) continue;  // both sides parsed the same peers.nodes
          auto handle = caf::actor_cast<peer_search_actor>(std::move(introduced));
          if (link.handle == handle) return;
          if (link.handle) self->demonitor(link.handle.address());
          link.handle = std::move(handle);
          link.status.connected = true;
          link.ever_connected = true;
          self->monitor(link.handle);
          return;
        }
      },
      [self](stats_atom) {
        cluster_stats out = self->state.stats;
        for (const auto& l : self->state.links) out.peers.push_back(l.status);
        return out;
      },
      [self](links_atom) {
        peer_links out;
        for (const auto& l : self->state.links) {
          if (l.handle) {
            out.names.push_back(l.address.name());
            out.handles.push_back(l.handle);
            out.addresses.push_back(l.address);
          } else {
            out.down.push_back(l.address.name() + ": " +
                               (l.status.last_error.empty() ? std::string("not connected") : l.status.last_error));
            out.down_addresses.push_back(l.address);
            out.down_for.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - l.down_since));
            out.never_connected.push_back(!l.ever_connected);
          }
        }
        return out;
      },
  };
}

}  // namespace ivfstream::actors
