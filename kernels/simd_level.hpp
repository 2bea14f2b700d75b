#pragma once
// Which instruction set the kernels use. Chosen once at start-up (detect + IVFSTREAM_SIMD override)
// and held in an immutable kernel_table (kernels/kernel_table.hpp); never a mutable global.
#include <cstdint>
#include <optional>
#include <string_view>

namespace ivfstream::kernels {

/// x86 levels are ordered (avx512 implies avx2); neon is the aarch64 level (Advanced SIMD, baseline
/// on ARMv8-A) and is not comparable with them: use simd_level_supported(), not <, across families.
enum class simd_level : std::uint8_t { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };

/// "scalar" | "avx2" | "avx512" | "neon"
const char* to_string(simd_level level) noexcept;
/// Parses the names above; nullopt otherwise.
std::optional<simd_level> parse_simd_level(std::string_view text) noexcept;
/// Highest level this CPU (and OS, via XGETBV) supports and this build compiled in: on x86-64 one of
/// scalar/avx2/avx512, on aarch64 neon (scalar when built with IVFSTREAM_SIMD=scalar).
simd_level detect_simd_level() noexcept;
/// True when kernels_for(level) runs `level` here: scalar always; an x86 level at or below
/// detect_simd_level() on x86; neon when detect_simd_level() is neon.
bool simd_level_supported(simd_level level) noexcept;
/// detect_simd_level(), lowered to IVFSTREAM_SIMD when that environment variable is set
/// (an unknown value or one this CPU/build does not support is reported on stderr and ignored).
simd_level choose_simd_level() noexcept;

}  // namespace ivfstream::kernels
