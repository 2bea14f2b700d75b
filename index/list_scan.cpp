#include "index/list_scan.hpp"

#include <algorithm>

namespace ivfstream {

namespace {
/// Codes scanned per kernel call: the distances stay in a stack buffer (no allocation per scan).
constexpr std::size_t k_scan_block = 256;
}  // namespace

void scan_list(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list, const float* lut,
               float bias, kernels::topk_heap& heap) {
  const std::size_t n = list.size(), cs = list.code_size(), M = cb.num_sub_vectors();
  const unsigned nbits = cb.params().num_bits;
  float dist[k_scan_block];
  for (std::size_t b = 0; b < n; b += k_scan_block) {
    const std::size_t nb = std::min(k_scan_block, n - b);
    kt.adc_scan(list.codes() + b * cs, nb, M, nbits, lut, bias, dist);
    if (list.all_live()) {
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
