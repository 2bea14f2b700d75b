#include "actors/kafka_service.hpp"

#include <caf/scoped_actor.hpp>

#include "actors/engine_impl.hpp"
#include "actors/vector_feed.hpp"

namespace ivfstream {

result<std::unique_ptr<kafka_service>> kafka_service::start(engine& e, const service_config& config,
                                                            const std::string& bootstrap_servers,
                                                            std::vector<actors::query_actor> searchers) {
  auto& im = e.internals();
  auto st = e.stats();
  if (!st) return std::move(st).error();
  actors::offset_map start;
  for (const auto& [topic, partition, next] : st->offsets) start[{topic, partition}] = next;
  auto feed = actors::vector_feed::open(config, bootstrap_servers, start, im.coverage);
  if (!feed) return std::move(feed).error();
  auto qt = actors::open_query_topic(config, bootstrap_servers, searchers.empty() ? im.queries : std::move(searchers));
  if (!qt) return std::move(qt).error();
  std::unique_ptr<kafka_service> s(new kafka_service());
  s->engine_ = &e;
  auto& sys = *im.system;
  s->responder_ = sys.spawn(actors::query_responder, *qt);
  s->poller_ = sys.spawn<caf::detached>(actors::query_poller, *qt, s->responder_);
  caf::anon_send(im.ingest, actors::attach_atom::value, std::shared_ptr<actors::vector_feed>(std::move(*feed)));
  return s;
}

kafka_service::~kafka_service() {
  if (poller_) caf::anon_send_exit(poller_, caf::exit_reason::user_shutdown);
  if (responder_) caf::anon_send_exit(responder_, caf::exit_reason::user_shutdown);
}

result<actors::query_topic_stats> kafka_service::query_stats() const {
  caf::scoped_actor self{engine_->system()};
  actors::query_topic_stats out;
  std::optional<error> failure;
  self->request(responder_, std::chrono::seconds(10), actors::stats_atom::value)
      .receive([&](actors::query_topic_stats& s) { out = s; },
               [&](caf::error& e) { failure = fail(errc::unavailable, "query stats: " + caf::to_string(e)); });
  if (failure) return std::move(*failure);
  self->request(poller_, std::chrono::seconds(10), actors::stats_atom::value)
      .receive(
          [&](actors::query_topic_stats& s) {
            out.error_replies += s.error_replies;
            out.dead_letters += s.dead_letters;
            out.partitions = std::move(s.partitions);
          },
          [&](caf::error& e) { failure = fail(errc::unavailable, "query stats: " + caf::to_string(e)); });
  if (failure) return std::move(*failure);
  return out;
}

}  // namespace ivfstream
