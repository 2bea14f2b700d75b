#include "index/list_scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/fast_scan.hpp"

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

void finish_probe_distances(const probe_table& pt, const float* terms, std::size_t n, float* dist) noexcept {
  if (!pt.shared) return;
  if (terms) {
    for (std::size_t i = 0; i < n; ++i) dist[i] = probe_distance(pt, dist[i], terms[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) dist[i] = probe_distance(pt, dist[i]);
  }
}

// Why the padding: the SIMD adc_scan kernels sum a code's table entries in a different order in their
// vector body than in their scalar tail (the last rows of a call), so the same code could get a
// distance differing in the last bit depending on where it sits in the call. Calling the kernel only
// on whole groups of k_row_group rows followed by k_guard_rows more rows makes every distance we use
// come from the vector body: a code's distance is then a function of the code and the table alone,
// and compaction (slots move) or save/load leave search results bitwise identical.
void scan_list(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list,
               const probe_table& pt, kernels::topk_heap& heap) {
  IVF_ASSERT(!pt.terms || list.keeps_terms());
  const float* lut = pt.lut;
  const float bias = pt.shared ? 0.0f : pt.bias;  // shared: bias and term added per entry (probe_distance)
  const float* terms = pt.terms ? list.terms() : nullptr;
  const std::size_t n = list.size(), cs = list.code_size(), M = cb.num_sub_vectors();
  const unsigned nbits = cb.params().num_bits;
  float dist[k_scan_block + k_row_group + k_guard_rows];
  std::uint8_t tail[(k_scan_block + k_row_group + k_guard_rows) * k_max_stack_code];
  std::vector<std::uint8_t> big_tail;  // only for codes wider than k_max_stack_code
  const bool all_live = list.all_live();
  const bool row_major = list.codes() != nullptr;  // a fast-scan list is decoded chunk by chunk
  const bool keeps_rows = list.keeps_rows();
  for (std::size_t b = 0; b < n; b += k_scan_block) {
    const std::size_t nb = std::min(k_scan_block, n - b);
    const std::size_t padded = (nb + k_row_group - 1) / k_row_group * k_row_group + k_guard_rows;
    // head: the rows scanned in place, a whole number of groups whose guard rows the list itself has
    // (every row of a block but the last one's; in the last block all but its final < 8 rows). Only the
    // rows after it are copied and padded: copying a whole short list (the usual last block) cost ~1 %
    // of a Fashion-MNIST batch search in memmove (perf, session 13).
    std::size_t head = 0;
    if (row_major) {
      if (b + padded <= n) {
        head = nb;
      } else if (n - b >= k_guard_rows) {
        head = std::min(nb, (n - b - k_guard_rows) / k_row_group * k_row_group);
      }
      if (head > 0) {
        const std::size_t rows = head == nb ? padded : head + k_guard_rows;
        kt.adc_scan(list.codes() + b * cs, rows, M, nbits, lut, bias, dist);
      }
    }
    if (head < nb) {
      const std::size_t rest = nb - head;
      const std::size_t rest_padded = (rest + k_row_group - 1) / k_row_group * k_row_group + k_guard_rows;
      std::uint8_t* scratch = tail;
      if (cs > k_max_stack_code) {
        big_tail.resize(rest_padded * cs);
        scratch = big_tail.data();
      }
      list.read_codes(b + head, rest, scratch);
      std::memset(scratch + rest * cs, 0, (rest_padded - rest) * cs);  // code 0 in every sub-space: valid, ignored
      kt.adc_scan(scratch, rest_padded, M, nbits, lut, bias, dist + head);
    }
    // Ids and rows (delta_column, a few operations per entry to decode) are read only for the slots
    // that pass the heap's threshold: after the nearest list, few do. Decoding the whole block
    // (read_ids/read_rows) took ~6 % of a Fashion-MNIST batch search (perf, PQ16x8 nprobe 8 refine 4).
    // The pushes, hence the results, are those of push_batch over the whole block. The shared-table
    // forms finish each distance here, in the same pass (a separate pass was ~3 % of a batch search).
    auto offer = [&](auto&& distance) {
      float bound = heap.threshold();
      for (std::size_t i = 0; i < nb; ++i) {
        const float di = distance(i);
        const auto slot = static_cast<std::uint32_t>(b + i);
        if (di > bound || (!all_live && !list.is_live(slot))) continue;
        if (heap.push(di, list.id(slot), keeps_rows ? list.row(slot) : kernels::k_no_aux)) bound = heap.threshold();
      }
    };
    if (!pt.shared) {
      offer([&](std::size_t i) { return dist[i]; });
    } else if (terms) {
      const float* t = terms + b;
      offer([&](std::size_t i) { return probe_distance(pt, dist[i], t[i]); });
    } else {
      offer([&](std::size_t i) { return probe_distance(pt, dist[i]); });
    }
  }
}

// Fast-scan: the u16 bound of kernels::fast_scan_u16_bound covers the quantisation error and one unit
// of float rounding relative to the exact ADC sum; the float distance of adc_scan can differ from the
// exact sum by a few ulps of the distance's magnitude (large biases), so the threshold is first widened
// by a relative slack. A wider bound only lets more slots through to the exact check, never fewer.
void scan_lists_fast(const kernels::kernel_table& kt, std::size_t M, const inverted_list* const* lists,
                     std::size_t n_lists, const float* luts, const float* biases, kernels::topk_heap& heap) {
  fast_scan_scratch scratch;
  scan_lists_fast(kt, M, lists, n_lists, luts, biases, heap, scratch);
}

void scan_lists_fast(const kernels::kernel_table& kt, std::size_t M, const inverted_list* const* lists,
                     std::size_t n_lists, const float* luts, const float* biases, kernels::topk_heap& heap,
                     fast_scan_scratch& scratch) {
  if (n_lists == 0 || heap.capacity() == 0) return;
  const std::size_t lut_bytes = kernels::fast_scan_lut_bytes(M), table = M * 16;
  scratch.qlut.resize(n_lists * lut_bytes);
  scratch.list_bias.resize(n_lists);
  const std::uint8_t* qlut = scratch.qlut.data();
  const float* list_bias = scratch.list_bias.data();
  const float scale = kt.quantize_lut(luts, biases, n_lists, M, scratch.qlut.data(), scratch.list_bias.data());
  for (std::size_t l = 0; l < n_lists; ++l) {
    if (!lists[l]) continue;
    if (l + 1 < n_lists && lists[l + 1]) prefetch_list(*lists[l + 1]);
    scan_list_fast(kt, M, *lists[l], luts + l * table, biases[l], &qlut[l * lut_bytes], list_bias[l], scale, heap,
                   scratch);
  }
}

void prefetch_list(const inverted_list& list) noexcept {
  constexpr std::size_t k_lines = 4;  // the hardware prefetcher follows once the stream has started
  const auto* codes = list.fast_scan_m() ? list.fast_scan_blocks() : list.codes();
  const std::size_t code_bytes =
      list.fast_scan_m() ? kernels::fast_scan_bytes(list.size(), list.fast_scan_m()) : list.size() * list.code_size();
  for (std::size_t i = 0; i < k_lines && i * 64 < code_bytes; ++i) __builtin_prefetch(codes + i * 64, 0, 3);
  list.prefetch_head();
}

void scan_list_fast(const kernels::kernel_table& kt, std::size_t M, const inverted_list& list, const float* lut,
                    float bias, const std::uint8_t* qlut, float qbias, float scale, kernels::topk_heap& heap,
                    fast_scan_scratch& scratch) {
  if (list.live() == 0 || heap.capacity() == 0) return;
  const std::size_t block_bytes = kernels::fast_scan_block_bytes(M);
  IVF_ASSERT(list.fast_scan_m() == M && list.code_size() == (M + 1) / 2);
  // Per chunk of k_scan_block slots (whole blocks): the slots whose u16 sum passes the bound, then their
  // exact checks nearest-first (below).
  static_assert(k_scan_block % kernels::k_fast_scan_block == 0, "chunks must be whole blocks");
  static_assert(k_scan_block <= 256, "a chunk slot must fit the low 8 bits of an order key");
  constexpr std::size_t k_exact_group = 8;  // slots scored per fast_scan_adc call between bound updates
  scratch.slots.resize(k_scan_block);
  scratch.sums.resize(k_scan_block);
  scratch.order.resize(k_scan_block);
  std::uint32_t* slots = scratch.slots.data();
  std::uint32_t* order = scratch.order.data();
  const float slack = 4.0f * static_cast<float>(M + 4) * 1.1920929e-7f;  // 4·(M+4) ulps of the magnitudes
  // The u16 bound that every slot whose exact distance is ≤ threshold t meets (nullopt: none can).
  auto bound_for = [&](float t) {
    const float mag = std::abs(t) + std::abs(bias) + std::abs(qbias);
    const float widened = std::isinf(t) ? t : t + mag * slack + 1e-30f;
    return kernels::fast_scan_u16_bound(widened, qbias, scale, M);
  };
  const std::uint8_t* blocks = list.fast_scan_blocks();
  const std::size_t n = list.size();
  const bool all_live = list.all_live();
  const bool rows = list.keeps_rows();
  for (std::size_t b = 0, nb = 0; b < n; b += nb) {
    auto bound = bound_for(heap.threshold());
    if (!bound) return;  // the threshold only falls: no later slot of this list can enter either
    // While the heap has room, every slot passes and is pushed: a chunk of just the room (whole
    // blocks) fills it, so the next chunk is already filtered by a finite threshold.
    const std::size_t room = heap.capacity() - heap.size();
    const std::size_t want =
        room == 0 ? k_scan_block
                  : std::min(k_scan_block, (room + kernels::k_fast_scan_block - 1) / kernels::k_fast_scan_block *
                                               kernels::k_fast_scan_block);
    nb = std::min(want, n - b);
    const std::size_t hits = kt.fast_scan_filter(blocks + b / kernels::k_fast_scan_block * block_bytes, nb, M, qlut,
                                                 *bound, slots, scratch.sums.data());
    std::size_t r = 0;
    for (std::size_t h = 0; h < hits; ++h) {
      if (!all_live && !list.is_live(static_cast<std::uint32_t>(b + slots[h]))) continue;
      order[r++] = (std::uint32_t{scratch.sums[h]} << 8) | slots[h];
    }
    // Exact checks in ascending order of the u16 sums, a group at a time: each group's pushes tighten
    // the heap's threshold, and the bound recomputed from it ends the chunk at the first sum above it
    // (every later sum is larger). Skipping changes nothing: a skipped slot's exact distance exceeds
    // the threshold. When the heap has room for every hit, all are pushed and no order is needed.
    if (r > room) std::sort(order, order + r);
    std::uint32_t group[k_exact_group];
    float dist[k_exact_group];
    for (std::size_t i = 0; i < r;) {
      std::size_t g = 0;
      for (; i < r && g < k_exact_group && (order[i] >> 8) <= *bound; ++i) {
        group[g++] = static_cast<std::uint32_t>(b + (order[i] & 0xFF));
      }
      if (g == 0) break;
      kt.fast_scan_adc(blocks, M, group, g, lut, bias, dist);
      const float before = heap.threshold();
      float thr = before;
      for (std::size_t q = 0; q < g; ++q) {
        if (dist[q] > thr) continue;
        if (heap.push(dist[q], list.id(group[q]), rows ? list.row(group[q]) : kernels::k_no_aux)) thr = heap.threshold();
      }
      if (thr == before) continue;  // no push moved the threshold: the bound stands
      bound = bound_for(thr);
      if (!bound) return;
    }
  }
}

}  // namespace ivfstream
