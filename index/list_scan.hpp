#pragma once
// Scanning one inverted list with one probe's ADC table.
#include "index/codebook_set.hpp"
#include "index/inverted_list.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/topk.hpp"

namespace ivfstream {

/// Scans `list` with the table of one probe (lut: M × ksub floats and bias from
/// codebook_set::list_table) and pushes (distance, id) of every live entry into heap. Tombstoned
/// slots are skipped. Distances are the ADC estimates in LanceDB semantics.
/// Thread-safety: reads list and cb only; safe concurrently with other readers.
void scan_list(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list, const float* lut,
               float bias, kernels::topk_heap& heap);

}  // namespace ivfstream
