#include "actors/codebook_topic.hpp"

#include <cstring>

#include <flatbuffers/flatbuffers.h>

#include "actors/peer_codec.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "index/codebook_codec.hpp"
#include "schemas/codebooks_generated.h"

namespace ivfstream {
namespace {

constexpr std::uint32_t k_record_format_version = 1;
constexpr const char* k_record_key = "codebooks";  // one key: a compacted topic keeps the newest
constexpr std::chrono::milliseconds k_metadata_timeout{10000};
// A record carries nlist × d + M × 2^nbits × d/M (+ d × d) floats: far below this for any index
// that fits a node (the FlatBuffer itself is bounded by 2 GiB).
constexpr std::size_t k_max_record_bytes = std::size_t{1} << 30;
// Verifier bounds: the record is a few flat tables.
constexpr flatbuffers::uoffset_t k_max_depth = 8;
constexpr flatbuffers::uoffset_t k_max_tables = 64;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<std::uint8_t> encode_codebook_record(const codebook_set& cb, const std::string& publisher) {
  flatbuffers::FlatBufferBuilder fbb(1024 + cb.memory_bytes());
  auto params = write_index_params(fbb, cb.params());
  auto books = write_codebooks(fbb, cb);
  auto pub = fbb.CreateString(publisher);
  schema::CodebookRecordBuilder b(fbb);
  b.add_format_version(k_record_format_version);
  b.add_params(params);
  b.add_codebooks(books);
  b.add_fingerprint(actors::codebook_fingerprint(cb));
  b.add_publisher(pub);
  b.add_published_unix_ms(unix_ms());
  fbb.Finish(b.Finish(), schema::CodebookRecordIdentifier());
  return std::vector<std::uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

result<codebook_record> decode_codebook_record(const std::uint8_t* bytes, std::size_t size) {
  if (bytes == nullptr || size < 8 || size > k_max_record_bytes)
    return fail(errc::corrupt_data, "CodebookRecord: " + std::to_string(size) + " bytes is not a record size (8.." +
                                        std::to_string(k_max_record_bytes) + ")");
  if (!schema::CodebookRecordBufferHasIdentifier(bytes))
    return fail(errc::corrupt_data, "CodebookRecord: file identifier is not 'IVCB'");
  // The payload of a Kafka record is not necessarily aligned: verify and read an aligned copy.
  std::vector<std::uint64_t> aligned((size + 7) / 8);
  std::memcpy(aligned.data(), bytes, size);
  const auto* data = reinterpret_cast<const std::uint8_t*>(aligned.data());
  flatbuffers::Verifier verifier(data, size, k_max_depth, k_max_tables);
  if (!schema::VerifyCodebookRecordBuffer(verifier))
    return fail(errc::corrupt_data, "CodebookRecord: FlatBuffers Verifier rejected the " + std::to_string(size) +
                                        " bytes (truncated or malformed)");
  const auto* r = schema::GetCodebookRecord(data);
  if (r->format_version() != k_record_format_version)
    return fail(errc::version_mismatch, "CodebookRecord format_version=" + std::to_string(r->format_version()) +
                                            ": this node reads version " + std::to_string(k_record_format_version));
  auto params = read_index_params(r->params());
  if (!params) return fail(errc::corrupt_data, "CodebookRecord " + params.error().message());
  auto cb = read_codebooks(*params, r->codebooks());
  if (!cb) return fail(errc::corrupt_data, "CodebookRecord " + cb.error().message());
  codebook_record out;
  out.codebooks = std::move(*cb);
  out.fingerprint = r->fingerprint();
  const std::uint64_t actual = actors::codebook_fingerprint(*out.codebooks);
  if (actual != out.fingerprint)
    return fail(errc::corrupt_data, "CodebookRecord fingerprint=" + std::to_string(out.fingerprint) +
                                        ": the codebooks it carries have fingerprint " + std::to_string(actual));
  out.publisher = r->publisher() ? r->publisher()->str() : std::string();
  out.published_unix_ms = r->published_unix_ms();
  return out;
}

status publish_codebooks(const service_config& config, const std::string& bootstrap_servers, const codebook_set& cb,
                         const std::string& publisher, std::chrono::milliseconds timeout) {
  auto producer = connectors::kafka_producer::create(connectors::kafka_client_config::from(config, bootstrap_servers));
  if (!producer) return std::move(producer).error();
  const auto bytes = encode_codebook_record(cb, publisher);
  IVF_TRY((*producer)->produce(config.kafka.topics.codebooks, k_record_key, std::char_traits<char>::length(k_record_key),
                               bytes.data(), bytes.size()));
  IVF_TRY((*producer)->flush(timeout));
  if ((*producer)->failed() != 0)
    return fail(errc::unavailable, "codebooks topic '" + config.kafka.topics.codebooks + "': the record was not delivered");
  return {};
}

result<std::unique_ptr<codebook_reader>> codebook_reader::open(const service_config& config,
                                                               const std::string& bootstrap_servers) {
  const auto client = connectors::kafka_client_config::from(config, bootstrap_servers);
  auto probe = connectors::kafka_producer::create(client);
  if (!probe) return std::move(probe).error();
  auto count = (*probe)->partition_count(config.kafka.topics.codebooks, k_metadata_timeout);
  if (!count) return std::move(count).error();
  connectors::kafka_consumer_options opts;
  opts.group_id = config.kafka.group_id + ".codebooks";  // never committed: every start reads it all
  opts.auto_offset_reset = "earliest";
  auto consumer = connectors::kafka_consumer::create(client, opts);
  if (!consumer) return std::move(consumer).error();
  std::vector<connectors::topic_partition_offset> positions;
  for (std::int32_t p = 0; p < *count; ++p)
    positions.push_back({config.kafka.topics.codebooks, p, connectors::k_offset_beginning});
  IVF_TRY((*consumer)->assign(positions));
  std::unique_ptr<codebook_reader> r(new codebook_reader());
  for (std::int32_t p = 0; p < *count; ++p) {
    auto marks = (*consumer)->watermarks(config.kafka.topics.codebooks, p, k_metadata_timeout);
    if (!marks) return std::move(marks).error();
    r->end_.push_back(marks->second);
    r->next_.push_back(marks->first);  // nothing below the low watermark is left to read
  }
  r->consumer_ = std::move(*consumer);
  return r;
}

bool codebook_reader::at_end() const noexcept {
  for (std::size_t p = 0; p < end_.size(); ++p)
    if (next_[p] < end_[p]) return false;
  return true;
}

codebook_reader::~codebook_reader() = default;

result<std::optional<codebook_record>> codebook_reader::poll(std::chrono::milliseconds timeout) {
  auto batch = consumer_->poll_batch(64, timeout);
  if (!batch) return std::move(batch).error();
  for (const auto& m : *batch) {
    const auto p = static_cast<std::size_t>(m.partition());
    if (p < next_.size()) next_[p] = std::max(next_[p], m.offset() + 1);
    auto rec = decode_codebook_record(m.payload(), m.payload_size());
    if (!rec) {
      ++skipped_;
      continue;
    }
    if (!newest_ || rec->codebooks->version() >= newest_->codebooks->version()) newest_ = std::move(*rec);
  }
  return newest_;
}

result<std::unique_ptr<codebook_sync>> codebook_sync::start(engine& e, const service_config& config,
                                                            const std::string& bootstrap_servers, bool leader,
                                                            std::string publisher, std::chrono::milliseconds interval) {
  std::unique_ptr<codebook_sync> s(new codebook_sync());
  s->engine_ = &e;
  s->config_ = config;
  s->bootstrap_ = bootstrap_servers;
  s->leader_ = leader;
  s->publisher_ = std::move(publisher);
  s->interval_ = interval;
  auto r = codebook_reader::open(config, bootstrap_servers);
  if (!r) return std::move(r).error();
  s->reader_ = std::move(*r);
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

codebook_sync::~codebook_sync() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string codebook_sync::last_error() const {
  std::lock_guard<std::mutex> lock(error_mutex_);
  return last_error_;
}

void codebook_sync::run() {
  auto note = [this](const error& e) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    last_error_ = e.to_string();
  };
  std::uint64_t published = 0;  // newest version this node published
  while (!stop_) {
    // Poll the topic (this also paces the loop).
    auto newest = reader_->poll(interval_);
    if (!newest) {
      note(newest.error());
      std::this_thread::sleep_for(interval_);
      continue;
    }
    auto have = engine_->codebooks();
    if (!have) {
      note(have.error());
      continue;
    }
    const std::uint64_t topic_version = *newest ? (*newest)->codebooks->version() : 0;
    topic_version_ = topic_version;
    const std::uint64_t own_version = *have ? (*have)->version() : 0;
    if (topic_version > own_version) {
      caught_up_ = false;
      // Untrained: install; trained on an older version: hot swap to the newer one (engine.hpp).
      if (auto st = engine_->install_codebooks((*newest)->codebooks); !st) {
        note(st.error());  // e.g. a swap running: retried on the next round
        std::this_thread::sleep_for(interval_);
      } else {
        version_ = topic_version;
      }
      continue;
    }
    if (*newest && topic_version == own_version &&
        actors::codebook_fingerprint(**have) != (*newest)->fingerprint) {
      // The same version with other contents (a node that trained alone) cannot be fixed by a swap:
      // peers answer version_mismatch until a newer version is published.
      note(fail(errc::version_mismatch, "codebooks topic has version " + std::to_string(topic_version) + " from " +
                                            (*newest)->publisher + " with other contents than this node's"));
      if (!leader_) std::this_thread::sleep_for(interval_);  // poll() returns at once while nothing new arrives
    }
    const bool at_end = reader_->at_end();
    caught_up_ = at_end;
    if (own_version > version_) version_ = own_version;
    // The leader publishes what it trained, once it has read the whole topic (so a newer version there
    // would have been installed above instead).
    if (leader_ && at_end && *have && own_version > topic_version && own_version > published) {
      if (auto st = publish_codebooks(config_, bootstrap_, **have, publisher_, std::chrono::milliseconds(10000)); !st) {
        note(st.error());
      } else {
        published = own_version;
        version_ = own_version;
      }
    }
  }
}

}  // namespace ivfstream
