#pragma once
// Scanning one inverted list with one probe's ADC table.
#include "index/codebook_set.hpp"
#include "index/inverted_list.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/topk.hpp"

#include <vector>

namespace ivfstream {

/// Scans `list` with the table of one probe (codebook_set::probe for this list, which says whether
/// the list's per-entry terms are added) and pushes (distance, id) of every live entry into heap, with
/// the slot's vector_store row as payload when the list keeps rows (else kernels::k_no_aux).
/// Tombstoned slots are skipped. Distances are the ADC estimates in LanceDB semantics, each a function
/// of the code, its term and the table only (not of the slot or the list's length).
/// @pre !pt.terms || list.keeps_terms(). Thread-safety: reads list and cb only; safe concurrently with
/// other readers.
void scan_list(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list,
               const probe_table& pt, kernels::topk_heap& heap);

/// The form with a list table (lut, bias from codebook_set::list_table; no terms).
inline void scan_list(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list,
                      const float* lut, float bias, kernels::topk_heap& heap) {
  scan_list(kt, cb, list, probe_table{lut, bias, 1.0f, false, false}, heap);
}

/// One distance of the shared-table form from the table sum (adc_scan with bias 0) and the entry's term:
/// pt.scale · sum + (pt.bias + term), or pt.scale · sum + pt.bias for a list without terms. Every
/// scan applies it through these two functions, so all paths give an entry the same bits.
inline float probe_distance(const probe_table& pt, float sum, float term) noexcept {
  return pt.scale * sum + (pt.bias + term);
}
inline float probe_distance(const probe_table& pt, float sum) noexcept { return pt.scale * sum + pt.bias; }

/// Applies the shared-table form of pt to n distances that adc_scan computed with bias 0:
/// dist[i] = pt.scale · dist[i] + (pt.bias + terms[i]) (terms: n floats, or nullptr for none).
/// No-op when !pt.shared (adc_scan already added the bias).
void finish_probe_distances(const probe_table& pt, const float* terms, std::size_t n, float* dist) noexcept;

/// 4-bit fast-scan of the probed lists of one query, with the same outcome as calling scan_list on
/// each list with its float table (the same kept (distance, id) pairs, bit for bit): the tables are
/// quantised to u8 once with one shared scale (kernels::quantize_lut), each list's blocks are scanned
/// with fast_scan_filter against a u16 bound derived from the heap's threshold (so only slots that can
/// enter the heap pass), and the slots that pass get their float ADC distance from kt.fast_scan_adc on
/// the same table (bit for bit the distance scan_list computes) before they are offered to heap.
///   lists  : n_lists pointers; each list has fast_scan_m() == M (nullptr or empty lists are skipped)
///   luts   : n_lists × M × 16 floats, list l's table at l·M·16 (layout of codebook_set::list_table, ksub 16)
///   biases : n_lists floats (list_table's return values)
/// @pre 1 ≤ M, finite tables. Thread-safety: reads the lists only; safe concurrently with other readers.
void scan_lists_fast(const kernels::kernel_table& kt, std::size_t M, const inverted_list* const* lists,
                     std::size_t n_lists, const float* luts, const float* biases, kernels::topk_heap& heap);

/// Reusable buffers of scan_list_fast / scan_lists_fast (one per thread; no state carries between calls).
struct fast_scan_scratch {
  std::vector<std::uint32_t> slots;  ///< scan_list_fast: one chunk's slots that pass the filter
  std::vector<std::uint16_t> sums;   ///< their u16 sums
  std::vector<std::uint32_t> order;  ///< the live ones as (sum << 8) | chunk slot
  std::vector<std::uint8_t> qlut;   ///< scan_lists_fast: n_lists × fast_scan_lut_bytes(M)
  std::vector<float> list_bias;     ///< scan_lists_fast: n_lists
};

/// scan_lists_fast with caller-owned buffers (no allocation once they have grown).
void scan_lists_fast(const kernels::kernel_table& kt, std::size_t M, const inverted_list* const* lists,
                     std::size_t n_lists, const float* luts, const float* biases, kernels::topk_heap& heap,
                     fast_scan_scratch& scratch);

/// One list of scan_lists_fast, for callers that quantise the tables themselves (list-major batch
/// search): lut/bias = the list's float table and bias, qlut = its quantised table
/// (fast_scan_lut_bytes(M) bytes) and qbias its out_list_bias, scale the shared scale of
/// kernels::quantize_lut over the query's probed lists. Same outcome as scan_list with lut/bias.
void scan_list_fast(const kernels::kernel_table& kt, std::size_t M, const inverted_list& list, const float* lut,
                    float bias, const std::uint8_t* qlut, float qbias, float scale, kernels::topk_heap& heap,
                    fast_scan_scratch& scratch);

/// Software prefetch of the head of a list (first cache lines of its codes or fast-scan blocks and ids),
/// issued while the previous list is scanned.
void prefetch_list(const inverted_list& list) noexcept;

}  // namespace ivfstream
