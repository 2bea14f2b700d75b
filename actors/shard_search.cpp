#include "actors/shard_search.hpp"

#include <algorithm>
#include <functional>

#include "actors/query_state.hpp"

namespace ivfstream::actors {
namespace {

using self_pointer = shard_search_actor::stateful_pointer<shard_search_state>;
using reply_done = std::function<void(peer_reply)>;

// Scans of a peer search are as urgent as a local query's (query_actor.cpp): the partition takes
// them before queued writes and re-encoding steps.
constexpr auto k_scan_priority = caf::message_priority::high;

// Share of the time left that the partitions get: the rest carries the reply back to the caller and
// lets it merge before its own deadline (a node answering late would count as missing entirely).
constexpr int k_partition_share_num = 4, k_partition_share_den = 5;

std::chrono::microseconds partition_budget(clock::time_point deadline) {
  const auto now = clock::now();
  if (deadline <= now) return std::chrono::microseconds(1);
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
  return std::max(std::chrono::microseconds(1), left * k_partition_share_num / k_partition_share_den);
}

std::uint64_t micros_since(clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t).count());
}

// Per batch: one gather per query; partitions asked and not yet answered.
struct shard_gather {
  std::vector<query_gather> queries;
  std::size_t outstanding = 0;
  codebook_identity identity;
  clock::time_point received;
  held_partitions held;  // the node's share of the vectors topic when the scans were sent
  reply_done done;

  void finish() {
    peer_reply out;
    out.codebooks = identity;
    out.held = std::move(held);
    out.results.resize(queries.size());
    for (std::size_t i = 0; i < queries.size(); ++i) {
      out.results[i].candidates = queries[i].take_candidates();
      out.results[i].missing_partitions = queries[i].missing();
      std::sort(out.results[i].missing_partitions.begin(), out.results[i].missing_partitions.end());
    }
    out.server_time_us = micros_since(received);
    done(std::move(out));
  }
};

// Plans `queries` with `cb`, scatters them to the partitions and calls `done` once with the node's
// candidates (or the reason none could be computed).
void search_shard(self_pointer self, const std::shared_ptr<const codebook_set>& cb, codebook_identity identity,
                  const std::vector<float>& queries, std::size_t dimension, const search_params& params,
                  clock::time_point deadline, clock::time_point received, reply_done done) {
  auto failed = [&](error e) {
    peer_reply out;
    out.codebooks = identity;
    out.failure = std::move(e);
    out.server_time_us = micros_since(received);
    done(std::move(out));
  };
  if (!cb) return failed(fail(errc::not_trained, "search: the index is not trained yet"));
  if (auto st = params.validate(); !st) return failed(std::move(st).error());
  if (dimension != cb->dimension())
    return failed(fail(errc::dimension_mismatch, "query dimension=" + std::to_string(dimension) +
                                                     ": the index has dimension " + std::to_string(cb->dimension())));
  if (queries.empty() || queries.size() % dimension != 0)
    return failed(fail(errc::dimension_mismatch, "batch of " + std::to_string(queries.size()) +
                                                     " floats: expected nq × dimension " + std::to_string(dimension) +
                                                     " with nq >= 1"));
  const std::size_t nq = queries.size() / dimension;
  // plan_query(q) equals plan_queries(…)[i] bit for bit (codebook_set.hpp), so a node's answer does
  // not depend on how the caller batched its queries.
  std::vector<query_plan> plans;
  if (nq == 1) {
    auto plan = cb->plan_query(queries.data(), params.nprobes);
    if (!plan) return failed(std::move(plan).error());
    plans.push_back(std::move(*plan));
  } else {
    auto batch = cb->plan_queries(queries.data(), nq, params.nprobes);
    if (!batch) return failed(std::move(batch).error());
    plans = std::move(*batch);
  }
  const auto& partitions = self->state.setup.partitions;
  const auto P = static_cast<std::uint32_t>(partitions.size());
  auto g = std::make_shared<shard_gather>();
  g->identity = identity;
  g->received = received;
  if (const auto& coverage = self->state.setup.coverage) g->held = coverage->snapshot();
  g->done = std::move(done);
  g->queries.reserve(nq);
  std::vector<scan_batch> per_partition(P);
  for (std::size_t i = 0; i < nq; ++i) {
    auto plan = std::make_shared<const query_plan>(std::move(plans[i]));
    std::vector<std::uint32_t> asked;
    for (auto& [p, sr] : scatter(cb, plan, params, P)) {
      asked.push_back(p);
      per_partition[p].query.push_back(static_cast<std::uint32_t>(i));
      per_partition[p].scans.push_back(std::move(sr));
    }
    g->queries.emplace_back(params, std::move(asked));
  }
  for (const auto& b : per_partition) g->outstanding += !b.scans.empty();
  if (g->outstanding == 0) return g->finish();
  const auto budget = partition_budget(deadline);
  for (std::uint32_t p = 0; p < P; ++p) {
    if (per_partition[p].scans.empty()) continue;
    auto which = per_partition[p].query;
    self->template request<k_scan_priority>(partitions[p], caf::duration{budget}, scan_atom::value,
                                            std::move(per_partition[p]))
        .then(
            [g, which, p](scan_batch_reply& reply) {
              for (std::size_t j = 0; j < which.size(); ++j) {
                if (j < reply.replies.size())
                  g->queries[which[j]].add(std::move(reply.replies[j]));
                else
                  g->queries[which[j]].miss(p);
              }
              if (--g->outstanding == 0) g->finish();
            },
            [g, which, p](caf::error&) {
              for (auto i : which) g->queries[i].miss(p);
              if (--g->outstanding == 0) g->finish();
            });
  }
}

