#pragma once
// Set-up shared by the actor suites (engines in this process, peers on 127.0.0.1, Kafka nodes on the
// embedded broker): the small index they all build, opening an engine, a free loopback port, a
// bounded wait, comparing two answers, a consumer-group node (engine + kafka_service), an engine's
// stats, a scratch data directory and the wall clock the retrain-status file uses. Every failure ends
// the test with the error's message; every wait is bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "config/service_config.hpp"
#include "index/index_params.hpp"
#include "index/search_hit.hpp"

namespace ivfstream::test {

/// Milliseconds since the Unix epoch (the clock of the retrain-status file's timestamps).
inline std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A data directory of this process under the temp dir, empty at construction, removed at destruction.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const std::string& tag)
      : path(std::filesystem::temp_directory_path() / ("ivfstream-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
  }
  ~scratch_dir() { std::filesystem::remove_all(path); }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
};

/// The engine's stats; ends the test with the error's message when they cannot be read.
inline engine_stats stats_of(const engine& e) {
  auto s = e.stats();
  BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
  return *s;
}

/// The actor suites' index: d dimensions, 16 lists, 4 sub-vectors of 8 bits.
inline index_params small_index_params(std::size_t d, std::size_t max_iterations = 10) {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 4;
  p.num_bits = 8;
  p.max_iterations = max_iterations;
  return p;
}

/// An engine in `dir` that trains first after `train_after` vectors and then retrains only when a test
/// calls retrain(): 2 partition actors, 1 query actor, 2 scheduler threads, a reservoir of `reservoir`
/// vectors, no drift trigger, the trainer at normal priority (so a retrain is not starved on 2 cores).
inline engine_options explicit_retrain_options(const std::string& dir, std::size_t train_after,
                                               std::size_t reservoir) {
  engine_options o;
  o.partition_actors = 2;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.data_dir = dir;
  o.train_after = train_after;
  o.retrain.enabled = true;
  o.retrain.reservoir_size = reservoir;
  o.retrain.drift_threshold = 0;
  o.retrain.background_nice = 0;
  return o;
}

/// Node `share`'s part of a data set split over `shares` nodes: upserts the rows r of x (row-major,
/// d floats each) with r % shares == share, under id r; fails the test if the upsert fails.
inline void upsert_share(engine& e, const std::vector<float>& x, std::size_t d, std::size_t share,
                         std::size_t shares) {
  std::vector<std::uint64_t> ids;
  std::vector<float> rows;
  for (std::size_t r = share; r < x.size() / d; r += shares) {
    ids.push_back(r);
    rows.insert(rows.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  }
  auto st = e.upsert(ids.data(), rows.data(), ids.size());
  BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
}

/// engine::open(o), failing the test with the error if it fails.
inline std::unique_ptr<engine> open_engine(const engine_options& o) {
  auto e = engine::open(o);
  BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
  return std::move(*e);
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after).
inline std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Polls `pred` every 50 ms until it holds or `limit` has passed; returns its last value.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

/// The same hits (ids and distances, in order).
inline void check_same(const std::vector<search_hit>& got, const std::vector<search_hit>& want) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t j = 0; j < want.size(); ++j) {
    BOOST_CHECK_EQUAL(got[j].id, want[j].id);
    BOOST_CHECK_EQUAL(got[j].distance, want[j].distance);
  }
}

/// A node of a consumer group on the embedded broker (kafka.group_ingest): `partitions`
/// topic-partitions, session.timeout.ms 3000 (the mock group needs ~3 s per join; 1000 never
/// settles), the small index, 2 partition actors, checkpoints only when a test asks, no data dir.
inline service_config group_node_config(std::size_t d, std::int32_t partitions) {
  service_config c;
  c.kafka.topic_partitions = partitions;
  c.kafka.group_ingest = true;
  c.kafka.session_timeout_ms = 3000;
  c.index = small_index_params(d, 8);
  c.engine.partition_actors = 2;
  c.engine.data_dir = "";
  c.engine.checkpoint_interval_ms = 0;
  c.engine.checkpoint_interval_records = 0;
  return c;
}

/// An engine fed by the vectors topic.
struct kafka_node {
  std::unique_ptr<engine> eng;
  std::unique_ptr<kafka_service> service;
  engine_stats stats() const {
    auto st = eng->stats();
    BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
    return *st;
  }
  std::uint64_t vectors() const { return stats().vectors; }
  void stop() {
    service.reset();
    eng.reset();
  }
};

/// Opens an engine for `c` (restoring the checkpoint of c.engine.data_dir, if any), creates the index
/// from `training` when it has no codebooks yet (the same training set on every node gives the same
/// codebooks), and attaches Kafka.
inline kafka_node start_kafka_node(const service_config& c, const std::string& bootstrap,
                                   const std::vector<float>& training) {
  auto o = engine_options::from(c);
  o.scheduler_threads = 2;
  kafka_node nd;
  nd.eng = open_engine(o);
  if (nd.stats().codebook_version == 0) {
    auto st = nd.eng->create_index(c.index, training.data(), training.size() / c.index.dimension);
    BOOST_REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  }
  auto s = kafka_service::start(*nd.eng, c, bootstrap);
  BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
  nd.service = std::move(*s);
  return nd;
}

}  // namespace ivfstream::test
