#include "actors/query_actor.hpp"

#include <algorithm>

#include "actors/query_state.hpp"

namespace ivfstream::actors {
namespace {

search_response finish_at(query_gather& g, std::uint64_t version) {
  auto out = g.finish();
  out.codebook_version = version;
  return out;
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
        if (!cb) {
          out.failure = fail(errc::not_trained, "search: the index is not trained yet");
          return out;
        }
        if (auto st = req.params.validate(); !st) {
          out.failure = std::move(st).error();
          return out;
        }
        if (req.query.size() != cb->dimension()) {
          out.failure = fail(errc::dimension_mismatch, "query dimension=" + std::to_string(req.query.size()) +
                                                           ": the index has dimension " +
                                                           std::to_string(cb->dimension()));
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
          self->request(self->state.partitions[partition], left, scan_atom::value, std::move(sr))
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
      [self](codebooks_atom, std::shared_ptr<const codebook_set>& cb) { self->state.codebooks = std::move(cb); },
      [self](swap_atom, std::shared_ptr<const codebook_set>& cb) {
        self->state.codebooks = std::move(cb);
        return ack_reply{};
      },
  };
}

}  // namespace ivfstream::actors
