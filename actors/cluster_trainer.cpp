#include "actors/cluster_trainer.hpp"

#include <algorithm>
#include <random>

#include <caf/scoped_actor.hpp>

#include "actors/train_codec.hpp"
#include "index/distributed_training.hpp"

namespace ivfstream::actors {
namespace {

using steady = std::chrono::steady_clock;
constexpr std::chrono::seconds k_links_timeout{5};

}  // namespace

std::vector<std::uint64_t> weighted_rows(const std::vector<node_offer>& offers, std::uint64_t max_rows) {
  // rate = min over nodes of A_i / P_i, A_i = min(rows_i, max_rows); a node with no rows offers none.
  double rate = 1.0;
  for (const auto& o : offers) {
    if (o.rows == 0) continue;
    const double available = static_cast<double>(std::min(o.rows, max_rows));
    rate = std::min(rate, available / static_cast<double>(std::max(o.population, o.rows)));
  }
  std::vector<std::uint64_t> out;
  out.reserve(offers.size());
  for (const auto& o : offers) {
    if (o.rows == 0) {
      out.push_back(0);
      continue;
    }
    const double share = std::round(rate * static_cast<double>(std::max(o.population, o.rows)));
    out.push_back(std::clamp<std::uint64_t>(static_cast<std::uint64_t>(share), 1, std::min(o.rows, max_rows)));
  }
  return out;
}

namespace {

// Strided rows (every (n / max)-th) when n > max, else all of them.
std::vector<float> strided_rows(const float* x, std::size_t n, std::size_t d, std::size_t max) {
  if (n <= max) return std::vector<float>(x, x + n * d);
  std::vector<float> out(max * d);
  for (std::size_t i = 0; i < max; ++i) std::copy_n(x + (i * n / max) * d, d, out.data() + i * d);
  return out;
}

// One training's statistics: this node's rows, then every peer still taking part, in that order.
class peer_shards final : public training_shards {
public:
  peer_shards(caf::scoped_actor& self, peer_links links, const distributed_training_options& o, std::uint64_t round)
      : self_(self), links_(std::move(links)), options_(o), round_(round), peer_rows_(links_.handles.size(), 0),
        active_(links_.handles.size(), true) {}

  /// Opens the round: asks every peer how many sample rows it has and how many vectors they stand
  /// for (a census, train_codec.hpp). A peer that fails is left out. Returns (rows, population) per
  /// peer, (0, 0) for those left out.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> census(const index_params& p) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out(links_.handles.size());
    train_request r = request(p, train_phase::census);
    ask(r, [&](std::size_t i, train_reply& reply) { out[i] = {reply.rows, reply.population}; });
    return out;
  }

  /// The rows each iteration reads: this node's `local` (local_n rows) and at most rows[i] of peer i.
  void set_rows(const std::vector<float>* local, std::size_t local_n, std::vector<std::uint32_t> rows) {
    local_ = local;
    local_n_ = local_n;
    peer_rows_ = std::move(rows);
  }

  result<kernels::kmeans_stats> coarse(const index_params& p, const std::vector<float>& coarse) override {
    train_request r = request(p, train_phase::coarse);
    r.coarse = coarse;
    std::vector<kernels::kmeans_stats> total{kernels::kmeans_stats::zero(p.num_partitions, p.dimension)};
    gather(r, [&] { return std::vector<kernels::kmeans_stats>{coarse_stats(p, local_->data(), local_n_, coarse)}; },
           total);
    return std::move(total.front());
  }

  result<std::vector<kernels::kmeans_stats>> pq(const index_params& p, const std::vector<float>& coarse,
                                                const std::vector<float>& pq) override {
    train_request r = request(p, train_phase::pq);
    r.coarse = coarse;
    r.pq = pq;
    std::vector<kernels::kmeans_stats> total;
    for (std::size_t m = 0; m < p.num_sub_vectors; ++m) total.push_back(kernels::kmeans_stats::zero(p.ksub(), p.dsub()));
    gather(r, [&] { return pq_stats(p, local_->data(), local_n_, coarse, pq); }, total);
    return total;
  }

