#pragma once
// Outcome of a GPU training call: a code and a message naming the problem. Plain C++17 with no
// dependency outside the standard library, so the CUDA sources (compiled by nvcc) and the CPU build
// share it, and kernels/ stays independent of index/ (index/ maps device_errc onto its errc).
#include <ostream>
#include <string>
#include <utility>

namespace ivfstream::kernels {

/// Why a GPU call failed. Append new codes at the end.
enum class device_errc {
  ok = 0,
  unavailable,       ///< no CUDA device, no driver, or this build has no CUDA support
  out_of_memory,     ///< the device cannot hold even the smallest batch (message names the bytes)
  invalid_argument,  ///< a size outside its allowed set (message names the value and the set)
  cuda_error,        ///< a CUDA runtime call failed (message names the call and cudaGetErrorString)
  cublas_error,      ///< a cuBLAS call failed (message names the call and the cublasStatus_t)
};

/// Stable lower-case name of a code, e.g. "unavailable".
inline const char* to_string(device_errc code) noexcept {
  switch (code) {
    case device_errc::ok: return "ok";
    case device_errc::unavailable: return "unavailable";
    case device_errc::out_of_memory: return "out_of_memory";
    case device_errc::invalid_argument: return "invalid_argument";
    case device_errc::cuda_error: return "cuda_error";
    case device_errc::cublas_error: return "cublas_error";
  }
  return "unknown";
}

/// Writes to_string(code).
inline std::ostream& operator<<(std::ostream& os, device_errc code) { return os << to_string(code); }

/// Success, or a code and a message. Check with `if (!s)`. A value type; not shared between threads.
class [[nodiscard]] device_status {
public:
  /// Success.
  device_status() = default;
  /// Failure with `code` (≠ ok) and a message naming the bad value or failed call.
  device_status(device_errc code, std::string message) : code_(code), message_(std::move(message)) {}

  explicit operator bool() const noexcept { return code_ == device_errc::ok; }
  bool ok() const noexcept { return code_ == device_errc::ok; }
  device_errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  /// "unavailable: cudaGetDeviceCount: no CUDA-capable device is detected"
  std::string to_string() const {
    return std::string(kernels::to_string(code_)) + ": " + message_;
  }

private:
  device_errc code_ = device_errc::ok;
  std::string message_;
};

}  // namespace ivfstream::kernels
