#include "index/error.hpp"

#include <ostream>

namespace ivfstream {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::dimension_mismatch: return "dimension_mismatch";
    case errc::non_finite: return "non_finite";
    case errc::not_trained: return "not_trained";
    case errc::not_found: return "not_found";
    case errc::io_error: return "io_error";
    case errc::corrupt_data: return "corrupt_data";
    case errc::version_mismatch: return "version_mismatch";
    case errc::resource_exhausted: return "resource_exhausted";
    case errc::timeout: return "timeout";
    case errc::unavailable: return "unavailable";
    case errc::internal: return "internal";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, errc code) { return os << to_string(code); }

std::string error::to_string() const { return std::string(ivfstream::to_string(code_)) + ": " + message_; }

}  // namespace ivfstream
