#include "actors/query_actor.hpp"

#include <algorithm>

#include "actors/query_state.hpp"

namespace ivfstream::actors {
namespace {

// Scans are urgent messages: a partition takes them before queued writes, migrations and re-encoded
// blocks of a hot swap (CAF's urgent queue: FIFO among themselves, twice the normal share per round).
// Ordering kept: codebooks installs and retire_atom are urgent too, so a scan never overtakes the
// install of its codebooks nor meets a retired set already freed; a scan of v+1 that overtakes the
// commit reads the shadow, complete by then (every migration was acknowledged before the commit).
constexpr auto k_scan_priority = caf::message_priority::high;

search_response finish_at(query_gather& g, std::uint64_t version) {
  auto out = g.finish();
  out.codebook_version = version;
  return out;
}

/// What every search checks before planning: trained, valid parameters, queries of the index's dimension.
status check_search(const std::shared_ptr<const codebook_set>& cb, const search_params& params,
                    std::size_t query_dimension) {
  if (!cb) return fail(errc::not_trained, "search: the index is not trained yet");
  IVF_TRY(params.validate());
  if (query_dimension != cb->dimension())
    return fail(errc::dimension_mismatch, "query dimension=" + std::to_string(query_dimension) +
                                              ": the index has dimension " + std::to_string(cb->dimension()));
  return {};
}

}  // namespace

query_actor::behavior_type query_behavior(query_actor::stateful_pointer<query_actor_state> self,
                                          std::vector<partition_actor> partitions,
                                          std::shared_ptr<const codebook_set> codebooks) {
  self->state.partitions = std::move(partitions);
  self->state.codebooks = std::move(codebooks);
  return {
      [self](search_atom, search_request& req) -> caf::result<search_response> {
        search_response out;
        const auto& cb = self->state.codebooks;
        if (auto st = check_search(cb, req.params, req.query.size()); !st) {
          out.failure = std::move(st).error();
          return out;
        }
        auto plan = cb->plan_query(req.query.data(), req.params.nprobes);
        if (!plan) {
          out.failure = std::move(plan).error();
          return out;
        }
        auto shared_plan = std::make_shared<const query_plan>(std::move(*plan));
        const auto n = static_cast<std::uint32_t>(self->state.partitions.size());
        auto requests = scatter(cb, shared_plan, req.params, n);
        if (requests.empty()) return out;
        std::vector<std::uint32_t> asked;
        for (const auto& r : requests) asked.push_back(r.first);
        auto gather = std::make_shared<query_gather>(req.params, std::move(asked));
        const std::uint64_t version = cb->version();  // every scan of this query reads this version
        auto rp = self->make_response_promise<search_response>();
        const auto now = clock::now();
        const auto left = req.deadline > now ? std::chrono::duration_cast<std::chrono::microseconds>(req.deadline - now)
                                             : std::chrono::microseconds(1);
        for (auto& [p, sr] : requests) {
          const std::uint32_t partition = p;
          self->template request<k_scan_priority>(self->state.partitions[partition], caf::duration{left},
                                                  scan_atom::value, std::move(sr))
              .then(
                  [gather, rp, version](scan_reply& reply) mutable {
                    gather->add(std::move(reply));
                    if (gather->done()) rp.deliver(finish_at(*gather, version));
                  },
                  [gather, rp, partition, version](caf::error&) mutable {
                    gather->miss(partition);
                    if (gather->done()) rp.deliver(finish_at(*gather, version));
                  });
        }
        return rp;
      },
      [self](search_atom, batch_search_request& req) -> caf::result<batch_search_response> {
        batch_search_response out;
        const auto& cb = self->state.codebooks;
        if (auto st = check_search(cb, req.params, req.dimension); !st) {
          out.failure = std::move(st).error();
          return out;
        }
        const std::size_t d = cb->dimension();
        if (req.queries.empty() || req.queries.size() % d != 0) {
          out.failure = fail(errc::dimension_mismatch, "batch of " + std::to_string(req.queries.size()) +
                                                           " floats: expected nq × dimension " + std::to_string(d) +
                                                           " with nq >= 1");
          return out;
        }
        const std::size_t nq = req.queries.size() / d;
        auto plans = cb->plan_queries(req.queries.data(), nq, req.params.nprobes);  // one GEMM for the batch
        if (!plans) {
          out.failure = std::move(plans).error();
          return out;
        }
        const auto P = static_cast<std::uint32_t>(self->state.partitions.size());
        // Per query: its gather; per partition: one scan_batch with the scans of every query it serves.
        struct batch_gather {
          std::vector<query_gather> queries;
          std::size_t outstanding = 0;  // partitions asked, not yet answered
          batch_search_response response;
        };
        auto g = std::make_shared<batch_gather>();
        std::vector<scan_batch> per_partition(P);
        g->queries.reserve(nq);
        for (std::size_t i = 0; i < nq; ++i) {
          auto plan = std::make_shared<const query_plan>(std::move((*plans)[i]));
          std::vector<std::uint32_t> asked;
          for (auto& [p, sr] : scatter(cb, plan, req.params, P)) {
            asked.push_back(p);
            per_partition[p].query.push_back(static_cast<std::uint32_t>(i));
            per_partition[p].scans.push_back(std::move(sr));
          }
          g->queries.emplace_back(req.params, std::move(asked));
        }
        auto finish = [g]() {
          g->response.results.reserve(g->queries.size());
          for (auto& q : g->queries) g->response.results.push_back(q.done() ? q.finish() : search_response{});
          return std::move(g->response);
        };
        for (const auto& b : per_partition) g->outstanding += !b.scans.empty();
        if (g->outstanding == 0) return finish();
        auto rp = self->make_response_promise<batch_search_response>();
        const auto now = clock::now();
        const auto left = req.deadline > now ? std::chrono::duration_cast<std::chrono::microseconds>(req.deadline - now)
                                             : std::chrono::microseconds(1);
        for (std::uint32_t p = 0; p < P; ++p) {
          if (per_partition[p].scans.empty()) continue;
          auto which = per_partition[p].query;
          self->template request<k_scan_priority>(self->state.partitions[p], caf::duration{left}, scan_atom::value,
                                                  std::move(per_partition[p]))
              .then(
                  [g, rp, finish, which, p](scan_batch_reply& reply) mutable {
                    for (std::size_t j = 0; j < which.size(); ++j) {
                      if (j < reply.replies.size())
                        g->queries[which[j]].add(std::move(reply.replies[j]));
                      else
                        g->queries[which[j]].miss(p);
                    }
                    if (--g->outstanding == 0) rp.deliver(finish());
                  },
                  [g, rp, finish, which, p](caf::error&) mutable {
                    for (auto i : which) g->queries[i].miss(p);
                    if (--g->outstanding == 0) rp.deliver(finish());
                  });
        }
        return rp;
      },
      [self](codebooks_atom, std::shared_ptr<const codebook_set>& cb) { self->state.codebooks = std::move(cb); },
      [self](swap_atom, std::shared_ptr<const codebook_set>& cb) {
        self->state.codebooks = std::move(cb);
        return ack_reply{};
      },
      [self](codebooks_atom) { return self->state.codebooks; },
  };
}

}  // namespace ivfstream::actors
