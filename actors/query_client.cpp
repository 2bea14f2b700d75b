#include "actors/query_client.hpp"

#include <random>
#include <unistd.h>

#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"

namespace ivfstream {
namespace {
constexpr std::chrono::milliseconds k_metadata_timeout{10000};
}

query_client::~query_client() = default;

result<std::unique_ptr<query_client>> query_client::open(const service_config& config,
                                                         const std::string& bootstrap_servers,
                                                         std::string reply_topic) {
  std::unique_ptr<query_client> c(new query_client());
  c->queries_topic_ = config.kafka.topics.queries;
  c->reply_topic_ = reply_topic.empty() ? config.kafka.topics.replies : std::move(reply_topic);
  std::random_device rd;
  c->prefix_ = "q" + std::to_string(::getpid()) + "-" + std::to_string(rd()) + "-";
  const auto client = connectors::kafka_client_config::from(config, bootstrap_servers);
  connectors::kafka_producer_options popts;
  popts.linger_ms = config.kafka.query_linger_ms;
  popts.nagle_disable = true;
  auto producer = connectors::kafka_producer::create(client, popts);
  if (!producer) return std::move(producer).error();
  c->producer_ = std::move(*producer);
  auto count = c->producer_->partition_count(c->reply_topic_, k_metadata_timeout);
  if (!count) return std::move(count).error();
  // The queries topic's metadata too, now: otherwise the first send() waits for it.
  if (auto q = c->producer_->partition_count(c->queries_topic_, k_metadata_timeout); !q) return std::move(q).error();
  connectors::kafka_consumer_options copts;
  copts.group_id = config.kafka.group_id + ".client." + c->prefix_;
  copts.fetch_wait_max_ms = config.kafka.reply_fetch_wait_ms;  // replies are latency-bound
  copts.nagle_disable = true;
  auto consumer = connectors::kafka_consumer::create(client, copts);
  if (!consumer) return std::move(consumer).error();
  c->consumer_ = std::move(*consumer);
  std::vector<connectors::topic_partition_offset> positions;
  for (std::int32_t p = 0; p < *count; ++p) {
    auto w = c->consumer_->watermarks(c->reply_topic_, p, k_metadata_timeout);
    if (!w) return std::move(w).error();
    positions.push_back({c->reply_topic_, p, w->second});
  }
  IVF_TRY(c->consumer_->assign(positions));
  return c;
}

result<std::string> query_client::send(const float* q, std::size_t nq, std::size_t d, const query_options& o,
                                       std::int32_t partition) {
  connectors::query_request_fields f;
  f.correlation_id = prefix_ + std::to_string(next_++);
  f.reply_topic = reply_topic_;
  f.dimension = static_cast<std::uint32_t>(d);
  f.vectors = q;
  f.num_queries = static_cast<std::uint32_t>(nq);
  f.k = o.k;
  f.nprobes = o.nprobes;
  f.refine_factor = o.refine_factor;
  f.deadline_ms = o.deadline_ms;
  const auto bytes = connectors::encode_query_request(f);
  IVF_TRY(producer_->produce(queries_topic_, f.correlation_id.data(), f.correlation_id.size(), bytes.data(),
                             bytes.size(), partition < 0 ? connectors::k_any_partition : partition));
  producer_->poll(std::chrono::milliseconds(0));
  outstanding_.insert(f.correlation_id);
  return f.correlation_id;
}

status query_client::send_raw(const std::vector<std::uint8_t>& bytes) {
  IVF_TRY(producer_->produce(queries_topic_, nullptr, 0, bytes.data(), bytes.size()));
  producer_->poll(std::chrono::milliseconds(0));
  return {};
}

result<connectors::query_response> query_client::wait(const std::string& id, std::chrono::milliseconds timeout) {
  if (!outstanding_.count(id))
    return fail(errc::not_found, "correlation id '" + id + "': no request of this client waits for it (never sent "
                                 "here, answered already, or given up after a timeout)");
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto it = arrived_.find(id); it != arrived_.end()) {
      auto r = std::move(it->second);
      arrived_.erase(it);
      outstanding_.erase(id);
      return r;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) {
      outstanding_.erase(id);  // given up: a reply that arrives later is dropped
      return fail(errc::timeout, "no reply to correlation id '" + id + "' on topic '" + reply_topic_ + "' within " +
                                     std::to_string(timeout.count()) + " ms");
    }
    producer_->poll(std::chrono::milliseconds(0));
    auto batch = consumer_->poll_batch(
        256, std::min(std::chrono::milliseconds(5),
                      std::chrono::duration_cast<std::chrono::milliseconds>(until - now) + std::chrono::milliseconds(1)));
    if (!batch) return std::move(batch).error();
    for (auto& m : *batch) {
      auto r = connectors::decode_query_response(m.payload(), m.payload_size());
      if (!r) continue;  // not a reply (or not ours to understand): skip
      if (r->correlation_id.compare(0, prefix_.size(), prefix_) != 0) continue;  // another client's
      // A second reply (at-least-once delivery after a kill) or one for a request given up: dropped.
      if (!outstanding_.count(r->correlation_id) || arrived_.count(r->correlation_id)) {
        ++dropped_;
        continue;
      }
      arrived_.emplace(r->correlation_id, std::move(*r));
    }
  }
}

result<connectors::query_response> query_client::query(const float* q, std::size_t nq, std::size_t d,
                                                       const query_options& options,
                                                       std::chrono::milliseconds timeout, std::int32_t partition) {
  auto id = send(q, nq, d, options, partition);
  if (!id) return std::move(id).error();
  return wait(*id, timeout);
}

}  // namespace ivfstream
