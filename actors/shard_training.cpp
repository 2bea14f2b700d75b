// The peer side of distributed training (actors/cluster_trainer.hpp): one Lloyd iteration's k-means
// statistics of this node's training sample, asked for by the training node.
#include <memory>
#include <string>

#include "actors/shard_search.hpp"
#include "actors/train_codec.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const ivfstream::actors::train_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const ivfstream::actors::training_sample>)

namespace ivfstream::actors {
namespace {

// Fetching the sample copies the reservoir (or the buffered vectors) once per round.
constexpr std::chrono::seconds k_sample_timeout{30};

std::vector<char> refusal(std::uint64_t round, ivfstream::error e) {
  train_reply out;
  out.round = round;
  out.failure = std::move(e);
  return encode_train_reply(out);
}

// One request's statistics on a thread of its own, so that the shard keeps answering searches. The job
// is a spawn argument: CAF 0.17.6 binds a reference to a null tuple when a function actor is spawned
// with no arguments (UBSan reports it in init_fun_factory.hpp).
caf::behavior train_stats_worker(caf::event_based_actor* self, std::shared_ptr<const train_request> req,
                                 std::shared_ptr<const training_sample> s) {
  return {[self, req, s](train_stats_atom) -> std::vector<char> {
    self->quit();
    const std::size_t n = s->rows.size() / s->params->dimension;
    return encode_train_reply(answer_train_request(*req, *s->params, s->rows.data(), n, s->population));
  }};
}

}  // namespace

caf::result<std::vector<char>> answer_train_stats(shard_search_actor::stateful_pointer<shard_search_state> self,
                                                  const std::vector<char>& bytes) {
  auto decoded = decode_train_request(bytes);
  if (!decoded) return refusal(0, std::move(decoded).error());
  auto req = std::make_shared<const train_request>(std::move(*decoded));
  auto& st = self->state;
  if (!st.setup.samples)
    return refusal(req->round, fail(errc::unavailable, "training statistics: this node has no training sample source"));
  auto rp = self->make_response_promise<std::vector<char>>();
  auto run = [self, req, rp](std::shared_ptr<const training_sample> s) mutable {
    if (!s->params) {
      rp.deliver(refusal(req->round, fail(errc::not_trained, "training statistics: this node has no index "
                                                             "(create_index was not called)")));
      return;
    }
    if (auto ok = check_train_request(*req, *s->params); !ok) {
      rp.deliver(refusal(req->round, ok.error()));
      return;
    }
    if (s->rows.empty()) {
      rp.deliver(refusal(req->round, fail(errc::unavailable,
                                          "training statistics: this node holds no training sample (nothing "
                                          "ingested, or trained with retrain off so it keeps no reservoir)")));
      return;
    }
    auto worker = self->spawn<caf::detached>(train_stats_worker, req, std::move(s));
    self->request(worker, caf::infinite, train_stats_atom::value)
        .then([rp](std::vector<char>& out) mutable { rp.deliver(std::move(out)); },
              [rp, round = req->round](caf::error& e) mutable {
                rp.deliver(refusal(round, fail(errc::internal, "training statistics worker: " + caf::to_string(e))));
              });
  };
  if (st.sample && st.sample_round == req->round) {
    run(st.sample);
    return rp;
  }
  // A new round: freeze the sample for all of its iterations (the leader asks one iteration at a time).
  self->request(st.setup.samples, k_sample_timeout, sample_atom::value)
      .then(
          [self, req, run](training_sample& s) mutable {
            auto frozen = std::make_shared<const training_sample>(std::move(s));
            self->state.sample_round = req->round;
            self->state.sample = frozen;
            run(std::move(frozen));
          },
          [rp, round = req->round](caf::error& e) mutable {
            rp.deliver(refusal(round, fail(errc::unavailable, "training sample: " + caf::to_string(e))));
          });
  return rp;
}

}  // namespace ivfstream::actors