std::string describe(const codebook_identity& id) {
  return "version=" + std::to_string(id.version) + " fingerprint=" + std::to_string(id.fingerprint);
}

}  // namespace

codebook_identity identify(std::shared_ptr<const codebook_set> const& cb, std::shared_ptr<const codebook_set>& cached,
                           std::uint64_t& cached_fingerprint) {
  if (!cb) return {};
  if (cb != cached) {
    cached_fingerprint = codebook_fingerprint(*cb);
    cached = cb;
  }
  return {cb->version(), cached_fingerprint};
}

shard_search_actor::behavior_type shard_search(shard_search_actor::stateful_pointer<shard_search_state> self,
                                               shard_search_setup setup) {
  self->state.setup = std::move(setup);
  return {
      [self](peer_link_atom, peer_hello_sink& sink) { self->state.hello_sink = std::move(sink); },
      [self](peer_hello_atom, caf::strong_actor_ptr& introduced, std::string& from) {
        if (self->state.hello_sink)
          self->send(self->state.hello_sink, peer_hello_atom::value, std::move(introduced), std::move(from));
      },
      [self](train_stats_atom, const std::vector<char>& bytes) { return answer_train_stats(self, bytes); },
      [self](search_atom, shard_request& r) -> caf::result<peer_reply> {
        auto rp = self->make_response_promise<peer_reply>();
        auto& st = self->state;
        const auto id = identify(r.codebooks, st.fingerprinted, st.fingerprint);
        search_shard(self, r.codebooks, id, r.queries, r.dimension, r.params, r.deadline, clock::now(),
                     [rp](peer_reply out) mutable { rp.deliver(std::move(out)); });
        return rp;
      },
      [self](peer_search_atom, const std::vector<char>& bytes) -> caf::result<std::vector<char>> {
        const auto received = clock::now();
        auto& st = self->state;
        auto decoded = decode_peer_request(bytes, st.setup.limits);
        auto refuse = [&](error e) {
          peer_reply out;
          out.failure = std::move(e);
          out.server_time_us = micros_since(received);
          return encode_peer_reply(out);
        };
        if (!decoded) return refuse(std::move(decoded).error());
        auto req = std::make_shared<peer_request>(std::move(*decoded));
        const std::size_t nq = req->queries.size() / req->dimension;
        query_admission* admission = st.setup.admission;
        if (admission) {
          if (auto ok = admission->acquire(req->params, nq); !ok) return refuse(std::move(ok).error());
        }
        auto rp = self->make_response_promise<std::vector<char>>();
        auto reply = [rp, admission, nq](peer_reply out) mutable {
          if (admission) admission->release(nq);
          rp.deliver(encode_peer_reply(out));
        };
        const auto deadline = received + req->budget;
        self->request(st.setup.codebook_source, caf::duration{std::max(req->budget, std::chrono::microseconds(1))},
                      codebooks_atom::value)
            .then(
                [self, req, reply, deadline, received](std::shared_ptr<const codebook_set>& cb) mutable {
                  auto& st = self->state;
                  const auto id = identify(cb, st.fingerprinted, st.fingerprint);
                  if (cb && id != req->codebooks) {
                    peer_reply out;
                    out.codebooks = id;
                    out.failure = fail(errc::version_mismatch,
                                       "peer search with codebooks " + describe(req->codebooks) +
                                           ": this node searches with " + describe(id) +
                                           " (every node must serve the same codebooks)");
                    out.server_time_us = micros_since(received);
                    return reply(std::move(out));
                  }
                  search_shard(self, cb, id, req->queries, req->dimension, req->params, deadline, received,
                               std::move(reply));
                },
                [reply, received](caf::error& e) mutable {
                  peer_reply out;
                  out.failure = fail(errc::unavailable, "peer search: the node's codebooks could not be read: " +
                                                            caf::to_string(e));
                  out.server_time_us = micros_since(received);
                  reply(std::move(out));
                });
        return rp;
      },
  };
}

}  // namespace ivfstream::actors
