#include "actors/train_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <flatbuffers/flatbuffers.h>

#include "actors/internal/flatbuffer_edge.hpp"

#include "index/distributed_training.hpp"
#include "schemas/training_generated.h"

namespace ivfstream::actors {
namespace fb = ivfstream::training;

namespace {

constexpr std::uint16_t k_train_format_version = 1;
constexpr const char* k_request_identifier = "IVTQ";
constexpr const char* k_reply_identifier = "IVTR";
constexpr flatbuffers::uoffset_t k_max_depth = 8;
constexpr flatbuffers::uoffset_t k_max_tables = 1u << 16;  // ≤ M + 1 tables in a reply
constexpr std::size_t k_max_error_message = 4096;
constexpr std::uint32_t k_max_num_bits = 16;

std::string sz(std::uint64_t v) { return std::to_string(v); }

template <class T>
bool all_finite(const std::vector<T>& v) {
  return std::all_of(v.begin(), v.end(), [](T x) { return std::isfinite(x); });
}

std::size_t ksub_of(std::uint32_t num_bits) { return std::size_t{1} << num_bits; }

bool finite_stats(const kernels::kmeans_stats& s) {
  auto finite = [](const auto& v) { return std::all_of(v.begin(), v.end(), [](auto x) { return std::isfinite(x); }); };
  return std::isfinite(s.objective) && finite(s.sums) && finite(s.far_dist) && finite(s.far_row);
}

std::string magnitude_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  return buf;
}

float largest_magnitude(const train_request& r) {
  float m = 0;
  for (float v : r.coarse) m = std::max(m, std::fabs(v));
  for (float v : r.pq) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace

std::vector<char> encode_train_request(const train_request& r) {
  flatbuffers::FlatBufferBuilder fbb(64 + (r.coarse.size() + r.pq.size()) * sizeof(float));
  auto coarse = fbb.CreateVector(r.coarse);
  auto pq = fbb.CreateVector(r.pq);
  fb::TrainStatsRequestBuilder b(fbb);
  b.add_version(k_train_format_version);
  b.add_round(r.round);
  b.add_phase(static_cast<std::uint8_t>(r.phase));
  b.add_dimension(r.dimension);
  b.add_metric(static_cast<std::uint8_t>(r.metric_kind));
  b.add_num_partitions(r.num_partitions);
  b.add_num_sub_vectors(r.num_sub_vectors);
  b.add_num_bits(r.num_bits);
  b.add_max_rows(r.max_rows);
  b.add_coarse(coarse);
  b.add_pq(pq);
  fbb.Finish(b.Finish(), k_request_identifier);
  return internal::finish(fbb);
}

result<train_request> decode_train_request(const std::vector<char>& bytes, std::uint64_t max_bytes) {
  auto root = internal::verify_root<fb::TrainStatsRequest>(bytes, k_request_identifier, "TrainStatsRequest",
                                                     max_bytes, k_train_format_version, k_max_depth, k_max_tables);
  if (!root) return std::move(root).error();
  const fb::TrainStatsRequest& m = **root;
  if (m.phase() > 2)
    return fail(errc::invalid_argument,
                "TrainStatsRequest phase=" + sz(m.phase()) + ": must be 0 (coarse), 1 (pq) or 2 (census)");
  if (m.metric() > 2)
    return fail(errc::invalid_argument, "TrainStatsRequest metric=" + sz(m.metric()) + ": must be 0 (l2), 1 (cosine) or 2 (dot)");
  if (m.dimension() == 0 || m.num_partitions() == 0 || m.num_sub_vectors() == 0 ||
      m.dimension() % m.num_sub_vectors() != 0 || m.num_bits() == 0 || m.num_bits() > k_max_num_bits)
    return fail(errc::invalid_argument, "TrainStatsRequest dimension=" + sz(m.dimension()) + " num_partitions=" +
                                            sz(m.num_partitions()) + " num_sub_vectors=" + sz(m.num_sub_vectors()) +
                                            " num_bits=" + sz(m.num_bits()) +
                                            ": need dimension, num_partitions >= 1, num_sub_vectors dividing "
                                            "dimension, num_bits in 1..16");
  const std::uint64_t d = m.dimension();
  const std::uint64_t want_coarse = m.phase() == 2 ? 0 : std::uint64_t{m.num_partitions()} * d;
  // M × ksub × dsub = ksub × d.
  const std::uint64_t want_pq = m.phase() == 1 ? ksub_of(m.num_bits()) * d : 0;
  if (internal::length(m.coarse()) != want_coarse || internal::length(m.pq()) != want_pq)
    return fail(errc::corrupt_data, "TrainStatsRequest: coarse has " + sz(internal::length(m.coarse())) + " floats and pq " +
                                        sz(internal::length(m.pq())) + ", the parameters need " + sz(want_coarse) + " and " +
                                        sz(want_pq));
  std::vector<float> coarse = internal::copy_scalars(m.coarse());
  std::vector<float> pq = internal::copy_scalars(m.pq());
  if (!all_finite(coarse) || !all_finite(pq))
    return fail(errc::corrupt_data, "TrainStatsRequest: a centroid holds NaN or Inf");
  train_request r;
  r.round = m.round();
  r.phase = static_cast<train_phase>(m.phase());
  r.dimension = m.dimension();
  r.metric_kind = static_cast<metric>(m.metric());
  r.num_partitions = m.num_partitions();
  r.num_sub_vectors = m.num_sub_vectors();
  r.num_bits = m.num_bits();
  r.max_rows = m.max_rows();
  r.coarse = std::move(coarse);
  r.pq = std::move(pq);
  return r;
}

std::vector<char> encode_train_reply(const train_reply& r) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<fb::KmeansStats>> tables;
  if (!r.failure) {
    for (const auto& s : r.stats) {
      auto sums = fbb.CreateVector(s.sums);
      auto counts = fbb.CreateVector(s.counts);
      auto far_dist = fbb.CreateVector(s.far_dist);
      auto far_row = fbb.CreateVector(s.far_row);
      tables.push_back(fb::CreateKmeansStats(fbb, static_cast<std::uint32_t>(s.k), static_cast<std::uint32_t>(s.d),
                                             sums, counts, far_dist, far_row, s.objective));
    }
  }
  auto stats = fbb.CreateVector(tables);
  auto message = r.failure ? fbb.CreateString(r.failure->message().substr(0, k_max_error_message))
                           : flatbuffers::Offset<flatbuffers::String>();
  fb::TrainStatsReplyBuilder b(fbb);
  b.add_version(k_train_format_version);
  b.add_round(r.round);
  b.add_rows(r.rows);
  b.add_population(r.population);
  b.add_stats(stats);
  if (r.failure) {
    b.add_error_code(static_cast<std::uint8_t>(r.failure->code()));
    b.add_error_message(message);
  }
  fbb.Finish(b.Finish(), k_reply_identifier);
  return internal::finish(fbb);
}

result<train_reply> decode_train_reply(const std::vector<char>& bytes, const train_request& request,
                                       std::uint64_t max_bytes) {
  auto root = internal::verify_root<fb::TrainStatsReply>(bytes, k_reply_identifier, "TrainStatsReply",
                                                     max_bytes, k_train_format_version, k_max_depth, k_max_tables);
  if (!root) return std::move(root).error();
  const fb::TrainStatsReply& m = **root;
  train_reply r;
  r.round = m.round();
  if (m.error_code() != 0) {  // before the round: a request that failed to decode is answered as round 0
    const auto code = m.error_code() <= static_cast<std::uint8_t>(errc::internal) ? static_cast<errc>(m.error_code())
                                                                                  : errc::internal;
    std::string message = m.error_message() ? m.error_message()->str() : std::string();
    if (message.size() > k_max_error_message) message.resize(k_max_error_message);
    r.failure = ivfstream::error(code, std::move(message));
    return r;
  }
  if (r.round != request.round)
    return fail(errc::corrupt_data, "TrainStatsReply round=" + sz(r.round) + ": the request was round " + sz(request.round));
  r.rows = m.rows();
  r.population = m.population();
  if (request.phase == train_phase::census) {
    if (internal::length(m.stats()) != 0)
      return fail(errc::corrupt_data, "TrainStatsReply: a census answer carries " + sz(internal::length(m.stats())) +
                                          " statistics, it must carry none");
    if (r.population < r.rows)
      return fail(errc::corrupt_data, "TrainStatsReply: census population=" + sz(r.population) + " is below rows=" +
                                          sz(r.rows));
    return r;
  }
  const bool coarse = request.phase == train_phase::coarse;
  const std::size_t want_tables = coarse ? 1 : request.num_sub_vectors;
  const std::size_t want_k = coarse ? request.num_partitions : ksub_of(request.num_bits);
  const std::size_t want_d = coarse ? request.dimension : request.dimension / request.num_sub_vectors;
  if (internal::length(m.stats()) != want_tables)
    return fail(errc::corrupt_data, "TrainStatsReply: " + sz(internal::length(m.stats())) + " statistics, the request needs " +
                                        sz(want_tables));
  for (const fb::KmeansStats* s : *m.stats()) {
    if (s->k() != want_k || s->d() != want_d)
      return fail(errc::corrupt_data, "TrainStatsReply: statistics of k=" + sz(s->k()) + " d=" + sz(s->d()) +
                                          ", the request needs k=" + sz(want_k) + " d=" + sz(want_d));
    if (internal::length(s->sums()) != want_k * want_d || internal::length(s->far_row()) != want_k * want_d ||
        internal::length(s->counts()) != want_k || internal::length(s->far_dist()) != want_k)
      return fail(errc::corrupt_data, "TrainStatsReply: array lengths do not match k=" + sz(want_k) + " d=" + sz(want_d));
    kernels::kmeans_stats k;
    k.k = want_k;
    k.d = want_d;
    k.sums = internal::copy_scalars(s->sums());
    k.counts = internal::copy_scalars(s->counts());
    k.far_dist = internal::copy_scalars(s->far_dist());
    k.far_row = internal::copy_scalars(s->far_row());
    k.objective = s->objective();
    if (!all_finite(k.sums) || !all_finite(k.far_row) || !all_finite(k.far_dist) || !std::isfinite(k.objective))
      return fail(errc::corrupt_data, "TrainStatsReply: statistics hold NaN or Inf");
    std::uint64_t total = 0;
    for (std::uint64_t c : k.counts) {
      if (c > r.rows - total)  // total ≤ rows holds, so this also keeps the sum from wrapping around
        return fail(errc::corrupt_data, "TrainStatsReply: cluster counts sum past rows=" + sz(r.rows) +
                                            " (a count of " + sz(c) + " after " + sz(total) + ")");
      total += c;
    }
    if (total != r.rows)
      return fail(errc::corrupt_data, "TrainStatsReply: cluster counts sum to " + sz(total) + ", rows=" + sz(r.rows));
    r.stats.push_back(std::move(k));
  }
  return r;
}

status check_train_request(const train_request& r, const index_params& own) {
  auto differ = [](const char* field, const std::string& theirs, const std::string& ours) {
    return fail(errc::invalid_argument, std::string("training request with ") + field + "=" + theirs +
                                            ": this node's index has " + field + "=" + ours);
  };
  if (r.dimension != own.dimension) return differ("dimension", sz(r.dimension), sz(own.dimension));
  if (r.metric_kind != own.metric) return differ("metric", to_string(r.metric_kind), to_string(own.metric));
  if (r.num_partitions != own.num_partitions)
    return differ("num_partitions", sz(r.num_partitions), sz(own.num_partitions));
  if (r.num_sub_vectors != own.num_sub_vectors)
    return differ("num_sub_vectors", sz(r.num_sub_vectors), sz(own.num_sub_vectors));
  if (r.num_bits != own.num_bits) return differ("num_bits", sz(r.num_bits), sz(own.num_bits));
  return {};
}

train_reply answer_train_request(const train_request& r, const index_params& own, const float* sample,
                                 std::size_t n, std::uint64_t population) {
  train_reply out;
  out.round = r.round;
  if (auto st = check_train_request(r, own); !st) {
    out.failure = st.error();
    return out;
  }
  if (r.phase == train_phase::census) {
    out.rows = n;
    out.population = std::max<std::uint64_t>(population, n);
    return out;
  }
  std::vector<float> strided;
  if (r.max_rows > 0 && n > r.max_rows) {  // every (n / max_rows)-th row, spread over the whole sample
    const std::size_t d = own.dimension;
    strided.resize(std::size_t{r.max_rows} * d);
    for (std::size_t i = 0; i < r.max_rows; ++i)
      std::copy_n(sample + (i * n / r.max_rows) * d, d, strided.data() + i * d);
    sample = strided.data();
    n = r.max_rows;
  }
  out.rows = n;
  if (r.phase == train_phase::coarse)
    out.stats.push_back(coarse_stats(own, sample, n, r.coarse));
  else
    out.stats = pq_stats(own, sample, n, r.coarse, r.pq);
  // Finite centroids can still be so far from the rows (|x| near FLT_MAX) that distances or residuals
  // overflow: answer that, rather than statistics the leader's decoder refuses as corrupt.
  for (const auto& s : out.stats) {
    if (finite_stats(s)) continue;
    out.stats.clear();
    out.rows = 0;
    out.failure = ivfstream::error(errc::invalid_argument,
                                   "training statistics overflow float: the request's centroids (largest |value| " +
                                       magnitude_text(largest_magnitude(r)) + ") are too far from this node's sample");
    break;
  }
  return out;
}

}  // namespace ivfstream::actors
