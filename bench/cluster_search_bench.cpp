// Scatter-gather overhead of a scale-out search (issue 6 target: p99 added latency < 1 ms on loopback).
//
// One process, five engines (eight with TLS): `single` holds all n vectors; three networked nodes hold a third each,
// with the same codebooks, linked by actors/peer_service.hpp over CAF remote actors on 127.0.0.1
// (real TCP through each system's own middleman). Queries run one at a time (latency, not throughput)
// in interleaved rounds so that both paths see the same machine load:
//   single    engine::search(q).to_list()          — one node, all the data
//   local     peer_service::search on a node with no peers — the coordinator's own cost
//   cluster   peer_service::search on node 0       — node 0's third + two peers' thirds, merged
//   tls       the same over a second three-node cluster on mutual TLS (only with argument 6, a
//             directory holding ca.pem and node0..2.{pem,key})
// Added latency = cluster − single at p50 and p99 (same queries, same results: the suite
// tests/actors/cluster_search_test.cpp checks they are equal).
//
//   usage: ivfstream_cluster_search_bench [n=60000] [d=128] [queries=2000] [nprobes=16] [k=10]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/peer_service.hpp"

using namespace ivfstream;
using clk = std::chrono::steady_clock;

namespace {

std::vector<float> clustered(std::size_t n, std::size_t d, std::size_t clusters, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> centres(clusters * d);
  for (float& c : centres) c = g(rng);
  std::uniform_int_distribution<std::size_t> pick(0, clusters - 1);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = pick(rng);
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = centres[c * d + j] + 0.35f * g(rng);
  }
  return x;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cluster_search_bench: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<engine> open_engine(bool network, const index_params& p, const std::vector<float>& train, std::size_t n,
                                    actors::peer_tls_options tls = {}) {
  engine_options o;
  o.partition_actors = 2;
  o.query_actors = 1;
  o.scheduler_threads = 2;
  o.network = network;
  o.peer_tls = std::move(tls);
  auto e = engine::open(o);
  if (!e) die(e.error().to_string());
  if (auto st = (*e)->create_index(p, train.data(), n); !st) die(st.error().to_string());
  return std::move(*e);
}

void upsert_share(engine& e, const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t share,
                  std::size_t shares) {
  std::vector<std::uint64_t> ids;
  std::vector<float> rows;
  for (std::size_t r = share; r < n; r += shares) {
    ids.push_back(r);
    rows.insert(rows.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  }
  for (std::size_t off = 0; off < ids.size(); off += 5000) {
    const std::size_t m = std::min<std::size_t>(5000, ids.size() - off);
    if (auto st = e.upsert(ids.data() + off, rows.data() + off * d, m); !st) die(st.error().to_string());
  }
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 60000;
  const std::size_t d = argc > 2 ? std::stoul(argv[2]) : 128;
  const std::size_t nq = argc > 3 ? std::stoul(argv[3]) : 2000;
  const std::size_t nprobes = argc > 4 ? std::stoul(argv[4]) : 16;
  const std::size_t k = argc > 5 ? std::stoul(argv[5]) : 10;
  // Optional: a directory with ca.pem and node0..2.{pem,key} (scripts in bench/README.md) adds a second
  // three-node cluster over mutual TLS, measured interleaved with the plain one.
  const std::string tls_dir = argc > 6 ? argv[6] : "";
  index_params p;
  p.dimension = d;
  p.num_partitions = 256;
  p.num_sub_vectors = 16;
  p.num_bits = 8;
  p.max_iterations = 10;
  const auto x = clustered(n, d, 100, 1);
  const auto q = clustered(nq, d, 100, 2);

  const auto t0 = clk::now();
  auto single = open_engine(false, p, x, n);
  upsert_share(*single, x, n, d, 0, 1);
  constexpr std::size_t nodes = 3;
  // Three nodes on loopback, a third of the data each; with tls_dir, over mutual TLS.
  struct cluster {
    std::vector<std::unique_ptr<engine>> engines;
    std::vector<std::unique_ptr<peer_service>> peers;
  };
  auto start_cluster = [&](const std::string& tls_dir) {
    cluster c;
    std::vector<std::string> addrs;
    for (std::size_t i = 0; i < nodes; ++i) addrs.push_back("127.0.0.1:" + std::to_string(free_port()));
    for (std::size_t i = 0; i < nodes; ++i) {
      actors::peer_tls_options tls;
      if (!tls_dir.empty()) {
        tls.enabled = true;
        tls.certificate = tls_dir + "/node" + std::to_string(i) + ".pem";
        tls.key = tls_dir + "/node" + std::to_string(i) + ".key";
        tls.cafile = tls_dir + "/ca.pem";
      }
      c.engines.push_back(open_engine(true, p, x, n, tls));
      upsert_share(*c.engines.back(), x, n, d, i, nodes);
      peer_options po;
      po.port = static_cast<std::uint16_t>(std::stoul(addrs[i].substr(addrs[i].rfind(':') + 1)));
      po.nodes = addrs;
      auto ps = peer_service::start(*c.engines.back(), po);
      if (!ps) die(ps.error().to_string());
      c.peers.push_back(std::move(*ps));
    }
    for (auto& ps : c.peers)
      if (!ps->wait_connected(nodes - 1, std::chrono::seconds(60))) die("peers did not connect");
    return c;
  };
  cluster plain = start_cluster("");
  auto& peers = plain.peers;
  cluster tls_cluster;
  if (!tls_dir.empty()) tls_cluster = start_cluster(tls_dir);
  // A coordinator with no peers over the single engine's twin: the coordinator's own cost.
  auto lonely_engine = open_engine(true, p, x, n);
  upsert_share(*lonely_engine, x, n, d, 0, 1);
  peer_options lonely_opts;
  lonely_opts.publish = false;
  auto lonely = peer_service::start(*lonely_engine, lonely_opts);
  if (!lonely) die(lonely.error().to_string());
  std::fprintf(stderr, "setup %.1f s (n=%zu d=%zu, %zu engines trained and loaded)\n",
               std::chrono::duration<double>(clk::now() - t0).count(), n, d,
               tls_dir.empty() ? std::size_t{5} : std::size_t{8});

  const search_params sp{k, nprobes, 0};
  const auto deadline = std::chrono::milliseconds(5000);
  std::vector<double> t_single, t_local, t_cluster, t_tls;
  std::size_t partial = 0, mismatched = 0;
  auto ms_since = [](clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); };
  for (std::size_t round = 0; round < 2; ++round) {  // round 0 warms up, round 1 is measured
    for (std::size_t i = 0; i < nq; ++i) {
      std::vector<float> qi(q.begin() + i * d, q.begin() + (i + 1) * d);
      auto a0 = clk::now();
      auto a = single->search(qi).nprobes(nprobes).limit(k).deadline(deadline).to_list();
      const double ta = ms_since(a0);
      auto b0 = clk::now();
      auto b = (*lonely)->search(qi, sp, deadline);
      const double tb = ms_since(b0);
      auto c0 = clk::now();
      auto c = peers[0]->search(qi, sp, deadline);
      const double tc = ms_since(c0);
      if (!a || !b || !c) die("a search failed");
      if (!tls_dir.empty()) {
        auto t0q = clk::now();
        auto t = tls_cluster.peers[0]->search(qi, sp, deadline);
        const double tt = ms_since(t0q);
        if (!t) die("a TLS search failed");
        if (round == 1) {
          t_tls.push_back(tt);
          partial += t->partial;
          bool same = a->hits.size() == t->hits.size();
          for (std::size_t j = 0; same && j < a->hits.size(); ++j) same = a->hits[j].id == t->hits[j].id;
          mismatched += !same;
        }
      }
      if (round == 0) continue;
      t_single.push_back(ta);
      t_local.push_back(tb);
      t_cluster.push_back(tc);
      partial += c->partial;
      bool same = a->hits.size() == c->hits.size();
      for (std::size_t j = 0; same && j < a->hits.size(); ++j) same = a->hits[j].id == c->hits[j].id;
      mismatched += !same;
    }
  }
  const double s50 = pct(t_single, 0.5), s99 = pct(t_single, 0.99);
  const double l50 = pct(t_local, 0.5), l99 = pct(t_local, 0.99);
  const double c50 = pct(t_cluster, 0.5), c99 = pct(t_cluster, 0.99);
  std::printf("path,p50_ms,p99_ms\n");
  std::printf("single,%.3f,%.3f\n", s50, s99);
  std::printf("coordinator_no_peers,%.3f,%.3f\n", l50, l99);
  std::printf("cluster_3_nodes,%.3f,%.3f\n", c50, c99);
  std::printf("added_vs_single,%.3f,%.3f\n", c50 - s50, c99 - s99);
  if (!t_tls.empty()) {
    const double t50 = pct(t_tls, 0.5), t99 = pct(t_tls, 0.99);
    std::printf("cluster_3_nodes_tls,%.3f,%.3f\n", t50, t99);
    std::printf("tls_added_vs_single,%.3f,%.3f\n", t50 - s50, t99 - s99);
  }
  std::printf("queries=%zu partial=%zu result_mismatches=%zu\n", t_cluster.size(), partial, mismatched);
  lonely->reset();
  lonely_engine.reset();
  tls_cluster.peers.clear();
  tls_cluster.engines.clear();
  plain.peers.clear();
  plain.engines.clear();
  return 0;
}
