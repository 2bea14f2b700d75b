// Checkpoints of a consumer-group node (kafka.group_ingest, issue 3 durability + issue 6 sharding):
// the manifest holds the offset of every topic-partition the node consumed and which ids came from
// each; a restart resumes each topic-partition at its own offset, and when the group now gives some
// of them to another node, the restarted node drops exactly their ids. Every produced id ends up
// present exactly once (over all nodes) with its latest vector.
//
// Ids stay on one topic-partition (id % k_partitions), as keying records by id does: sharding by Kafka
// partition assumes it. Engines run in this process on the embedded broker; session.timeout.ms 3000
// (the mock group needs ~3 s per join).
#define BOOST_TEST_MODULE group_checkpoint_test
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "actors/checkpoint.hpp"
#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/partition_ownership.hpp"
#include "actors/partition_state.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "schemas/checkpoint_generated.h"
#include "tests/actors/actor_test_support.hpp"
#include "tests/index/synthetic_data.hpp"
#include "tests/support/misaligned_vector.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t d = 16;
constexpr std::int32_t k_partitions = 4;
constexpr std::size_t k_per_record = 25;

service_config make_config() { return test::group_node_config(d, k_partitions); }

/// A fresh directory under the temp dir, removed at the end.
struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::string& tag) {
    std::random_device rd;
    path = fs::temp_directory_path() / ("ivfstream-group-ckpt-" + tag + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// What the vectors topic says each id should be now (nullopt = deleted), and how many records each
/// topic-partition holds (= the next offset a node that read everything stages).
struct stream_model {
  std::map<std::uint64_t, std::optional<std::vector<float>>> latest;
  std::map<std::int32_t, std::int64_t> records;
  std::size_t live() const {
    std::size_t n = 0;
    for (const auto& [id, v] : latest) n += v.has_value();
    return n;
  }
};

std::int32_t partition_of(std::uint64_t id) { return static_cast<std::int32_t>(id % k_partitions); }

/// Produces upserts of `ids` (vectors from `seed`) or deletes, each id to its own topic-partition, in
/// records of k_per_record ids; updates the model; waits for delivery.
void produce(const service_config& c, const std::string& bootstrap, const std::vector<std::uint64_t>& ids,
             std::optional<std::uint64_t> seed, stream_model& model) {
  auto p = connectors::kafka_producer::create(connectors::kafka_client_config::from(c, bootstrap));
  BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.error().to_string()));
  std::map<std::int32_t, std::vector<std::uint64_t>> by_partition;
  for (auto id : ids) by_partition[partition_of(id)].push_back(id);
  const auto x = seed ? test::clustered_data(ids.size(), d, 20, *seed) : std::vector<float>{};
  std::map<std::uint64_t, const float*> vec;
  for (std::size_t i = 0; seed && i < ids.size(); ++i) vec[ids[i]] = x.data() + i * d;
  for (const auto& [part, list] : by_partition) {
    for (std::size_t off = 0; off < list.size(); off += k_per_record) {
      const std::size_t cnt = std::min(k_per_record, list.size() - off);
      std::vector<std::uint8_t> rec;
      if (seed) {
        std::vector<float> rows;
        for (std::size_t i = 0; i < cnt; ++i) {
          const float* v = vec.at(list[off + i]);
          rows.insert(rows.end(), v, v + d);
          model.latest[list[off + i]] = std::vector<float>(v, v + d);
        }
        rec = connectors::encode_upserts(list.data() + off, rows.data(), cnt, d);
      } else {
        for (std::size_t i = 0; i < cnt; ++i) model.latest[list[off + i]] = std::nullopt;
        rec = connectors::encode_deletes(list.data() + off, cnt);
      }
      BOOST_REQUIRE((*p)->produce(c.kafka.topics.vectors, nullptr, 0, rec.data(), rec.size(), part));
      ++model.records[part];
    }
  }
  BOOST_REQUIRE((*p)->flush(20s));
  BOOST_REQUIRE_EQUAL((*p)->failed(), 0u);
}

using node = test::kafka_node;

/// Opens an engine on `dir` (restoring its checkpoint if any), trains it when new, attaches Kafka.
node start_node(service_config c, const std::string& bootstrap, const fs::path& dir, const std::vector<float>& training) {
  c.engine.data_dir = dir.string();
  return test::start_kafka_node(c, bootstrap, training);
}

