#include "actors/query_topic.hpp"

#include <algorithm>

#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"

namespace ivfstream::actors {
namespace {

constexpr std::size_t k_poll_records = 256;
constexpr std::chrono::milliseconds k_poll_wait{2};
constexpr std::chrono::milliseconds k_backoff{50};
constexpr std::chrono::milliseconds k_commit_every{1000};
constexpr std::chrono::milliseconds k_metadata_timeout{10000};
constexpr std::size_t k_latency_samples = 1u << 16;
// Time for the reply itself beyond the request's deadline.
constexpr std::chrono::milliseconds k_reply_margin{1000};
// A reply topic's metadata lookup before its first reply; reply topics remembered per actor.
constexpr std::chrono::milliseconds k_reply_metadata_timeout{1000};
constexpr std::size_t k_max_known_reply_topics = 1024;

std::uint64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void produce_reply(query_topic_setup& s, const std::string& topic, const connectors::query_response& r) {
  if (s.known_reply_topics.count(topic) == 0) {
    if (s.known_reply_topics.size() >= k_max_known_reply_topics) s.known_reply_topics.clear();
    // Failure (unknown topic, timeout): produce anyway; librdkafka reports what happens to the record.
    (void)s.producer->partition_count(topic, k_reply_metadata_timeout);
    s.known_reply_topics.insert(topic);
  }
  const auto bytes = connectors::encode_query_response(r);
  (void)s.producer->produce(topic, r.correlation_id.data(), r.correlation_id.size(), bytes.data(), bytes.size());
}

// Gathers the answers of the nq searches of one request.
struct request_gather {
  connectors::query_response response;
  std::string reply_topic;
  std::size_t left = 0;
  std::uint32_t admitted = 0;  // in-flight slots held until the reply is produced
  std::chrono::steady_clock::time_point received;
};

}  // namespace

result<query_topic_setup> open_query_topic(const service_config& config, const std::string& bootstrap_servers,
                                           std::vector<query_actor> queries) {
  query_topic_setup s;
  const auto client = connectors::kafka_client_config::from(config, bootstrap_servers);
  connectors::kafka_producer_options popts;
  popts.linger_ms = config.kafka.query_linger_ms;  // replies are latency-bound
  popts.nagle_disable = true;
  auto producer = connectors::kafka_producer::create(client, popts);
  if (!producer) return std::move(producer).error();
  s.producer = std::move(*producer);
  const std::string topic = config.kafka.topics.queries;
  auto count = s.producer->partition_count(topic, k_metadata_timeout);
  if (!count) return std::move(count).error();
  // The CLI's own reply topic, before the first query needs it (see known_reply_topics).
  if (s.producer->partition_count(config.kafka.topics.replies, k_metadata_timeout))
    s.known_reply_topics.insert(config.kafka.topics.replies);
  auto assignment = std::make_shared<query_assignment>();
  assignment->group = config.peers.enabled;
  connectors::kafka_consumer_options copts;
  copts.group_id = config.kafka.query_group.empty() ? config.kafka.group_id + ".queries" : config.kafka.query_group;
  if (assignment->group) {
    // Callbacks run inside poll_batch() on the poller's thread (kafka_consumer.hpp). Every assigned
    // partition starts at the group's committed offset; a revoked one commits what was read of it, so
    // that its next owner does not answer those requests again.
    copts.on_assign = [assignment](const std::vector<connectors::topic_partition>& parts) {
      for (const auto& p : parts) assignment->partitions.insert(p.partition);
      return std::vector<connectors::topic_partition_offset>{};
    };
    copts.on_revoke = [assignment](const std::vector<connectors::topic_partition>& parts) {
      std::vector<connectors::topic_partition_offset> done;
      for (const auto& p : parts) {
        assignment->partitions.erase(p.partition);
        const auto it = assignment->next_offsets.find({p.topic, p.partition});
        if (it == assignment->next_offsets.end()) continue;
        done.push_back({p.topic, p.partition, it->second});
        assignment->next_offsets.erase(it);
      }
      if (assignment->consumer) (void)assignment->consumer->commit(done);
    };
  }
  copts.session_timeout_ms = config.kafka.session_timeout_ms;
  copts.auto_offset_reset = "earliest";
  copts.fetch_wait_max_ms = config.kafka.query_fetch_wait_ms;  // the floor of the request hop on the mock
  copts.nagle_disable = true;
  auto consumer = connectors::kafka_consumer::create(client, copts);
  if (!consumer) return std::move(consumer).error();
  s.consumer = std::move(*consumer);
  assignment->consumer = s.consumer.get();
  if (assignment->group) {
    IVF_TRY(s.consumer->subscribe({topic}));
  } else {
    std::vector<connectors::topic_partition_offset> positions;
    for (std::int32_t p = 0; p < *count; ++p) {
      positions.push_back({topic, p, connectors::k_offset_stored});
      assignment->partitions.insert(p);
    }
    IVF_TRY(s.consumer->assign(positions));
  }
  s.assignment = std::move(assignment);
  s.queries = std::move(queries);
  s.limits = connectors::make_record_limits(config);
  s.defaults = connectors::make_query_defaults(config);
  s.caps.max_k = config.caps.max_k;
  s.caps.max_nprobes = config.caps.max_nprobes;
  s.caps.max_refine_factor = config.caps.max_refine_factor;
  s.caps.max_vectors_per_request = config.caps.max_vectors_per_request;
  s.caps.max_inflight_queries = config.caps.max_inflight_queries;
  s.dead_letter_topic = config.kafka.topics.dead_letter;
  return s;
}

query_responder_actor::behavior_type query_responder(
    query_responder_actor::stateful_pointer<query_responder_state> self, query_topic_setup setup) {
  self->state.setup = std::move(setup);
  self->state.admission = std::make_unique<query_admission>(self->state.setup.caps);
  return {
      [self](search_atom, const std::shared_ptr<query_job>& job) {
        auto& st = self->state;
        const auto& req = job->request;
        ++st.stats.requests;
        if (auto admitted = st.admission->acquire(req.params, req.num_queries); !admitted) {
          connectors::query_response refused;
          refused.correlation_id = req.correlation_id;
          refused.error_code = static_cast<std::uint8_t>(admitted.error().code());
          refused.error_message = admitted.error().message();
          produce_reply(st.setup, req.reply_topic, refused);
          ++st.stats.error_replies;
          ++st.stats.over_inflight;
          return;
        }
        auto g = std::make_shared<request_gather>();
        g->admitted = req.num_queries;
        g->response.correlation_id = req.correlation_id;
        g->response.results.resize(req.num_queries);
        g->reply_topic = req.reply_topic;
        g->received = job->received;
        g->left = req.num_queries;
        const auto deadline = job->received + std::chrono::milliseconds(req.deadline_ms);
        auto finish = [self, g]() {
          if (--g->left != 0) return;
          auto& st = self->state;
          st.admission->release(g->admitted);
          auto& r = g->response;
          std::sort(r.missing_partitions.begin(), r.missing_partitions.end());
          r.missing_partitions.erase(std::unique(r.missing_partitions.begin(), r.missing_partitions.end()),
                                     r.missing_partitions.end());
          std::sort(r.missing_peers.begin(), r.missing_peers.end());
          r.missing_peers.erase(std::unique(r.missing_peers.begin(), r.missing_peers.end()), r.missing_peers.end());
          if (r.error_code != 0) {
            r.results.clear();
            ++st.stats.error_replies;
          }
          if (r.partial) ++st.stats.partial_replies;
          const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - g->received)
                                .count();
          r.server_time_us = static_cast<std::uint64_t>(took);
          produce_reply(st.setup, g->reply_topic, r);
          if (st.server_us.size() < k_latency_samples)
            st.server_us.push_back(static_cast<float>(took));
          else
            st.server_us[st.next_sample++ % k_latency_samples] = static_cast<float>(took);
        };
        // All query vectors of the request run as one batched search (planned together, one scan
        // message per partition); the reply carries one result per vector, in request order.
        batch_search_request br;
        br.queries = req.vectors;
        br.dimension = req.dimension;
        br.params = req.params;
        br.deadline = deadline;
        g->left = 1;
        const auto& target = st.setup.queries[st.next_query++ % st.setup.queries.size()];
        const auto timeout =
            std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now()) + k_reply_margin;
        st.stats.queries += req.num_queries;
        self->request(target, timeout, search_atom::value, std::move(br))
            .then(
                [g, finish](batch_search_response& b) {
                  auto& out = g->response;
                  if (b.failure) {
                    out.error_code = static_cast<std::uint8_t>(b.failure->code());
                    out.error_message = b.failure->message();
                  }
                  for (std::size_t i = 0; i < b.results.size() && i < out.results.size() && out.error_code == 0; ++i) {
                    auto& r = b.results[i];
                    if (r.failure) {
                      out.error_code = static_cast<std::uint8_t>(r.failure->code());
                      out.error_message = r.failure->message();
                      break;
                    }
                    auto& hits = out.results[i];
                    for (const auto& h : r.hits) {
                      hits.ids.push_back(h.id);
                      hits.distances.push_back(h.distance);
                    }
                    out.partial = out.partial || r.partial;
                    out.missing_partitions.insert(out.missing_partitions.end(), r.missing_partitions.begin(),
                                                  r.missing_partitions.end());
                    out.missing_peers.insert(out.missing_peers.end(), r.missing_peers.begin(), r.missing_peers.end());
                  }
                  finish();
                },
                [g, finish](caf::error& e) {
                  auto& out = g->response;
                  if (out.error_code == 0) {
                    out.error_code = static_cast<std::uint8_t>(errc::timeout);
                    out.error_message = "search: " + caf::to_string(e);
                  }
                  finish();
                });
      },
      [self](stats_atom) {
        auto s = self->state.stats;
        auto v = self->state.server_us;
        if (!v.empty()) {
          std::sort(v.begin(), v.end());
          s.server_p50_us = v[v.size() / 2];
          s.server_p99_us = v[std::min(v.size() - 1, static_cast<std::size_t>(0.99 * v.size()))];
        }
        return s;
      },
  };
}