  std::uint32_t nodes() const {
    return 1 + static_cast<std::uint32_t>(std::count(active_.begin(), active_.end(), true));
  }
  std::uint64_t last_rows() const { return last_rows_; }
  std::vector<std::string> left_out() const { return left_out_; }

private:
  train_request request(const index_params& p, train_phase phase) const {
    train_request r;
    r.round = round_;
    r.phase = phase;
    r.dimension = static_cast<std::uint32_t>(p.dimension);
    r.metric_kind = p.metric;
    r.num_partitions = static_cast<std::uint32_t>(p.num_partitions);
    r.num_sub_vectors = static_cast<std::uint32_t>(p.num_sub_vectors);
    r.num_bits = static_cast<std::uint32_t>(p.num_bits);
    return r;
  }

  // Sends r to every active peer (max_rows: its share of rows) and calls on_reply(i, reply) for each
  // answer, in peer order, after `meanwhile` ran here. A peer that fails is left out from here on.
  template <class OnReply, class Meanwhile>
  void ask(train_request r, OnReply on_reply, Meanwhile meanwhile) {
    using handle_type = decltype(self_->request(links_.handles.front(), caf::infinite, train_stats_atom::value,
                                                std::vector<char>()));
    std::vector<std::optional<handle_type>> pending(links_.handles.size());
    for (std::size_t i = 0; i < links_.handles.size(); ++i) {
      if (!active_[i]) continue;
      r.max_rows = peer_rows_[i];
      pending[i].emplace(self_->request(links_.handles[i], caf::duration{options_.peer_timeout},
                                        train_stats_atom::value, encode_train_request(r)));
    }
    meanwhile();
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (!pending[i]) continue;
      std::optional<std::string> why;
      std::optional<train_reply> reply;
      pending[i]->receive(
          [&](std::vector<char>& answer) {
            r.max_rows = peer_rows_[i];
            auto decoded = decode_train_reply(answer, r);
            if (!decoded)
              why = decoded.error().to_string();
            else if (decoded->failure)
              why = decoded->failure->to_string();
            else
              reply = std::move(*decoded);
          },
          [&](caf::error& e) { why = self_->system().render(e); });
      if (!reply) {
        active_[i] = false;
        left_out_.push_back(links_.names[i] + ": " + why.value_or("no answer"));
        continue;
      }
      on_reply(i, *reply);
    }
  }
  template <class OnReply>
  void ask(const train_request& r, OnReply on_reply) {
    ask(r, on_reply, [] {});
  }

  // One iteration: the peers' statistics and this node's (computed while the peers compute theirs),
  // merged this node first, then the peers in order.
  template <class Local>
  void gather(const train_request& r, Local local, std::vector<kernels::kmeans_stats>& total) {
    std::uint64_t rows = local_n_;
    ask(
        r,
        [&](std::size_t, train_reply& reply) {
          rows += reply.rows;
          for (std::size_t m = 0; m < total.size(); ++m) kernels::merge_kmeans_stats(total[m], reply.stats[m]);
        },
        [&] {
          auto mine = local();
          for (std::size_t m = 0; m < total.size(); ++m) kernels::merge_kmeans_stats(total[m], mine[m]);
        });
    last_rows_ = rows;
  }

  caf::scoped_actor& self_;
  peer_links links_;
  const distributed_training_options& options_;
  const std::vector<float>* local_ = nullptr;
  std::size_t local_n_ = 0;
  std::uint64_t round_;
  std::vector<std::uint32_t> peer_rows_;  // max_rows of each peer's requests (0 = all: the census)
  std::vector<bool> active_;
  std::vector<std::string> left_out_;
  std::uint64_t last_rows_ = 0;
};

}  // namespace

cluster_trainer::cluster_trainer(caf::actor_system& sys, cluster_search_actor coordinator,
                                 distributed_training_options options)
    : sys_(&sys), coordinator_(std::move(coordinator)), options_(options) {}

distributed_training_report cluster_trainer::report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return report_;
}

