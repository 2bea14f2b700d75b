#include "connectors/kafka_consumer.hpp"

#include <algorithm>

#include "connectors/internal/rd_client.hpp"

namespace ivfstream::connectors {

namespace {

constexpr std::size_t k_errstr_bytes = 512;
constexpr std::uint32_t k_min_heartbeat_ms = 100;

rd_kafka_message_t* as_msg(void* m) { return static_cast<rd_kafka_message_t*>(m); }

internal::rd_partitions_ptr to_list(const std::vector<topic_partition_offset>& positions) {
  internal::rd_partitions_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const auto& p : positions) {
    rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.offset;
  }
  return list;
}

internal::rd_partitions_ptr to_list(const std::vector<topic_partition>& partitions) {
  internal::rd_partitions_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& p : partitions) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition);
  return list;
}

std::vector<topic_partition> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<topic_partition> out;
  if (list == nullptr) return out;
  out.reserve(static_cast<std::size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition});
  return out;
}

// The first per-partition error of a list operation, if any.
status first_partition_error(const rd_kafka_topic_partition_list_t* list, const std::string& what) {
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return internal::from_rd(list->elems[i].err, what + " " + list->elems[i].topic + "[" +
                                                       std::to_string(list->elems[i].partition) + "]");
    }
  }
  return {};
}

}  // namespace

// ---- kafka_message -------------------------------------------------------------------------

kafka_message& kafka_message::operator=(kafka_message&& o) noexcept {
  if (this != &o) {
    if (msg_ != nullptr) rd_kafka_message_destroy(as_msg(msg_));
    msg_ = o.msg_;
    o.msg_ = nullptr;
  }
  return *this;
}
kafka_message::~kafka_message() {
  if (msg_ != nullptr) rd_kafka_message_destroy(as_msg(msg_));
}
std::string_view kafka_message::topic() const {
  return as_msg(msg_)->rkt != nullptr ? std::string_view(rd_kafka_topic_name(as_msg(msg_)->rkt)) : std::string_view();
}
std::int32_t kafka_message::partition() const { return as_msg(msg_)->partition; }
std::int64_t kafka_message::offset() const { return as_msg(msg_)->offset; }
const std::uint8_t* kafka_message::key() const { return static_cast<const std::uint8_t*>(as_msg(msg_)->key); }
std::size_t kafka_message::key_size() const { return as_msg(msg_)->key_len; }
const std::uint8_t* kafka_message::payload() const {
  return static_cast<const std::uint8_t*>(as_msg(msg_)->payload);
}
std::size_t kafka_message::payload_size() const { return as_msg(msg_)->len; }
std::int64_t kafka_message::timestamp_ms() const {
  rd_kafka_timestamp_type_t type;
  return rd_kafka_message_timestamp(as_msg(msg_), &type);
}

// ---- kafka_consumer ------------------------------------------------------------------------

struct kafka_consumer::impl {
  kafka_consumer_options options;
  std::unique_ptr<internal::client_context> context;
  internal::rd_handle_ptr handle;
  bool closed = false;
};

struct consumer_callbacks {
  // Eager rebalance protocol (the default assignors range/roundrobin): assign the whole new set
  // at the offsets the engine chooses; on revoke, let the engine checkpoint, then clear.
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* /*opaque*/) {
    auto* ctx = static_cast<internal::client_context*>(rd_kafka_opaque(rk));
    auto* self = static_cast<kafka_consumer*>(ctx->owner);
    const kafka_consumer_options& o = self->impl_->options;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      const std::vector<topic_partition> assigned = partitions_of(parts);
      for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = k_offset_stored;
      if (o.on_assign) {
        for (const topic_partition_offset& p : o.on_assign(assigned)) {
          rd_kafka_topic_partition_t* e = rd_kafka_topic_partition_list_find(parts, p.topic.c_str(), p.partition);
          if (e != nullptr) e->offset = p.offset;
        }
      }
      const rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
      if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR && o.on_error) o.on_error(internal::from_rd(aerr, "assign"));
    } else {
      if (o.on_revoke) o.on_revoke(partitions_of(parts));
      rd_kafka_assign(rk, nullptr);
    }
  }
};

