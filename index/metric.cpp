#include "index/metric.hpp"

#include <ostream>
#include <string>

namespace ivfstream {

const char* to_string(metric m) noexcept {
  switch (m) {
    case metric::l2: return "l2";
    case metric::cosine: return "cosine";
    case metric::dot: return "dot";
  }
  return "l2";
}

std::ostream& operator<<(std::ostream& os, metric m) { return os << to_string(m); }

result<metric> parse_metric(std::string_view text) {
  if (text == "l2" || text == "euclidean") return metric::l2;
  if (text == "cosine") return metric::cosine;
  if (text == "dot" || text == "ip" || text == "inner_product") return metric::dot;
  return fail(errc::invalid_argument,
              "metric=" + std::string(text) + ": must be one of l2, cosine, dot");
}

}  // namespace ivfstream