result<std::shared_ptr<const codebook_set>> cluster_trainer::train(const index_params& p, const float* x,
                                                                    std::size_t n, std::uint64_t population,
                                                                    std::uint64_t version) const {
  return run(p, x, n, population, nullptr, version);
}

result<std::shared_ptr<const codebook_set>> cluster_trainer::train_with_centroids(const index_params& p,
                                                                                   const float* x, std::size_t n,
                                                                                   std::uint64_t population,
                                                                                   std::vector<float> centroids,
                                                                                   std::uint64_t version) const {
  return run(p, x, n, population, &centroids, version);
}

result<std::shared_ptr<const codebook_set>> cluster_trainer::run(const index_params& p, const float* x,
                                                                  std::size_t n, std::uint64_t population,
                                                                  std::vector<float>* keep,
                                                                  std::uint64_t version) const {
  const auto t0 = steady::now();
  auto finish = [&](std::uint32_t nodes, std::uint64_t rows, std::vector<std::string> left_out, std::string local_reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++report_.trainings;
    if (nodes > 1) ++report_.distributed;
    report_.last_nodes = nodes;
    report_.last_rows = rows;
    report_.last_left_out = std::move(left_out);
    report_.last_local_reason = std::move(local_reason);
    report_.last_kept_centroids = keep != nullptr;
    report_.last_ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
  };
  auto alone = [&](std::string why, std::vector<std::string> down) {
    auto cb = keep ? codebook_set::train_with_centroids(p, x, n, std::move(*keep), version)
                   : codebook_set::train(p, x, n, version);
    finish(1, n, std::move(down), std::move(why));
    return cb;
  };
  if (auto why = distributed_training_unsupported(p); !why.empty()) return alone(why, {});

  peer_links links;
  std::optional<std::string> links_error;
  caf::scoped_actor self{*sys_};
  self->request(coordinator_, k_links_timeout, links_atom::value)
      .receive([&](peer_links& l) { links = std::move(l); },
               [&](caf::error& e) { links_error = "peer links: " + sys_->render(e); });
  if (links_error) return alone(*links_error, {});
  if (links.handles.empty()) return alone("no peer connected", links.down);

  std::vector<float> prepared(n * p.dimension);
  IVF_TRY(codebook_set::prepare_vectors(p, x, n, prepared.data()));
  const std::size_t max_rows =
      options_.max_rows_per_node > 0 ? options_.max_rows_per_node : p.sample_rate * std::max(p.num_partitions, p.ksub());
  std::random_device rd;
  const std::uint64_t round = (std::uint64_t{rd()} << 32 | rd()) | 1;  // never 0 (a peer's "no round yet")

  peer_shards shards(self, links, options_, round);
  const auto census = shards.census(p);
  std::vector<node_offer> offers{{n, population}};
  for (const auto& c : census) offers.push_back({c.first, c.second});
  const std::vector<std::uint64_t> rows = weighted_rows(offers, max_rows);
  // The leader seeds k-means on up to max_rows of its own rows; its statistics read its share.
  const std::vector<float> init = strided_rows(prepared.data(), n, p.dimension, max_rows);
  const std::vector<float> local = strided_rows(prepared.data(), n, p.dimension, rows[0]);
  prepared = {};
  std::vector<std::uint32_t> peer_rows(census.size());
  for (std::size_t i = 0; i < census.size(); ++i) peer_rows[i] = static_cast<std::uint32_t>(rows[i + 1]);
  shards.set_rows(&local, local.size() / p.dimension, std::move(peer_rows));
  const std::size_t init_n = init.size() / p.dimension;
  auto cb = keep ? train_distributed_with_centroids(p, shards, init.data(), init_n, std::move(*keep), version)
                 : train_distributed(p, shards, init.data(), init_n, version);
  auto left_out = shards.left_out();
  left_out.insert(left_out.end(), links.down.begin(), links.down.end());
  finish(shards.nodes(), shards.last_rows(), std::move(left_out), shards.nodes() > 1 ? "" : "every peer failed");
  return cb;
}

}  // namespace ivfstream::actors