query_poller_actor::behavior_type query_poller(query_poller_actor::stateful_pointer<query_poller_state> self,
                                               query_topic_setup setup, query_responder_actor responder) {
  self->state.setup = std::move(setup);
  self->state.responder = std::move(responder);
  self->send(self, poll_atom::value);
  return {
      [self](poll_atom) {
        auto& st = self->state;
        auto& s = st.setup;
        auto batch = s.consumer->poll_batch(k_poll_records, k_poll_wait);
        s.producer->poll(std::chrono::milliseconds(0));
        if (!batch) {
          self->delayed_send(self, k_backoff, poll_atom::value);
          return;
        }
        auto& next = s.assignment->next_offsets;
        for (auto& m : *batch) {
          // A record fetched before its partition was revoked (inside this poll) belongs to the
          // partition's next owner, which answers it from the offset committed at revocation.
          if (s.assignment->group && s.assignment->partitions.count(m.partition()) == 0) continue;
          const auto received = std::chrono::steady_clock::now();
          next[{std::string(m.topic()), m.partition()}] = m.offset() + 1;
          auto req = connectors::decode_query_request(m.payload(), m.payload_size(), s.limits, s.defaults);
          if (req) {
            auto job = std::make_shared<query_job>();
            job->request = std::move(*req);
            job->received = received;
            self->send(st.responder, search_atom::value, std::move(job));
            continue;
          }
          if (auto addr = connectors::peek_reply_address(m.payload(), m.payload_size())) {
            connectors::query_response r;
            r.correlation_id = addr->correlation_id;
            r.error_code = static_cast<std::uint8_t>(req.error().code());
            r.error_message = req.error().message();
            produce_reply(s, addr->reply_topic, r);
            ++st.stats.error_replies;
          } else {
            connectors::dead_letter letter;
            letter.source_topic = std::string(m.topic());
            letter.source_partition = m.partition();
            letter.source_offset = m.offset();
            letter.error_code = static_cast<std::uint8_t>(req.error().code());
            letter.reason = req.error().message();
            if (m.payload()) letter.payload.assign(m.payload(), m.payload() + m.payload_size());
            if (m.key()) letter.source_key.assign(m.key(), m.key() + m.key_size());
            letter.rejected_at_us = now_us();
            const auto bytes = connectors::encode_dead_letter(letter);
            (void)s.producer->produce(s.dead_letter_topic, m.key(), m.key_size(), bytes.data(), bytes.size());
            ++st.stats.dead_letters;
          }
        }
        if (!next.empty() && std::chrono::steady_clock::now() - st.last_commit > k_commit_every) {
          std::vector<connectors::topic_partition_offset> positions;
          for (const auto& [tp, off] : next) positions.push_back({tp.first, tp.second, off});
          (void)s.consumer->commit(positions);
          next.clear();
          st.last_commit = std::chrono::steady_clock::now();
        }
        self->send(self, poll_atom::value);
      },
      [self](stats_atom) {
        auto out = self->state.stats;
        const auto& parts = self->state.setup.assignment->partitions;
        out.partitions.assign(parts.begin(), parts.end());
        return out;
      },
  };
}

}  // namespace ivfstream::actors