/// Where a node stands, for failure messages: what it read and staged, per topic-partition, and the
/// last Kafka error (a wait that times out then says whether the group never assigned the node any
/// partition, the records never arrived, or they were read and not applied).
std::string describe(const node& n) {
  const auto st = n.stats();
  std::string s = std::to_string(st.vectors) + " vectors, " + std::to_string(st.kafka_records) + " records read, " +
                  std::to_string(st.pending_vectors) + " pending, " + std::to_string(st.dead_letters) +
                  " dead letters, offsets {";
  for (const auto& [t, p, next] : st.offsets) s += " " + t + "/" + std::to_string(p) + "@" + std::to_string(next);
  return s + " }, last error '" + st.last_error + "'";
}

/// Every topic-partition staged by exactly one of `nodes` up to its end, everything applied, and the
/// nodes' live vectors add up to the model's.
bool settled(const std::vector<const node*>& nodes, const stream_model& model, const std::string& topic) {
  std::map<std::int32_t, int> holders;
  std::uint64_t vectors = 0;
  for (const node* n : nodes) {
    const auto st = n->stats();
    if (st.pending_vectors != 0) return false;
    vectors += st.vectors;
    for (const auto& [t, p, next] : st.offsets) {
      if (t != topic) continue;
      const auto it = model.records.find(p);
      if (it == model.records.end() || next != it->second) return false;
      ++holders[p];
    }
  }
  if (holders.size() != model.records.size()) return false;
  for (const auto& [p, h] : holders)
    if (h != 1) return false;
  return vectors == model.live();
}

using test::wait_for;

/// Checkpoints every node, reads the checkpoints back from disk and compares their union with the
/// model: each live id exactly once with its latest vector, no deleted id.
void check_checkpoints_against(const std::vector<std::pair<node*, fs::path>>& nodes, const stream_model& model) {
  std::map<std::uint64_t, int> seen;
  std::size_t wrong = 0, resurrected = 0;
  for (const auto& [n, dir] : nodes) {
    auto seq = n->eng->checkpoint();
    BOOST_REQUIRE_MESSAGE(seq, (seq ? "" : seq.error().to_string()));
    const auto m = actors::latest_checkpoint(dir.string());
    BOOST_REQUIRE(m);
    BOOST_TEST(m->group_ingest);
    for (std::uint32_t p = 0; p < m->num_partition_actors; ++p) {
      actors::partition_state part(p, m->num_partition_actors);
      BOOST_REQUIRE(part.install(m->codebooks));
      auto loaded = part.load(m->partition_files[p]);
      BOOST_REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.error().to_string()));
      part.for_each([&](std::uint64_t id, std::uint32_t, const std::uint8_t*, const float* v) {
        ++seen[id];
        const auto it = model.latest.find(id);
        if (it == model.latest.end() || !it->second)
          ++resurrected;
        else if (!v || !std::equal(v, v + d, it->second->begin()))
          ++wrong;
      });
    }
  }
  std::size_t lost = 0, duplicated = 0;
  for (const auto& [id, v] : model.latest) {
    if (!v) continue;
    const auto it = seen.find(id);
    if (it == seen.end())
      ++lost;
    else if (it->second > 1)
      ++duplicated;
  }
  BOOST_TEST(lost == 0u);
  BOOST_TEST(duplicated == 0u);
  BOOST_TEST(wrong == 0u);
  BOOST_TEST(resurrected == 0u);
}

std::vector<std::uint64_t> every(std::uint64_t from, std::uint64_t to, std::uint64_t step) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t id = from; id < to; id += step) out.push_back(id);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ownership_round_trips_and_a_restored_partition_not_assigned_again_is_released) {
  actors::partition_ownership own;
  const actors::topic_partition_key p0{"v", 0}, p1{"v", 1}, p2{"v", 2};
  own.assign({p0, p1, p2});
  const std::uint64_t a[] = {1, 2}, b[] = {3};
  own.note_upsert(p0, a, 2);
  own.note_upsert(p1, b, 1);
  const auto held = own.ids_by_partition();
  BOOST_REQUIRE_EQUAL(held.size(), 3u);  // p2 owned without ids is listed too
  BOOST_TEST(held.at(p0) == std::vector<std::uint64_t>({1, 2}), boost::test_tools::per_element());
  BOOST_TEST(held.at(p2).empty());

  actors::partition_ownership restarted;
  restarted.restore(held);
  BOOST_TEST(!restarted.owns(p0));  // nothing owned until the group assigns
  auto [ids, gone] = restarted.assign({p1});
  BOOST_TEST(ids == std::vector<std::uint64_t>({1, 2}), boost::test_tools::per_element());
  BOOST_TEST((gone == std::vector<actors::topic_partition_key>({p0, p2})));
  BOOST_TEST(restarted.ids_of(p1) == 1u);
}

