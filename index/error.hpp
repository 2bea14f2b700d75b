#pragma once
// Errors of the library layers (index/, config/, connectors/): one enum, a message that names the bad
// value and what was allowed, and result<T> = value or error. No exceptions cross these boundaries.
// The actor layer converts them to caf::error at its edge.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <variant>

#include "kernels/assert.hpp"

namespace ivfstream {

/// Every failure the library reports. Append new codes at the end (they are persisted in replies).
enum class errc : std::uint8_t {
  invalid_argument = 1,  ///< a parameter outside its allowed set (message names value and set)
  dimension_mismatch,    ///< a vector of the wrong dimension
  non_finite,            ///< NaN or Inf in a vector
  not_trained,           ///< search/add before train
  not_found,             ///< an id, file or topic that does not exist
  io_error,              ///< a failed read/write/mmap (message carries errno text)
  corrupt_data,          ///< bytes that do not decode: truncated, foreign or failed verification
  version_mismatch,      ///< a snapshot/record written by an incompatible version
  resource_exhausted,    ///< a request over a configured cap
  timeout,               ///< a deadline passed
  unavailable,           ///< a peer/broker cannot be reached
  internal,              ///< a bug: should not happen, reported instead of crashing
};

/// Stable lower-case name of a code, e.g. "invalid_argument".
const char* to_string(errc code) noexcept;
/// Writes to_string(code) (test diagnostics, logs).
std::ostream& operator<<(std::ostream& os, errc code);

/// An error: a code and a human-readable message naming the value and what was allowed.
class [[nodiscard]] error {
public:
  error(errc code, std::string message) : code_(code), message_(std::move(message)) {}
  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  /// "invalid_argument: num_bits=7: must be one of 4, 6, 8, 10, 12"
  std::string to_string() const;

private:
  errc code_;
  std::string message_;
};

/// Either a T or an error. Check with `if (!r)`, then `r.error()` or `*r`.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::move(value)) {}
  result(ivfstream::error err) : v_(std::move(err)) {}
  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return v_.index() == 0; }
  T& value() & { IVF_ASSERT(has_value()); return std::get<0>(v_); }
  const T& value() const& { IVF_ASSERT(has_value()); return std::get<0>(v_); }
  T&& value() && { IVF_ASSERT(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ivfstream::error& error() const& { IVF_ASSERT(!has_value()); return std::get<1>(v_); }
  ivfstream::error&& error() && { IVF_ASSERT(!has_value()); return std::get<1>(std::move(v_)); }

private:
  std::variant<T, ivfstream::error> v_;
};

/// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(ivfstream::error err) : err_(std::move(err)), ok_(false) {}
  explicit operator bool() const noexcept { return ok_; }
  bool has_value() const noexcept { return ok_; }
  const ivfstream::error& error() const& { IVF_ASSERT(!ok_); return err_; }
  ivfstream::error&& error() && { IVF_ASSERT(!ok_); return std::move(err_); }

private:
  ivfstream::error err_{errc::internal, ""};
  bool ok_ = true;
};

using status = result<void>;

/// Shorthand for returning an error: `return fail(errc::invalid_argument, "k=0: must be >= 1");`
inline error fail(errc code, std::string message) { return error(code, std::move(message)); }

}  // namespace ivfstream

/// Propagates an error from an expression returning result<...>/status.
#define IVF_TRY(expr)                                  \
  do {                                                 \
    auto&& ivf_try_r_ = (expr);                        \
    if (!ivf_try_r_) return std::move(ivf_try_r_).error(); \
  } while (false)
