#pragma once
// Template body of ingest_actor.hpp's dispatch_batch (shared by the embedded and Kafka ingest paths).
#include <chrono>

namespace ivfstream::actors {

/// Upper bound on how long a partition may take to apply one batch before the write is failed.
inline constexpr std::chrono::seconds k_apply_timeout{120};

template <class Self>
void dispatch_batch(Self* self, const std::vector<partition_actor>& partitions, const std::vector<query_actor>& queries,
                    routed_batch batch, std::function<void(ack_reply)> done) {
  struct pending_state {
    std::size_t left = 0;
    ack_reply reply;
    std::function<void(ack_reply)> done;
  };
  auto st = std::make_shared<pending_state>();
  st->done = std::move(done);
  st->reply.count = batch.routed_vectors;
  auto finish_one = [st]() {
    if (--st->left == 0) st->done(std::move(st->reply));
  };
  auto record = [st](std::optional<ivfstream::error> f) {
    if (f && !st->reply.failure) st->reply.failure = std::move(f);
  };
  if (batch.new_codebooks) {
    for (const auto& p : partitions) {
      ++st->left;
      // Urgent, as scans are (query_actor.cpp): no scan planned with these codebooks overtakes it.
      self->template request<caf::message_priority::high>(p, caf::duration{k_apply_timeout}, codebooks_atom::value,
                                                          batch.new_codebooks)
          .then([record, finish_one](ack_reply& a) { record(std::move(a.failure)); finish_one(); },
                [record, finish_one](caf::error& e) {
                  record(fail(errc::unavailable, "install codebooks: " + caf::to_string(e)));
                  finish_one();
                });
    }
    for (const auto& q : queries) self->send(q, codebooks_atom::value, batch.new_codebooks);
  }
  for (std::size_t p = 0; p < batch.updates.size(); ++p) {
    if (batch.updates[p].empty()) continue;
    ++st->left;
    self->request(partitions[p], k_apply_timeout, apply_atom::value, std::move(batch.updates[p]))
        .then([record, finish_one](ack_reply& a) { record(std::move(a.failure)); finish_one(); },
              [record, finish_one](caf::error& e) {
                record(fail(errc::unavailable, "apply: " + caf::to_string(e)));
                finish_one();
              });
  }
  // During a hot swap: the same batch under the shadow version (after the live update, same mailbox).
  for (std::size_t p = 0; p < batch.shadow_updates.size(); ++p) {
    if (batch.shadow_updates[p].empty()) continue;
    ++st->left;
    self->request(partitions[p], k_apply_timeout, apply_atom::value, std::move(batch.shadow_updates[p]))
        .then([record, finish_one](ack_reply& a) { record(std::move(a.failure)); finish_one(); },
              [record, finish_one](caf::error& e) {
                record(fail(errc::unavailable, "apply (shadow): " + caf::to_string(e)));
                finish_one();
              });
  }
  if (st->left == 0) st->done(std::move(st->reply));
}

}  // namespace ivfstream::actors
