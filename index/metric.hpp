#pragma once
// Distance metrics with LanceDB's semantics (smaller distance = nearer):
//   l2     = squared Euclidean ‖q − x‖²
//   cosine = 1 − cos(q, x); vectors are L2-normalised on insert and query and then quantised with L2
//            on the unit sphere (same ranking: ‖q − x‖² = 2 − 2 cos for unit vectors)
//   dot    = 1 − ⟨q, x⟩; ranking by largest inner product
#include <cstdint>
#include <iosfwd>
#include <string_view>

#include "index/error.hpp"

namespace ivfstream {

enum class metric : std::uint8_t { l2 = 0, cosine = 1, dot = 2 };

/// "l2" | "cosine" | "dot"
const char* to_string(metric m) noexcept;
/// Writes to_string(m).
std::ostream& operator<<(std::ostream& os, metric m);

/// Parses "l2", "cosine", "dot" (also "euclidean", "ip"/"inner_product" as aliases).
result<metric> parse_metric(std::string_view text);

}  // namespace ivfstream
