#include "actors/vector_feed.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "connectors/dead_letter_sink.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"

namespace ivfstream::actors {
namespace {

constexpr std::chrono::milliseconds k_metadata_timeout{10000};
// Freshness: records reach poll() within about this long of arriving at the broker.
constexpr std::uint32_t k_fetch_wait_ms = 2;

}  // namespace

vector_feed::~vector_feed() {
  // Group mode: closing the consumer runs the revoke callback; it must not reach the ingest actor (which
  // is going away) nor members destroyed before consumer_, so close it first, hooks cleared.
  hooks_ = {};
  consumer_.reset();
  if (coverage_) coverage_->publish({});  // no feed: nothing is known about this node's share any more
  sink_.reset();
  if (producer_) (void)producer_->flush(std::chrono::milliseconds(2000));
}

void vector_feed::publish_coverage() const {
  if (!coverage_) return;
  held_partitions share;
  share.topic_partitions = static_cast<std::uint32_t>(std::max(partitions_, 0));
  for (const auto& [topic, p] : assigned_)
    if (topic == topic_ && catching_up_.count(p) == 0) share.held.push_back(p);
  coverage_->publish(std::move(share));
}

result<std::unique_ptr<vector_feed>> vector_feed::open(const service_config& config,
                                                       const std::string& bootstrap_servers, const offset_map& start,
                                                       std::shared_ptr<shard_coverage> coverage) {
  std::unique_ptr<vector_feed> f(new vector_feed());
  f->coverage_ = std::move(coverage);
  f->topic_ = config.kafka.topics.vectors;
  f->dead_letter_topic_ = config.kafka.topics.dead_letter;
  f->limits_ = connectors::make_record_limits(config);
  const auto client = connectors::kafka_client_config::from(config, bootstrap_servers);
  auto producer = connectors::kafka_producer::create(client);
  if (!producer) return std::move(producer).error();
  f->producer_ = std::move(*producer);
  f->sink_ = std::make_unique<connectors::dead_letter_sink>(*f->producer_, f->dead_letter_topic_);
  auto count = f->producer_->partition_count(f->topic_, k_metadata_timeout);
  if (!count) return std::move(count).error();
  f->partitions_ = *count;
  connectors::kafka_consumer_options opts;
  opts.group_id = config.kafka.group_id + ".ingest";
  opts.session_timeout_ms = config.kafka.session_timeout_ms;
  opts.fetch_wait_max_ms = k_fetch_wait_ms;
  f->group_mode_ = config.kafka.group_ingest;
  if (f->group_mode_) {
    // Callbacks run inside poll_batch(), i.e. inside poll() on the owner's thread; f outlives its consumer.
    vector_feed* self = f.get();
    opts.on_assign = [self](const std::vector<connectors::topic_partition>& parts) {
      std::vector<std::pair<std::string, std::int32_t>> tps;
      for (const auto& p : parts) tps.emplace_back(p.topic, p.partition);
      self->assigned_.insert(tps.begin(), tps.end());
      // Not held until replayed up to where the log ends now (an empty log: held at once). When the
      // broker does not say where it ends, held at once as well: never reported whole is worse.
      for (const auto& tp : tps) {
        if (tp.first != self->topic_) continue;
        auto w = self->consumer_->watermarks(tp.first, tp.second, k_metadata_timeout);
        if (w && w->second > w->first) self->catching_up_[tp.second] = w->second;
      }
      const offset_map from = self->hooks_.on_assign ? self->hooks_.on_assign(tps) : offset_map{};
      std::vector<connectors::topic_partition_offset> out;
      for (const auto& tp : tps) {
        const auto it = from.find(tp);
        const std::int64_t at = it != from.end() ? it->second : connectors::k_offset_beginning;
        out.push_back({tp.first, tp.second, at});
        if (at >= 0) self->expected_[tp.second] = at; else self->expected_.erase(tp.second);
        if (tp.first == self->topic_ && at >= 0) (void)self->note_delivered(tp.second, at);
      }
      self->publish_coverage();
      return out;
    };
    opts.on_revoke = [self](const std::vector<connectors::topic_partition>& parts) {
      std::vector<std::pair<std::string, std::int32_t>> tps;
      for (const auto& p : parts) {
        tps.emplace_back(p.topic, p.partition);
        self->assigned_.erase(tps.back());
        if (p.topic == self->topic_) self->catching_up_.erase(p.partition);
      }
      self->publish_coverage();
      if (self->hooks_.on_revoke) self->hooks_.on_revoke(tps);
    };
  }
  auto consumer = connectors::kafka_consumer::create(client, opts);
  if (!consumer) return std::move(consumer).error();
  f->consumer_ = std::move(*consumer);
  if (f->group_mode_) {
    IVF_TRY(f->consumer_->subscribe({f->topic_}));
    return f;
  }
  std::vector<connectors::topic_partition_offset> positions;
  for (std::int32_t p = 0; p < f->partitions_; ++p) {
    auto it = start.find({f->topic_, p});
    positions.push_back({f->topic_, p, it != start.end() ? it->second : connectors::k_offset_beginning});
    f->assigned_.insert({f->topic_, p});
  }
  IVF_TRY(f->consumer_->assign(positions));
  f->publish_coverage();
  // A restart resumes at the checkpoint's offsets; when the broker has since dropped records beyond
  // them (retention), those records can never be indexed: count and report them, never skip silently.
  for (const auto& pos : positions) {
    if (pos.offset < 0) continue;
    f->expected_[pos.partition] = pos.offset;
    auto w = f->consumer_->watermarks(pos.topic, pos.partition, k_metadata_timeout);
    if (!w) return std::move(w).error();
    if (pos.offset < w->first) {
      f->lost(pos.partition, pos.offset, w->first, "at restart (checkpoint offset below the log start)");
      f->expected_[pos.partition] = w->first;
    }
  }
  return f;
}

bool vector_feed::note_delivered(std::int32_t partition, std::int64_t next) {
  const auto it = catching_up_.find(partition);
  if (it == catching_up_.end() || next < it->second) return false;
  catching_up_.erase(it);
  return true;
}

void vector_feed::lost(std::int32_t partition, std::int64_t from, std::int64_t to, const char* when) {
  counters_.lost_records += static_cast<std::uint64_t>(to - from);
  std::cerr << "ivfstream ingest: LOST " << (to - from) << " records of " << topic_ << "[" << partition
            << "] (offsets " << from << ".." << (to - 1) << ") " << when
            << ": the broker dropped them (retention) before they were indexed" << std::endl;
}

void vector_feed::dead_letter(const std::string& topic, std::int32_t partition, std::int64_t offset,
                              const std::uint8_t* key, std::size_t key_size, const std::uint8_t* payload,
                              std::size_t size, const ivfstream::error& why) {
  (void)sink_->reject(topic, partition, offset, key, key_size, payload, size, why);
  counters_.dead_letters = sink_->total();
  counters_.dead_letter_failures = sink_->failed();
}

std::string vector_feed::dead_letter_summary() const { return sink_->summary(); }

result<std::vector<feed_record>> vector_feed::poll(std::size_t max, std::chrono::milliseconds timeout) {
  auto batch = consumer_->poll_batch(max, timeout);
  if (!batch) return std::move(batch).error();
  std::vector<feed_record> out;
  out.reserve(batch->size());
  bool caught_up = false;
  for (auto& m : *batch) {
    ++counters_.records;
    feed_record r;
    r.topic = std::string(m.topic());
    r.partition = m.partition();
    r.offset = m.offset();
    if (auto it = expected_.find(r.partition); it != expected_.end() && r.offset > it->second)
      lost(r.partition, it->second, r.offset, "while reading (gap in the offsets)");
    expected_[r.partition] = r.offset + 1;
    caught_up |= note_delivered(r.partition, r.offset + 1);
    auto decoded = connectors::decode_vector_record(m.payload(), m.payload_size(), limits_);
    if (decoded) {
      r.record = std::move(*decoded);
    } else {
      dead_letter(r.topic, r.partition, r.offset, m.key(), m.key_size(), m.payload(), m.payload_size(),
                  decoded.error());
      r.rejected = std::move(decoded).error();
    }
    out.push_back(std::move(r));
  }
  producer_->poll(std::chrono::milliseconds(0));
  if (caught_up) publish_coverage();
  if (group_mode_)  // a revocation inside poll_batch: records of partitions no longer ours are not indexed
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const feed_record& r) { return assigned_.count({r.topic, r.partition}) == 0; }),
              out.end());
  return out;
}

