#pragma once
// kernel_table::fast_scan_adc for the levels without a direct kernel (avx512, neon): the slots' codes
// are read back into the pq_codes layout (kernels::fast_scan_read) and scored by the level's own
// adc_scan, so the distances are those of adc_scan by construction. Internal linkage for the reason
// given in adc_common.hpp (each ISA file gets its own copy).
//
// Rows of one adc_scan call (stack buffer, pq_codes layout): k_group codes, then k_guard rows of code 0.
// The guard rows keep every code that is used out of the last rows of a call, which some adc_scan
// levels finish with a scalar tail that sums in another order.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/fast_scan.hpp"

namespace ivfstream::kernels {
namespace {  // NOLINT(google-build-namespaces): see adc_common.hpp

template <class AdcScan>
[[maybe_unused]] void fast_scan_adc_unpacked(AdcScan adc_scan, const std::uint8_t* blocks, std::size_t M,
                                             const std::uint32_t* slots, std::size_t n, const float* lut,
                                             float bias, float* out) {
  constexpr std::size_t k_group = 8, k_guard = 4, k_rows = k_group + k_guard, k_stack_code = 64;
  const std::size_t cs = (M + 1) / 2;
  std::uint8_t stack_rows[k_rows * k_stack_code];
  std::vector<std::uint8_t> heap_rows;  // only for codes wider than k_stack_code bytes (M > 128)
  std::uint8_t* rows = stack_rows;
  if (cs > k_stack_code) {
    heap_rows.resize(k_rows * cs);
    rows = heap_rows.data();
  }
  float dist[k_rows];
  for (std::size_t first = 0; first < n; first += k_group) {
    const std::size_t g = n - first < k_group ? n - first : k_group;
    for (std::size_t i = 0; i < g; ++i) fast_scan_read(blocks, M, slots[first + i], rows + i * cs);
    std::memset(rows + g * cs, 0, (k_rows - g) * cs);
    adc_scan(rows, k_rows, M, 4u, lut, bias, dist);
    std::memcpy(out + first, dist, g * sizeof(float));
  }
}

}  // namespace
}  // namespace ivfstream::kernels
