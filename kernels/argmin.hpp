#pragma once
// Row-wise argmin of a float matrix (the polysemous query code: per sub-space, the entry of the ADC
// table with the smallest value, index/polysemous.hpp).
#include <cstddef>
#include <cstdint>

namespace ivfstream::kernels {

/// out[r] = the smallest c with x[r·cols + c] = min_c' x[r·cols + c'] (first minimum, as std::min_element).
///   x: rows × cols floats, row-major, finite; out: rows values. @pre 1 ≤ cols ≤ 65536.
/// Uses AVX2 when the CPU has it (checked once), else a portable loop. Thread-safe (pure).
void argmin_rows(const float* x, std::size_t rows, std::size_t cols, std::uint16_t* out) noexcept;

}  // namespace ivfstream::kernels