/// Manifest 1 of a group node with one partition actor (its file in `dir`), codebooks trained on a
/// fixed set, offset 7 on topic-partition v:0, owned ids to be set by the caller.
actors::checkpoint_manifest group_manifest(const fs::path& dir) {
  actors::checkpoint_manifest m;
  m.sequence = 1;
  m.num_partition_actors = 1;
  const auto training = test::clustered_data(2000, d, 20, 3);
  service_config c = make_config();
  auto cb = codebook_set::train(c.index, training.data(), training.size() / d);
  BOOST_REQUIRE_MESSAGE(cb, (cb ? "" : cb.error().to_string()));
  m.codebooks = std::move(*cb);
  m.partition_files = {(dir / "checkpoint-1" / "partition-0.ivps").string()};
  m.offsets[{"v", 0}] = 7;
  m.group_ingest = true;
  return m;
}

BOOST_AUTO_TEST_CASE(manifest_keeps_the_ids_of_each_topic_partition) {
  temp_dir dir("manifest");
  auto m = group_manifest(dir.path);
  m.offsets[{"v", 1}] = 3;
  m.owned_ids[{"v", 0}] = {5, 9};  // {"v", 1}: owned, no ids left
  BOOST_REQUIRE(actors::write_manifest(dir.path.string(), m));
  auto back = actors::read_manifest(dir.path.string(), 1);
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST(back->group_ingest);
  BOOST_REQUIRE_EQUAL(back->owned_ids.size(), 2u);
  BOOST_TEST(back->owned_ids.at({"v", 0}) == std::vector<std::uint64_t>({5, 9}), boost::test_tools::per_element());
  BOOST_TEST(back->owned_ids.at({"v", 1}).empty());
  BOOST_TEST(back->offsets.at({"v", 0}) == 7);
}

// Regression test for af28a49: in a manifest whose owned_ids (8-byte) start 4 bytes off an 8-byte
// boundary (a valid FlatBuffers file: the Verifier checks only the 4-byte alignment of the length
// prefix), read_manifest read them in place, a misaligned load (UBSan, CI's ASan+UBSan stage); it now
// copies them out. A group manifest with four owned ids, that vector moved to such an offset
// (tests/support/misaligned_vector.hpp) must read back the same ids.
BOOST_AUTO_TEST_CASE(manifest_with_owned_ids_off_8_byte_alignment_reads_the_same_ids) {
  namespace sc = ivfstream::schema;
  temp_dir dir("manifest-misaligned");
  auto m = group_manifest(dir.path);
  const std::vector<std::uint64_t> ids = {5, 9, 0x0123456789abcdefULL, 42};
  m.owned_ids[{"v", 0}] = ids;
  BOOST_REQUIRE(actors::write_manifest(dir.path.string(), m));
  const std::string path = actors::manifest_path(dir.path.string(), 1);
  std::vector<std::uint8_t> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  BOOST_REQUIRE(!bytes.empty());
  const auto* offsets = sc::GetManifest(bytes.data())->offsets();
  BOOST_REQUIRE(offsets && offsets->size() == 1u && offsets->Get(0)->owned_ids());
  // TopicOffset derives privately from flatbuffers::Table, at the same address.
  const std::uint8_t* field =
      reinterpret_cast<const flatbuffers::Table*>(offsets->Get(0))->GetAddressOf(sc::TopicOffset::VT_OWNED_IDS);
  BOOST_REQUIRE(field);
  const std::size_t at = test::move_vector_off_8_byte_alignment(
      bytes, static_cast<std::size_t>(field - bytes.data()), sizeof(std::uint64_t));
  BOOST_REQUIRE_EQUAL(at % 8, 4u);
  // The input is the case claimed: a valid manifest whose owned_ids start off 8-byte alignment.
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  BOOST_REQUIRE(sc::VerifyManifestBuffer(v));
  const auto* moved = sc::GetManifest(bytes.data())->offsets()->Get(0)->owned_ids();
  BOOST_REQUIRE_EQUAL(static_cast<std::size_t>(reinterpret_cast<const std::uint8_t*>(moved->Data()) - bytes.data()), at);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto back = actors::read_manifest(dir.path.string(), 1);
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_REQUIRE_EQUAL(back->owned_ids.size(), 1u);
  BOOST_TEST(back->owned_ids.at({"v", 0}) == ids, boost::test_tools::per_element());
  BOOST_TEST(back->offsets.at({"v", 0}) == 7);
}