status vector_feed::commit(const offset_map& offsets) {
  std::vector<connectors::topic_partition_offset> positions;
  for (const auto& [tp, next] : offsets) positions.push_back({tp.first, tp.second, next});
  return consumer_->commit(positions);
}

void vector_feed::reject(const feed_record& r, const ivfstream::error& why) {
  const auto& rec = r.record;
  const auto bytes = rec.kind == connectors::vector_record_kind::upsert
                         ? connectors::encode_upserts(rec.ids.data(), rec.vectors.data(), rec.ids.size(),
                                                      rec.dimension, rec.created_at_us)
                         : connectors::encode_deletes(rec.ids.data(), rec.ids.size(), rec.created_at_us);
  dead_letter(r.topic, r.partition, r.offset, nullptr, 0, bytes.data(), bytes.size(), why);
}

status vector_feed::pause() { return consumer_->pause_all(); }

status vector_feed::resume() { return consumer_->resume_all(); }

void vector_feed::serve_reports() { producer_->poll(std::chrono::milliseconds(0)); }

result<std::vector<std::tuple<std::string, std::int32_t, std::int64_t>>> vector_feed::high_watermarks(
    std::chrono::milliseconds timeout) {
  std::vector<std::tuple<std::string, std::int32_t, std::int64_t>> out;
  for (std::int32_t p = 0; p < partitions_; ++p) {
    auto w = consumer_->watermarks(topic_, p, timeout);
    if (!w) return std::move(w).error();
    out.emplace_back(topic_, p, w->second);
  }
  return out;
}

}  // namespace ivfstream::actors
