#pragma once
// Which instruction set the kernels use. Chosen once at start-up (detect + IVFSTREAM_SIMD override)
// and held in an immutable kernel_table (kernels/kernel_table.hpp); never a mutable global.
#include <cstdint>
#include <optional>
#include <string_view>

namespace ivfstream::kernels {

enum class simd_level : std::uint8_t { scalar = 0, avx2 = 1, avx512 = 2 };

/// "scalar" | "avx2" | "avx512"
const char* to_string(simd_level level) noexcept;
/// Parses the names above; nullopt otherwise.
std::optional<simd_level> parse_simd_level(std::string_view text) noexcept;
/// Highest level this CPU (and OS, via XGETBV) supports and this build compiled in.
simd_level detect_simd_level() noexcept;
/// detect_simd_level(), lowered to IVFSTREAM_SIMD when that environment variable is set
/// (an unknown value or one above what the CPU supports is reported on stderr and ignored/lowered).
simd_level choose_simd_level() noexcept;

}  // namespace ivfstream::kernels
