#include "connectors/kafka_producer.hpp"

#include "connectors/internal/rd_client.hpp"

namespace ivfstream::connectors {

namespace {
constexpr std::chrono::milliseconds k_destructor_flush{5000};
constexpr int k_queue_full_poll_ms = 1;
constexpr std::size_t k_errstr_bytes = 512;
}  // namespace

struct kafka_producer::impl {
  kafka_producer_options options;
  std::unique_ptr<internal::client_context> context;
  internal::rd_handle_ptr handle;
};

// Delivery-report trampoline: runs on the thread inside poll()/flush().
struct producer_callbacks {
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* /*opaque*/) {
    auto* ctx = static_cast<internal::client_context*>(rd_kafka_opaque(rk));
    auto* self = static_cast<kafka_producer*>(ctx->owner);
    if (self == nullptr) return;
    delivery_report r;
    r.topic = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "";
    r.partition = m->partition;
    r.tag = reinterpret_cast<std::uintptr_t>(m->_private);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      r.failure = internal::from_rd(m->err, "delivery to '" + r.topic + "'");
      self->failed_.fetch_add(1, std::memory_order_relaxed);
    } else {
      r.offset = m->offset;
      self->delivered_.fetch_add(1, std::memory_order_relaxed);
    }
    if (self->impl_->options.on_delivery) self->impl_->options.on_delivery(r);
  }
};

kafka_producer::kafka_producer(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

kafka_producer::~kafka_producer() {
  if (impl_ && impl_->handle) (void)flush(k_destructor_flush);
}

result<std::unique_ptr<kafka_producer>> kafka_producer::create(const kafka_client_config& config,
                                                               kafka_producer_options options) {
  auto state = std::make_unique<impl>();
  state->options = std::move(options);
  const kafka_producer_options& o = state->options;
  internal::setting_list settings{
      {"enable.idempotence", o.idempotent ? "true" : "false"},
      {"linger.ms", std::to_string(o.linger_ms)},
      {"delivery.timeout.ms", std::to_string(o.delivery_timeout_ms)},
      {"queue.buffering.max.messages", std::to_string(o.queue_max_messages)},
      {"message.max.bytes", std::to_string(o.message_max_bytes)},
      {"socket.nagle.disable", o.nagle_disable ? "true" : "false"},
  };
  state->context = internal::make_client_context(config, nullptr);
  auto conf = internal::make_conf(config, settings);
  if (!conf) return std::move(conf).error();
  internal::install_context(conf->get(), state->context.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &producer_callbacks::on_delivery);
  auto handle = internal::make_handle(RD_KAFKA_PRODUCER, std::move(*conf), state->context.get());
  if (!handle) return std::move(handle).error();
  state->handle = std::move(*handle);
  std::unique_ptr<kafka_producer> p(new kafka_producer(std::move(state)));
  p->impl_->context->owner = p.get();  // reports before this line cannot exist: nothing produced yet
  return p;
}

status kafka_producer::produce(std::string_view topic, const void* key, std::size_t key_size, const void* payload,
                               std::size_t payload_size, std::int32_t partition, std::uint64_t tag) {
  const std::string topic_name(topic);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(impl_->options.queue_full_wait_ms);
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->handle.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(const_cast<void*>(key), key_size),
        RD_KAFKA_V_VALUE(const_cast<void*>(payload), payload_size),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline) {
      return internal::from_rd(err, "produce to '" + topic_name + "' (" + std::to_string(payload_size) + " bytes)");
    }
    rd_kafka_poll(impl_->handle.get(), k_queue_full_poll_ms);
  }
}

int kafka_producer::poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(impl_->handle.get(), static_cast<int>(timeout.count()));
}

status kafka_producer::flush(std::chrono::milliseconds timeout) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(impl_->handle.get(), static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return fail(errc::timeout, "flush: " + std::to_string(outstanding()) + " records still outstanding after " +
                                   std::to_string(timeout.count()) + " ms");
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "flush");
  return {};
}

std::size_t kafka_producer::outstanding() const {
  const int n = rd_kafka_outq_len(impl_->handle.get());
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::optional<error> kafka_producer::fatal_error() const {
  char errstr[k_errstr_bytes];
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(impl_->handle.get(), errstr, sizeof errstr);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return fail(errc::unavailable, std::string("producer fatal error: ") + errstr);
}

result<std::int32_t> kafka_producer::partition_count(const std::string& topic, std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(impl_->handle.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(impl_->handle.get(), 0, rkt, &md, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "metadata of '" + topic + "'");
  std::int32_t n = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (md->topic_cnt == 1) {
    n = md->topics[0].partition_cnt;
    topic_err = md->topics[0].err;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(topic_err, "metadata of '" + topic + "'");
  return n;
}

}  // namespace ivfstream::connectors
