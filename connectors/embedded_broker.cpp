#include "connectors/embedded_broker.hpp"

#include <algorithm>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "connectors/internal/rd_client.hpp"

namespace ivfstream::connectors {

namespace {
constexpr int k_max_brokers = 16;
constexpr std::int32_t k_max_partitions = 100000;
constexpr int k_max_replication = 3;
}  // namespace

struct embedded_broker::impl {
  std::unique_ptr<internal::client_context> context;
  internal::rd_handle_ptr handle;  // the mock cluster's book-keeping client; must outlive the cluster
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    // handle destroyed after the cluster (member order).
  }
};

std::vector<topic_spec> service_topics(const service_config& config) {
  const auto p = static_cast<std::int32_t>(config.kafka.topic_partitions);
  const auto& t = config.kafka.topics;
  return {{t.vectors, p}, {t.queries, p}, {t.replies, p}, {t.dead_letter, p}, {t.codebooks, 1}};
}

embedded_broker::embedded_broker(std::unique_ptr<impl> state, std::string bootstrap, int broker_count)
    : impl_(std::move(state)), bootstrap_(std::move(bootstrap)), broker_count_(broker_count) {}

embedded_broker::~embedded_broker() = default;

result<std::unique_ptr<embedded_broker>> embedded_broker::start(int broker_count,
                                                                 const std::vector<topic_spec>& topics) {
  if (broker_count < 1 || broker_count > k_max_brokers) {
    return fail(errc::invalid_argument, "embedded broker_count=" + std::to_string(broker_count) +
                                            ": must be in 1.." + std::to_string(k_max_brokers));
  }
  auto state = std::make_unique<impl>();
  kafka_client_config cfg;
  cfg.client_id = "ivfstream-embedded-broker";
  state->context = internal::make_client_context(cfg, nullptr);
  auto conf = internal::make_conf(cfg, {});
  if (!conf) return std::move(conf).error();
  internal::install_context(conf->get(), state->context.get());
  auto handle = internal::make_handle(RD_KAFKA_PRODUCER, std::move(*conf), state->context.get());
  if (!handle) return std::move(handle).error();
  state->handle = std::move(*handle);
  state->cluster = rd_kafka_mock_cluster_new(state->handle.get(), broker_count);
  if (state->cluster == nullptr) {
    return fail(errc::unavailable, "embedded broker: rd_kafka_mock_cluster_new failed to start " +
                                       std::to_string(broker_count) + " brokers (no free port on 127.0.0.1?)");
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(state->cluster);
  std::unique_ptr<embedded_broker> broker(new embedded_broker(std::move(state), std::move(bootstrap), broker_count));
  for (const topic_spec& t : topics) IVF_TRY(broker->create_topic(t.name, t.partitions));
  return broker;
}

result<std::unique_ptr<embedded_broker>> embedded_broker::start(const service_config& config) {
  return start(static_cast<int>(config.kafka.embedded_broker_count), service_topics(config));
}

status embedded_broker::create_topic(const std::string& name, std::int32_t partitions) {
  if (partitions < 1 || partitions > k_max_partitions) {
    return fail(errc::invalid_argument, "topic '" + name + "' partitions=" + std::to_string(partitions) +
                                            ": must be in 1.." + std::to_string(k_max_partitions));
  }
  const int replication = std::min(broker_count_, k_max_replication);
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, replication);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::from_rd(err, "embedded broker: create topic '" + name + "'");
  return {};
}

}  // namespace ivfstream::connectors