BOOST_AUTO_TEST_CASE(restarted_group_node_resumes_its_partitions_and_drops_those_given_away) {
  const service_config c = make_config();
  auto b = connectors::embedded_broker::start(c);
  BOOST_REQUIRE_MESSAGE(b, (b ? "" : b.error().to_string()));
  const std::string bootstrap = (*b)->bootstrap_servers();
  const std::string topic = c.kafka.topics.vectors;
  const auto training = test::clustered_data(3000, d, 20, 3);
  temp_dir dir_a("a"), dir_b("b");
  stream_model model;

  // 1. Node A alone indexes ids 1..800 (a third replaced, every 7th deleted) and checkpoints.
  produce(c, bootstrap, every(1, 801, 1), 11, model);
  produce(c, bootstrap, every(1, 801, 3), 12, model);
  produce(c, bootstrap, every(1, 801, 7), std::nullopt, model);
  node a = start_node(c, bootstrap, dir_a.path, training);
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return settled({&a}, model, topic); }, 150s),
                        "node a alone: " << describe(a) << "; want " << model.live() << " vectors");
  auto seq = a.eng->checkpoint();
  BOOST_REQUIRE_MESSAGE(seq, (seq ? "" : seq.error().to_string()));
  const auto records_before = model.records;
  a.stop();  // no final checkpoint: a crash right after checkpoint 1

  // 2. More records while A is down; A restarts alone: each partition resumes at its own offset, so A
  // reads exactly the records produced since (none twice).
  produce(c, bootstrap, every(2, 1001, 5), 13, model);  // replacements and new ids 801..1000
  produce(c, bootstrap, every(3, 801, 11), std::nullopt, model);
  std::int64_t new_records = 0;
  for (const auto& [p, n] : model.records) new_records += n - records_before.at(p);
  a = start_node(c, bootstrap, dir_a.path, training);
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return settled({&a}, model, topic); }, 150s),
                        "node a after restart: " << describe(a) << "; want " << model.live() << " vectors");
  {  // resumed at the checkpoint's offsets: the new records, not a replay from the beginning (a
     // rebalance inside a poll may read a few records twice, never the whole log)
    std::int64_t old_records = 0;
    for (const auto& [p, n] : records_before) old_records += n;
    const auto read = static_cast<std::int64_t>(a.stats().kafka_records);
    BOOST_TEST(read >= new_records);
    BOOST_TEST(read < new_records + old_records);
  }
  check_checkpoints_against({{&a, dir_a.path}}, model);
  a.stop();

  // 3. B joins while A is down and takes every partition; A restarts from a checkpoint that holds all
  // four, gets some back, resumes those and drops the ids of the rest (B replays them).
  node bn = start_node(c, bootstrap, dir_b.path, training);
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return settled({&bn}, model, topic); }, 150s),
                        "node b alone: " << describe(bn) << "; want " << model.live() << " vectors");
  a = start_node(c, bootstrap, dir_a.path, training);
  produce(c, bootstrap, every(4, 1001, 6), 14, model);  // replacements for both nodes
  const bool split = wait_for(
      [&] {
        if (!settled({&a, &bn}, model, topic)) return false;
        return a.stats().vectors > 0 && bn.stats().vectors > 0;
      },
      150s);
  BOOST_REQUIRE_MESSAGE(split, "after A's restart: a: " << describe(a) << "; b: " << describe(bn) << "; want "
                                                        << model.live() << " vectors in all");
  check_checkpoints_against({{&a, dir_a.path}, {&bn, dir_b.path}}, model);
  a.stop();
  bn.stop();
}
