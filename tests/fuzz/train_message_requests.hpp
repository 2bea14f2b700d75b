#pragma once
// The training requests that replies in the train_message fuzz target answer (byte 0 of an input
// picks one), shared with the seed generator so that its reply seeds answer the same requests.
// Small shapes, so that an accepted request is answered cheaply: coarse (k 4 × d 8), pq (M 2 × 2 bits
// of d 8 under 4 lists), pq (M 4 × 1 bit of d 8 under 1 list, cosine) and a census (no centroids).
#include <cstddef>
#include <vector>

#include "actors/train_codec.hpp"

namespace ivfstream::fuzz {

/// The index parameters of a node whose shape is the request's (check_train_request accepts it).
inline index_params index_shape_of(const actors::train_request& r) {
  index_params p;
  p.dimension = r.dimension;
  p.metric = r.metric_kind;
  p.num_partitions = r.num_partitions;
  p.num_sub_vectors = r.num_sub_vectors;
  p.num_bits = r.num_bits;
  return p;
}

inline const std::vector<actors::train_request>& train_message_requests() {
  static const std::vector<actors::train_request> requests = [] {
    auto values = [](std::size_t n, float scale) {
      std::vector<float> v(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 5 + 3) % 11) - 2.5f;
      return v;
    };
    actors::train_request coarse;
    coarse.round = 7;
    coarse.phase = actors::train_phase::coarse;
    coarse.dimension = 8;
    coarse.num_partitions = 4;
    coarse.num_sub_vectors = 2;
    coarse.num_bits = 2;
    coarse.coarse = values(4 * 8, 0.5f);
    actors::train_request pq = coarse;
    pq.phase = actors::train_phase::pq;
    pq.pq = values(4 * 8, 0.25f);  // ksub × d = 4 × 8
    actors::train_request pq1;
    pq1.round = 9;
    pq1.phase = actors::train_phase::pq;
    pq1.dimension = 8;
    pq1.metric_kind = metric::cosine;
    pq1.num_partitions = 1;
    pq1.num_sub_vectors = 4;
    pq1.num_bits = 1;
    pq1.max_rows = 3;
    pq1.coarse = values(8, 0.1f);
    pq1.pq = values(2 * 8, 0.3f);
    actors::train_request census = coarse;
    census.round = 11;
    census.phase = actors::train_phase::census;
    census.coarse.clear();
    return std::vector<actors::train_request>{coarse, pq, pq1, census};
  }();
  return requests;
}

}  // namespace ivfstream::fuzz