kafka_consumer::kafka_consumer(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

kafka_consumer::~kafka_consumer() { (void)close(); }

result<std::unique_ptr<kafka_consumer>> kafka_consumer::create(const kafka_client_config& config,
                                                               kafka_consumer_options options) {
  if (options.group_id.empty()) return fail(errc::invalid_argument, "consumer group_id is empty: must be non-empty");
  if (options.auto_offset_reset != "earliest" && options.auto_offset_reset != "latest") {
    return fail(errc::invalid_argument, "auto_offset_reset='" + options.auto_offset_reset +
                                            "': must be earliest or latest");
  }
  auto state = std::make_unique<impl>();
  state->options = std::move(options);
  const kafka_consumer_options& o = state->options;
  const std::uint32_t heartbeat =
      o.heartbeat_interval_ms != 0 ? o.heartbeat_interval_ms : std::max(k_min_heartbeat_ms, o.session_timeout_ms / 5);
  internal::setting_list settings{
      {"group.id", o.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", o.auto_offset_reset},
      {"session.timeout.ms", std::to_string(o.session_timeout_ms)},
      {"heartbeat.interval.ms", std::to_string(heartbeat)},
      {"max.poll.interval.ms", std::to_string(o.max_poll_interval_ms)},
      // Short fetch wait: records become visible to poll_batch() within about this long of arriving
      // at the broker (freshness / latency), at the cost of more fetch requests when idle.
      {"fetch.wait.max.ms", std::to_string(o.fetch_wait_max_ms)},
      {"max.partition.fetch.bytes", std::to_string(o.max_partition_fetch_bytes)},
      {"socket.nagle.disable", o.nagle_disable ? "true" : "false"},
  };
  state->context = internal::make_client_context(config, nullptr);
  auto conf = internal::make_conf(config, settings);
  if (!conf) return std::move(conf).error();
  internal::install_context(conf->get(), state->context.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &consumer_callbacks::on_rebalance);
  auto handle = internal::make_handle(RD_KAFKA_CONSUMER, std::move(*conf), state->context.get());
  if (!handle) return std::move(handle).error();
  state->handle = std::move(*handle);
  std::unique_ptr<kafka_consumer> c(new kafka_consumer(std::move(state)));
  c->impl_->context->owner = c.get();
  // Route all events to the consumer queue so that poll_batch() serves them.
  rd_kafka_poll_set_consumer(c->impl_->handle.get());
  return c;
}

status kafka_consumer::subscribe(const std::vector<std::string>& topics) {
  if (topics.empty()) return fail(errc::invalid_argument, "subscribe: no topics given");
  internal::rd_partitions_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->handle.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "subscribe");
  return {};
}

status kafka_consumer::assign(const std::vector<topic_partition_offset>& positions) {
  auto list = to_list(positions);
  const rd_kafka_resp_err_t err = rd_kafka_assign(impl_->handle.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "assign");
  return {};
}

status kafka_consumer::seek(const std::vector<topic_partition_offset>& positions, std::chrono::milliseconds timeout) {
  auto list = to_list(positions);
  rd_kafka_error_t* e = rd_kafka_seek_partitions(impl_->handle.get(), list.get(), static_cast<int>(timeout.count()));
  if (e != nullptr) {
    error out = fail(errc::invalid_argument, std::string("seek: ") + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return out;
  }
  return first_partition_error(list.get(), "seek");
}

result<std::vector<kafka_message>> kafka_consumer::poll_batch(std::size_t max_messages,
                                                               std::chrono::milliseconds timeout) {
  std::vector<kafka_message> out;
  if (max_messages == 0) return out;
  out.reserve(std::min<std::size_t>(max_messages, 1024));
  int wait_ms = static_cast<int>(timeout.count());
  while (out.size() < max_messages) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->handle.get(), wait_ms);
    if (m == nullptr) {
      if (!out.empty() || wait_ms == 0) break;
      // Only timed out on the first record: done.
      break;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const rd_kafka_resp_err_t err = m->err;
      std::string text = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      char errstr[k_errstr_bytes];
      if (err == RD_KAFKA_RESP_ERR__FATAL &&
          rd_kafka_fatal_error(impl_->handle.get(), errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return fail(errc::unavailable, std::string("consumer fatal error: ") + errstr);
      }
      if (impl_->options.on_error) {
        impl_->options.on_error(fail(internal::from_rd(err, "consume").code(), "consume: " + text));
      }
      wait_ms = 0;
      continue;
    }
    out.emplace_back(m);
    wait_ms = 0;  // after the first record, take only what is already fetched
  }
  return out;
}

status kafka_consumer::commit(const std::vector<topic_partition_offset>& positions) {
  if (positions.empty()) return {};
  auto list = to_list(positions);
  const rd_kafka_resp_err_t err = rd_kafka_commit(impl_->handle.get(), list.get(), 0 /* sync */);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "commit");
  return first_partition_error(list.get(), "commit");
}

result<std::vector<topic_partition_offset>> kafka_consumer::committed(const std::vector<topic_partition>& partitions,
                                                                       std::chrono::milliseconds timeout) {
  auto list = to_list(partitions);
  const rd_kafka_resp_err_t err =
      rd_kafka_committed(impl_->handle.get(), list.get(), static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "committed");
  IVF_TRY(first_partition_error(list.get(), "committed"));
  std::vector<topic_partition_offset> out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    out.push_back({e.topic, e.partition, e.offset < 0 ? k_offset_stored : e.offset});
  }
  return out;
}

status kafka_consumer::pause(const std::vector<topic_partition>& partitions) {
  auto list = to_list(partitions);
  const rd_kafka_resp_err_t err = rd_kafka_pause_partitions(impl_->handle.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "pause");
  return first_partition_error(list.get(), "pause");
}

status kafka_consumer::resume(const std::vector<topic_partition>& partitions) {
  auto list = to_list(partitions);
  const rd_kafka_resp_err_t err = rd_kafka_resume_partitions(impl_->handle.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "resume");
  return first_partition_error(list.get(), "resume");
}

result<std::vector<topic_partition>> kafka_consumer::assignment() {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_assignment(impl_->handle.get(), &raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "assignment");
  internal::rd_partitions_ptr list(raw);
  return partitions_of(list.get());
}

status kafka_consumer::pause_all() {
  auto a = assignment();
  if (!a) return std::move(a).error();
  return a->empty() ? status{} : pause(*a);
}

status kafka_consumer::resume_all() {
  auto a = assignment();
  if (!a) return std::move(a).error();
  return a->empty() ? status{} : resume(*a);
}

result<std::pair<std::int64_t, std::int64_t>> kafka_consumer::watermarks(const std::string& topic,
                                                                         std::int32_t partition,
                                                                         std::chrono::milliseconds timeout) {
  std::int64_t low = 0, high = 0;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(impl_->handle.get(), topic.c_str(), partition,
                                                                   &low, &high, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::from_rd(err, "watermarks of " + topic + "[" + std::to_string(partition) + "]");
  }
  return std::make_pair(low, high);
}

status kafka_consumer::close() {
  if (!impl_ || impl_->closed) return {};
  impl_->closed = true;
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(impl_->handle.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "close");
  return {};
}

}  // namespace ivfstream::connectors
