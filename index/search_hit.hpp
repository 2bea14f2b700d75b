#pragma once
// One answer of a k-nearest-neighbour search.
#include <cstdint>

namespace ivfstream {

/// An id and its distance to the query in LanceDB semantics (index/metric.hpp): smaller is nearer.
/// l2: squared Euclidean; cosine: 1 − cos(q, x); dot: 1 − ⟨q, x⟩. Without refine the distance is the
/// PQ (ADC) estimate; with refine_factor > 0 it is exact, computed on the stored raw vector.
struct search_hit {
  std::uint64_t id;
  float distance;
};

}  // namespace ivfstream
