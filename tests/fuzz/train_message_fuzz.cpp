// libFuzzer target: actors::decode_train_request and decode_train_reply (schemas/training.fbs), the
// bytes of distributed training that another `ivfstream serve` node sends over a peer link.
// Input layout: byte 0 picks the request a reply must answer (train_message_requests()[byte 0 % 4]),
// bytes 1.. = one TrainStatsRequest or TrainStatsReply (both decoders see the same bytes; the file
// identifier makes at most one of them accept).
// Properties: never crashes or over-allocates; an accepted request has parameters some index could
// have, centroid arrays of exactly the sizes they imply and finite values, survives an encode/decode
// round trip unchanged, and a node answering it (answer_train_request on a few rows) produces a reply
// that decodes against it (statistics, or an overflow failure for centroids near FLT_MAX); an accepted reply either carries an error and no statistics, or exactly
// the statistics the request asked for (1 or M, each k × d; none for a census, whose population is at
// least its rows) with finite values and counts that sum, without overflow, to its rows, and survives a
// round trip unchanged.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "actors/train_codec.hpp"
#include "tests/fuzz/train_message_requests.hpp"

namespace {

using namespace ivfstream;
using namespace ivfstream::actors;

// The largest error message the reply decoder keeps (train_codec.cpp).
constexpr std::size_t k_max_message = 4096;
// Requests whose centroids are larger than this are decoded and round-tripped but not answered (the
// statistics pass costs rows × k × d; the default -max_len keeps inputs far below anyway).
constexpr std::size_t k_max_answered_floats = std::size_t{1} << 20;
constexpr std::size_t k_sample_rows = 5;

bool same_stats(const kernels::kmeans_stats& a, const kernels::kmeans_stats& b) {
  return a.k == b.k && a.d == b.d && a.sums == b.sums && a.counts == b.counts && a.far_dist == b.far_dist &&
         a.far_row == b.far_row && a.objective == b.objective;
}

void check_reply(const train_reply& r, const train_request& request) {
  auto back = decode_train_reply(encode_train_reply(r), request);
  if (!back || back->round != r.round || back->failure.has_value() != r.failure.has_value()) std::abort();
  if (r.failure) {
    if (!r.stats.empty() || r.failure->message().size() > k_max_message) std::abort();
    if (back->failure->code() != r.failure->code() || back->failure->message() != r.failure->message())
      std::abort();
    return;
  }
  if (r.round != request.round) std::abort();
  if (request.phase == train_phase::census) {
    if (!r.stats.empty() || r.population < r.rows || back->rows != r.rows || back->population != r.population ||
        !back->stats.empty())
      std::abort();
    return;
  }
  const bool coarse = request.phase == train_phase::coarse;
  const std::size_t tables = coarse ? 1 : request.num_sub_vectors;
  const std::size_t k = coarse ? request.num_partitions : std::size_t{1} << request.num_bits;
  const std::size_t d = coarse ? request.dimension : request.dimension / request.num_sub_vectors;
  if (r.stats.size() != tables) std::abort();
  for (const auto& s : r.stats) {
    if (s.k != k || s.d != d || s.sums.size() != k * d || s.far_row.size() != k * d || s.counts.size() != k ||
        s.far_dist.size() != k || !std::isfinite(s.objective))
      std::abort();
    std::uint64_t total = 0;
    for (std::uint64_t c : s.counts) {
      if (c > r.rows - total) std::abort();  // the sum would pass rows, or wrap around
      total += c;
    }
    if (total != r.rows) std::abort();
    for (double v : s.sums)
      if (!std::isfinite(v)) std::abort();
    for (float v : s.far_row)
      if (!std::isfinite(v)) std::abort();
    for (float v : s.far_dist)
      if (!std::isfinite(v)) std::abort();
  }
  if (back->rows != r.rows || back->stats.size() != r.stats.size()) std::abort();
  for (std::size_t i = 0; i < r.stats.size(); ++i)
    if (!same_stats(back->stats[i], r.stats[i])) std::abort();
}

void check_request(const train_request& r) {
  if (r.dimension == 0 || r.num_partitions == 0 || r.num_sub_vectors == 0 || r.dimension % r.num_sub_vectors != 0 ||
      r.num_bits == 0 || r.num_bits > 16)
    std::abort();
  const std::uint64_t d = r.dimension;
  const bool census = r.phase == train_phase::census;
  if (r.coarse.size() != (census ? 0 : std::uint64_t{r.num_partitions} * d)) std::abort();
  if (r.pq.size() != (r.phase == train_phase::pq ? (std::uint64_t{1} << r.num_bits) * d : 0)) std::abort();
  for (float v : r.coarse)
    if (!std::isfinite(v)) std::abort();
  for (float v : r.pq)
    if (!std::isfinite(v)) std::abort();
  auto back = decode_train_request(encode_train_request(r));
  if (!back || back->round != r.round || back->phase != r.phase || back->dimension != r.dimension ||
      back->metric_kind != r.metric_kind || back->num_partitions != r.num_partitions ||
      back->num_sub_vectors != r.num_sub_vectors || back->num_bits != r.num_bits || back->max_rows != r.max_rows ||
      back->coarse != r.coarse || back->pq != r.pq)
    std::abort();
  // A node of the same shape answers it; its answer must decode against the request.
  // (A census carries no centroids, so its dimension alone bounds nothing: the rows are capped too.)
  if (r.coarse.size() + r.pq.size() > k_max_answered_floats || k_sample_rows * d > k_max_answered_floats) return;
  std::vector<float> sample(k_sample_rows * d);
  for (std::size_t i = 0; i < sample.size(); ++i) sample[i] = static_cast<float>(i % 7) - 3.0f;
  const train_reply answer = answer_train_request(r, fuzz::index_shape_of(r), sample.data(), k_sample_rows, 3 * k_sample_rows);
  // Same shape, so check_train_request accepts; the only failure left is centroids so large that the
  // statistics overflow float (the first finding of this target: they used to be sent, non-finite).
  if (answer.failure && answer.failure->message().find("overflow") == std::string::npos) std::abort();
  check_reply(answer, r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto& requests = fuzz::train_message_requests();
  const train_request& asked = requests[data[0] % requests.size()];
  const std::vector<char> bytes(reinterpret_cast<const char*>(data) + 1, reinterpret_cast<const char*>(data) + size);
  if (auto r = decode_train_request(bytes)) check_request(*r);
  if (auto r = decode_train_reply(bytes, asked)) check_reply(*r, asked);
  // A tight size cap refuses what the default accepts only by size.
  const std::uint64_t tight = bytes.size() / 2;
  if (decode_train_request(bytes, tight) || decode_train_reply(bytes, asked, tight)) std::abort();
  return 0;
}
