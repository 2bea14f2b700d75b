// partition_state + query_gather: P partitions holding lists l % P answer exactly what one ivfpq_index
// answers on the same data; upserts move ids between partitions; snapshots round-trip.
#define BOOST_TEST_MODULE partition_state
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <flatbuffers/flatbuffers.h>

#include "actors/ingest_state.hpp"
#include "actors/partition_state.hpp"
#include "actors/query_state.hpp"
#include "index/ivfpq_index.hpp"
#include "schemas/partition_snapshot_generated.h"
#include "tests/index/synthetic_data.hpp"
#include "tests/support/misaligned_vector.hpp"

using namespace ivfstream;
using namespace ivfstream::actors;

namespace {

constexpr std::size_t d = 16, n = 3000, P = 3;

index_params small_params(metric m = metric::l2) {
  index_params p;
  p.dimension = d;
  p.metric = m;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

struct cluster {
  explicit cluster(metric m = metric::l2) : data(test::clustered_data(n, d, 20, 7)), ids(test::iota_ids(n, 1000)) {
    ingest = std::make_unique<ingest_state>(P);
    BOOST_REQUIRE(ingest->create_index(small_params(m)));
    auto trained = ingest->train(data.data(), n);
    BOOST_REQUIRE(trained);
    for (std::uint32_t p = 0; p < P; ++p) {
      parts.push_back(std::make_unique<partition_state>(p, P));
      BOOST_REQUIRE(parts[p]->install(trained->new_codebooks));
    }
    apply(ingest->upsert(ids.data(), data.data(), n, d));
  }
  void apply(result<routed_batch> b) {
    BOOST_REQUIRE(b);
    for (std::uint32_t p = 0; p < P; ++p) BOOST_REQUIRE(parts[p]->apply(b->updates[p]));
  }
  search_response search(const float* q, const search_params& sp) {
    auto cb = ingest->codebooks();
    auto plan = cb->plan_query(q, sp.nprobes);
    BOOST_REQUIRE(plan);
    auto shared = std::make_shared<const query_plan>(std::move(*plan));
    auto reqs = scatter(cb, shared, sp, P);
    std::vector<std::uint32_t> asked;
    for (auto& r : reqs) asked.push_back(r.first);
    query_gather g(sp, asked);
    for (auto& [p, r] : reqs) {
      auto hits = parts[p]->scan(r);
      BOOST_REQUIRE(hits);
      g.add(scan_reply{p, std::move(*hits), std::nullopt});
    }
    BOOST_REQUIRE(g.done());
    return g.finish();
  }
  std::vector<float> data;
  std::vector<std::uint64_t> ids;
  std::unique_ptr<ingest_state> ingest;
  std::vector<std::unique_ptr<partition_state>> parts;
};

void check_equal_to_single_index(metric m, const search_params& sp) {
  cluster c(m);
  auto idx = ivfpq_index::create(small_params(m));
  BOOST_REQUIRE(idx);
  BOOST_REQUIRE(idx->train(c.data.data(), n));
  BOOST_REQUIRE(idx->add(c.ids.data(), c.data.data(), n));
  const auto queries = test::clustered_data(20, d, 20, 99);
  for (std::size_t i = 0; i < 20; ++i) {
    auto want = idx->search(queries.data() + i * d, sp);
    BOOST_REQUIRE(want);
    auto got = c.search(queries.data() + i * d, sp);
    BOOST_REQUIRE(!got.failure);
    BOOST_CHECK(!got.partial);
    BOOST_REQUIRE_EQUAL(got.hits.size(), want->size());
    for (std::size_t j = 0; j < want->size(); ++j) {
      BOOST_CHECK_EQUAL(got.hits[j].id, (*want)[j].id);
      BOOST_CHECK_EQUAL(got.hits[j].distance, (*want)[j].distance);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(partitions_answer_what_one_index_answers_l2) {
  check_equal_to_single_index(metric::l2, search_params{10, 4, 0});
}

BOOST_AUTO_TEST_CASE(partitions_answer_what_one_index_answers_with_refine) {
  check_equal_to_single_index(metric::l2, search_params{10, 5, 3});
}

BOOST_AUTO_TEST_CASE(partitions_answer_what_one_index_answers_cosine_and_dot) {
  check_equal_to_single_index(metric::cosine, search_params{7, 6, 2});
  check_equal_to_single_index(metric::dot, search_params{5, 16, 0});
}

BOOST_AUTO_TEST_CASE(every_list_lives_in_the_partition_it_maps_to) {
  cluster c;
  std::size_t total = 0;
  for (const auto& p : c.parts) {
    total += p->size();
    p->for_each([&](std::uint64_t, std::uint32_t list, const std::uint8_t*, const float* v) {
      BOOST_CHECK_EQUAL(list % P, p->index());
      BOOST_CHECK(v != nullptr);
    });
  }
  BOOST_CHECK_EQUAL(total, n);
}

BOOST_AUTO_TEST_CASE(upsert_moving_an_id_leaves_exactly_one_copy) {
  cluster c;
  // Re-upsert every id with another row's vector: most move to another list, many to another partition.
  std::vector<float> moved(n * d);
  for (std::size_t i = 0; i < n; ++i) std::copy_n(c.data.data() + ((i + 37) % n) * d, d, moved.data() + i * d);
  c.apply(c.ingest->upsert(c.ids.data(), moved.data(), n, d));
  std::size_t total = 0;
  for (const auto& p : c.parts) total += p->size();
  BOOST_CHECK_EQUAL(total, n);
  for (std::size_t i = 0; i < n; i += 97) {
    std::size_t holders = 0;
    for (const auto& p : c.parts)
      if (const float* v = p->vector_of(c.ids[i])) {
        ++holders;
        for (std::size_t j = 0; j < d; ++j) BOOST_REQUIRE_EQUAL(v[j], moved[i * d + j]);
      }
    BOOST_CHECK_EQUAL(holders, 1u);
  }
  // The moved vector is found at distance 0 (exact, with refine).
  auto r = c.search(moved.data() + 5 * d, search_params{1, 16, 4});
  BOOST_REQUIRE_EQUAL(r.hits.size(), 1u);
  BOOST_CHECK_EQUAL(r.hits[0].distance, 0.f);
}

// A steady upsert stream over the same ids: the partitions' vector stores are collected, so their rows
// stay bounded by about twice the live vectors (gc fraction 0.5) instead of growing with every upsert,
// and every id still refines against its latest vector.
BOOST_AUTO_TEST_CASE(vector_store_is_collected_under_repeated_upserts) {
  cluster c;
  std::vector<float> latest = c.data;
  for (std::size_t round = 1; round <= 6; ++round) {
    for (std::size_t i = 0; i < n; ++i)
      std::copy_n(c.data.data() + ((i + 37 * round) % n) * d, d, latest.data() + i * d);
    c.apply(c.ingest->upsert(c.ids.data(), latest.data(), n, d));
  }
  std::uint64_t rows = 0, live = 0, collections = 0;
  for (const auto& p : c.parts) {
    const auto s = p->stats();
    rows += s.vector_rows;
    live += s.live_vectors;
    collections += s.vector_collections;
    BOOST_CHECK_LE(s.vector_rows, 2 * s.live_vectors + n);  // at most one uncollected batch over 2× live
  }
  BOOST_CHECK_EQUAL(live, n);
  BOOST_CHECK_GT(collections, 0u);
  BOOST_CHECK_LT(rows, 7 * n);  // without collection: 7 rows per id
  for (std::size_t i = 0; i < n; i += 31) {
    std::size_t holders = 0;
    for (const auto& p : c.parts)
      if (const float* v = p->vector_of(c.ids[i])) {
        ++holders;
        for (std::size_t j = 0; j < d; ++j) BOOST_REQUIRE_EQUAL(v[j], latest[i * d + j]);
      }
    BOOST_CHECK_EQUAL(holders, 1u);
  }
  // Refine reads the moved rows: an id's latest vector is found at exact distance 0.
  for (std::size_t i : {3u, 500u, 2999u}) {
    auto r = c.search(latest.data() + i * d, search_params{1, 16, 4});
    BOOST_REQUIRE_EQUAL(r.hits.size(), 1u);
    BOOST_CHECK_EQUAL(r.hits[0].distance, 0.f);
  }
}

BOOST_AUTO_TEST_CASE(deleted_ids_are_never_returned) {
  cluster c;
  std::vector<std::uint64_t> gone(c.ids.begin(), c.ids.begin() + n / 2);
  c.apply(c.ingest->remove(gone.data(), gone.size()));
  std::size_t total = 0;
  for (const auto& p : c.parts) total += p->size();
  BOOST_CHECK_EQUAL(total, n - n / 2);
  for (std::size_t i = 0; i < 30; ++i) {
    auto r = c.search(c.data.data() + i * d, search_params{20, 16, 0});
    for (const auto& h : r.hits) BOOST_CHECK_GE(h.id, 1000 + n / 2);
  }
}

BOOST_AUTO_TEST_CASE(update_with_another_codebook_version_is_refused) {
  cluster c;
  partition_update u;
  u.codebook_version = 42;
  auto st = c.parts[0]->apply(u);
  BOOST_REQUIRE(!st);
  BOOST_CHECK(st.error().code() == errc::version_mismatch);
  BOOST_CHECK_NE(st.error().message().find("codebook_version=42"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(update_naming_a_foreign_list_is_refused) {
  cluster c;
  partition_update u;
  u.codebook_version = c.ingest->codebooks()->version();
  u.ids = {1};
  u.lists = {1};  // list 1 belongs to partition 1 of 3
  u.codes.assign(c.ingest->codebooks()->code_size(), 0);
  auto st = c.parts[0]->apply(u);
  BOOST_REQUIRE(!st);
  BOOST_CHECK_NE(st.error().message().find("list=1"), std::string::npos);
  BOOST_CHECK_EQUAL(c.parts[0]->list_of(1).has_value(), false);
}

BOOST_AUTO_TEST_CASE(snapshot_round_trip_keeps_every_answer) {
  cluster c;
  std::vector<std::uint64_t> gone(c.ids.begin() + 100, c.ids.begin() + 400);
  c.apply(c.ingest->remove(gone.data(), gone.size()));
  const auto dir = std::filesystem::temp_directory_path() / ("ivf_partition_snap_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto queries = test::clustered_data(10, d, 20, 5);
  std::vector<search_response> before;
  for (std::size_t i = 0; i < 10; ++i) before.push_back(c.search(queries.data() + i * d, search_params{10, 8, 2}));
  for (std::uint32_t p = 0; p < P; ++p) {
    const auto file = (dir / ("p" + std::to_string(p))).string();
    BOOST_REQUIRE(c.parts[p]->save(file));
    auto fresh = std::make_unique<partition_state>(p, P);
    BOOST_REQUIRE(fresh->install(c.ingest->codebooks()));
    BOOST_REQUIRE(fresh->load(file));
    BOOST_CHECK_EQUAL(fresh->size(), c.parts[p]->size());
    c.parts[p] = std::move(fresh);
  }
  for (std::size_t i = 0; i < 10; ++i) {
    auto after = c.search(queries.data() + i * d, search_params{10, 8, 2});
    BOOST_REQUIRE_EQUAL(after.hits.size(), before[i].hits.size());
    for (std::size_t j = 0; j < after.hits.size(); ++j) {
      BOOST_CHECK_EQUAL(after.hits[j].id, before[i].hits[j].id);
      BOOST_CHECK_EQUAL(after.hits[j].distance, before[i].hits[j].distance);
    }
  }
  // A snapshot of partition 0 is refused by partition 1.
  partition_state other(1, P);
  BOOST_REQUIRE(other.install(c.ingest->codebooks()));
  auto st = other.load((dir / "p0").string());
  BOOST_CHECK(!st);
  std::filesystem::remove_all(dir);
}

// Found by tests/fuzz (partition_snapshot): a snapshot naming one id in two lists loaded both slots
// as live, so scans returned the id twice. It is refused as corrupt, like ivfpq_index::load does.
BOOST_AUTO_TEST_CASE(snapshot_with_a_repeated_id_is_refused) {
  cluster c;
  const auto cb = c.ingest->codebooks();
  const std::size_t cs = cb->code_size();
  namespace fb = ivfstream::schema;
  for (const bool same_list : {false, true}) {
    flatbuffers::FlatBufferBuilder b;
    // Lists 0 and P are both owned by partition 0 of P.
    std::vector<flatbuffers::Offset<fb::ListSnapshot>> lists;
    const std::vector<std::uint64_t> ids0 = same_list ? std::vector<std::uint64_t>{5, 5} : std::vector<std::uint64_t>{5};
    const std::vector<std::uint8_t> codes0(ids0.size() * cs, 1);
    lists.push_back(fb::CreateListSnapshot(b, 0, b.CreateVector(ids0), b.CreateVector(codes0)));
    if (!same_list) {
      const std::vector<std::uint64_t> ids1{5};
      const std::vector<std::uint8_t> codes1(cs, 2);
      lists.push_back(fb::CreateListSnapshot(b, P, b.CreateVector(ids1), b.CreateVector(codes1)));
    }
    auto root = fb::CreatePartitionSnapshot(b, 1, 0, P, cb->version(), d, static_cast<std::uint32_t>(cs),
                                            b.CreateVector(lists));
    fb::FinishPartitionSnapshotBuffer(b, root);
    const auto file = std::filesystem::temp_directory_path() / ("ivf_partition_dup_" + std::to_string(::getpid()));
    {
      std::ofstream out(file, std::ios::binary);
      out.write(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
    }
    partition_state s(0, P);
    BOOST_REQUIRE(s.install(cb));
    auto st = s.load(file.string());
    std::filesystem::remove(file);
    BOOST_REQUIRE(!st);
    BOOST_CHECK(st.error().code() == errc::corrupt_data);
    BOOST_CHECK_EQUAL(st.error().message(), "partition snapshot '" + file.string() + "': id 5 appears more than once");
  }
}

// Regression test for af28a49: a snapshot whose list ids (8-byte) start 4 bytes off an 8-byte
// boundary is still a valid FlatBuffers file (the Verifier checks only the 4-byte alignment of the
// length prefix). load() read them in place, a misaligned load (UBSan, CI's ASan+UBSan stage); it now
// copies them out. The file is partition 0's snapshot with one list's ids vector moved to such an
// offset (tests/support/misaligned_vector.hpp); it must load with every id in its list.
BOOST_AUTO_TEST_CASE(snapshot_with_ids_off_8_byte_alignment_loads_every_id) {
  namespace fb = ivfstream::schema;
  cluster c;
  const auto file = std::filesystem::temp_directory_path() / ("ivf_partition_misaligned_" + std::to_string(::getpid()));
  BOOST_REQUIRE(c.parts[0]->save(file.string()));
  std::vector<std::uint8_t> bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  BOOST_REQUIRE(!bytes.empty());
  std::size_t field_pos = 0, moved = 0;
  for (const auto* ls : *fb::GetPartitionSnapshot(bytes.data())->lists()) {
    if (!ls->ids() || ls->ids()->size() < 2) continue;
    // ListSnapshot derives privately from flatbuffers::Table, at the same address.
    const std::uint8_t* field = reinterpret_cast<const flatbuffers::Table*>(ls)->GetAddressOf(fb::ListSnapshot::VT_IDS);
    BOOST_REQUIRE(field);
    field_pos = static_cast<std::size_t>(field - bytes.data());
    moved = ls->ids()->size();
    break;
  }
  BOOST_REQUIRE(moved > 0);
  const std::size_t ids_at = test::move_vector_off_8_byte_alignment(bytes, field_pos, sizeof(std::uint64_t));
  BOOST_REQUIRE_EQUAL(ids_at % 8, 4u);
  // The input is the case claimed: a valid file in which a list's ids start off 8-byte alignment.
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  BOOST_REQUIRE(fb::VerifyPartitionSnapshotBuffer(v));
  std::size_t misaligned = 0;
  for (const auto* ls : *fb::GetPartitionSnapshot(bytes.data())->lists())
    if (ls->ids() && (reinterpret_cast<const std::uint8_t*>(ls->ids()->Data()) - bytes.data()) % 8 != 0)
      misaligned += ls->ids()->size();
  BOOST_REQUIRE_EQUAL(misaligned, moved);
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  partition_state fresh(0, P);
  BOOST_REQUIRE(fresh.install(c.ingest->codebooks()));
  auto st = fresh.load(file.string());
  std::filesystem::remove(file);
  BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  BOOST_CHECK_EQUAL(fresh.size(), c.parts[0]->size());
  std::size_t checked = 0;
  for (const auto id : c.ids) {
    const auto want = c.parts[0]->list_of(id);
    BOOST_CHECK(fresh.list_of(id) == want);
    checked += want.has_value();
  }
  BOOST_CHECK_EQUAL(checked, c.parts[0]->size());
}
