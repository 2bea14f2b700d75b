#include "index/list_scan.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ivfstream {

namespace {

/// Codes scanned per kernel call: the distances stay in a stack buffer (no allocation per scan).
constexpr std::size_t k_scan_block = 256;
/// Rows the SIMD adc_scan kernels process together (they unroll by 2 or 4 codes).
constexpr std::size_t k_row_group = 4;
/// Extra rows after the ones we use: the AVX2 kernel reads up to 3 bytes past a row with word
/// fetches and so leaves the last rows of a call to its scalar tail.
constexpr std::size_t k_guard_rows = 4;
/// Largest code handled with the stack scratch (M = 64 sub-vectors of 8 bits).
constexpr std::size_t k_max_stack_code = 64;

}  // namespace

// Why the padding: the SIMD adc_scan kernels sum a code's table entries in a different order in their
// vector body than in their scalar tail (the last rows of a call), so the same code could get a
// distance differing in the last bit depending on where it sits in the call. Calling the kernel only
// on whole groups of k_row_group rows followed by k_guard_rows more rows makes every distance we use
// come from the vector body: a code's distance is then a function of the code and the table alone,
// and compaction (slots move) or save/load leave search results bitwise identical.
void scan_list(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list, const float* lut,
               float bias, kernels::topk_heap& heap) {
  const std::size_t n = list.size(), cs = list.code_size(), M = cb.num_sub_vectors();
  const unsigned nbits = cb.params().num_bits;
  float dist[k_scan_block + k_row_group + k_guard_rows];
  std::uint8_t tail[(k_scan_block + k_row_group + k_guard_rows) * k_max_stack_code];
  std::vector<std::uint8_t> big_tail;  // only for codes wider than k_max_stack_code
  const bool all_live = list.all_live();
  for (std::size_t b = 0; b < n; b += k_scan_block) {
    const std::size_t nb = std::min(k_scan_block, n - b);
    const std::size_t padded = (nb + k_row_group - 1) / k_row_group * k_row_group + k_guard_rows;
    if (b + padded <= n) {
      kt.adc_scan(list.codes() + b * cs, padded, M, nbits, lut, bias, dist);  // the list itself has the guard rows
    } else {
      std::uint8_t* scratch = tail;
      if (cs > k_max_stack_code) {
        big_tail.resize(padded * cs);
        scratch = big_tail.data();
      }
      std::memcpy(scratch, list.codes() + b * cs, nb * cs);
      std::memset(scratch + nb * cs, 0, (padded - nb) * cs);  // code 0 in every sub-space: valid, ignored
      kt.adc_scan(scratch, padded, M, nbits, lut, bias, dist);
    }
    if (all_live) {
      heap.push_batch(dist, list.ids() + b, nb);
      continue;
    }
    float bound = heap.threshold();
    for (std::size_t i = 0; i < nb; ++i) {
      if (dist[i] > bound || !list.is_live(static_cast<std::uint32_t>(b + i))) continue;
      if (heap.push(dist[i], list.ids()[b + i])) bound = heap.threshold();
    }
  }
}

}  // namespace ivfstream
