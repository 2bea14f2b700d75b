#pragma once
// Inverted multi-index (IMI) coarse quantizer (index_params::coarse_quantizer = imi): the vector is cut
// in two halves, each with its own k-means codebook of K = 2^imi_bits centroids; cell (i, j) — list
// i·K + j — has the centroid c1_i ‖ c2_j. K² cells cost 2·K half-centroids, so a very fine partition
// (2^20 cells at imi_bits = 10) is cheap to store, assign (argmin per half) and probe: the nearest cells
// come out of the multi-sequence algorithm, a heap walk over the two per-half distance lists sorted
// ascending that visits O(nprobes) cells, never all K².
//
// Distances (l2/cosine): ‖q − c_ij‖² = ‖q1 − c1_i‖² + ‖q2 − c2_j‖², each half clamped at 0 as the flat
// quantizer clamps its distance. dot: cells ordered by largest ⟨q1, c1_i⟩ + ⟨q2, c2_j⟩ (the key is the
// negated sum: −⟨q1,c1_i⟩ + −⟨q2,c2_j⟩ = −(⟨q1,c1_i⟩ + ⟨q2,c2_j⟩) bit for bit).
//
// Layout of the trained codebooks (codebook_set::centroids() under imi, the snapshot's
// Codebooks.centroids): K × d1 floats (half 1, columns [0, d1) of the vector), then K × d2 floats
// (half 2, columns [d1, d)), row-major; d1 = floor(d / 2), d2 = d − d1. K × d floats in all.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/error.hpp"
#include "index/index_params.hpp"
#include "kernels/accelerator.hpp"
#include "kernels/kmeans.hpp"

namespace ivfstream {

/// Trained IMI codebooks. Immutable after construction; const members are thread-safe.
class multi_index_quantizer {
public:
  /// @pre d ≥ 2, 1 ≤ bits ≤ 16, codebooks.size() == 2^bits × d (layout above).
  multi_index_quantizer(std::size_t d, unsigned bits, std::vector<float> codebooks);

  /// Trains both half codebooks on the prepared rows x (n × d): k-means (opt: iterations, sample
  /// size per centroid, threads; seed opt.seed for half 1, opt.seed + 1 for half 2) on each half's
  /// columns. Writes the codebooks in the layout above to *out. @pre n ≥ 2^bits, d ≥ 2.
  static kernels::device_status train(const kernels::accelerator_choice& device, const float* x, std::size_t n,
                                      std::size_t d, unsigned bits, const kernels::kmeans_options& opt,
                                      const kernels::log_sink& log, std::vector<float>* out);

  std::size_t dimension() const noexcept { return d_; }
  /// K = 2^bits centroids per half.
  std::size_t half_size() const noexcept { return k_; }
  /// K² cells.
  std::size_t num_cells() const noexcept { return k_ * k_; }
  std::size_t d1() const noexcept { return d1_; }
  std::size_t d2() const noexcept { return d_ - d1_; }
  /// The codebooks (layout above), K × d floats.
  const std::vector<float>& codebooks() const noexcept { return cb_; }
  /// Half 1: K × d1 row-major; half 2: K × d2 row-major.
  const float* half1() const noexcept { return cb_.data(); }
  const float* half2() const noexcept { return cb_.data() + k_ * d1_; }
  /// ‖c1_i‖² (K floats) and ‖c2_j‖² (K floats).
  const std::vector<float>& half1_norms() const noexcept { return n1_; }
  const std::vector<float>& half2_norms() const noexcept { return n2_; }

  /// Writes the centroid c1_i ‖ c2_j of cell = i·K + j (d floats). @pre cell < num_cells().
  void cell_centroid(std::uint32_t cell, float* out) const noexcept;
  /// Nearest cell (L2) of each of the n rows: argmin per half. cells: n.
  void assign(const float* x, std::size_t n, std::uint32_t* cells, int max_threads = 1) const;
  /// Per-half keys of nb rows for probing: s1 (nb × K), s2 (nb × K). l2/cosine (dot = false):
  /// max(0, ‖x_h‖² − 2⟨x_h, c_h⟩ + ‖c_h‖²); dot: −⟨x_h, c_h⟩. A row's keys do not depend on nb
  /// (kernels::matmul_nt rows are batch-independent). scratch is resized as needed.
  void half_keys(const float* x, std::size_t nb, bool dot, float* s1, float* s2, std::vector<float>& scratch) const;

private:
  std::size_t d_, d1_, k_;
  std::vector<float> cb_;      // K × d1, then K × d2
  std::vector<float> n1_, n2_;  // K each
};

/// Reusable buffers of multi_sequence (one per thread).
struct multi_sequence_scratch {
  std::vector<std::uint32_t> order1, order2;
  struct item {
    float key;
    std::uint32_t cell, u, v;
  };
  std::vector<item> heap, out;
};

/// The `count` cells (i·K + j) of smallest key s1[i] + s2[j] (float sum), ascending by (key, cell) —
/// exactly the first `count` of a sort of all K² cells by (key, cell), ties included. Multi-sequence:
/// sorts each half (K log K), then a heap walk from (0, 0) where popping (u, v) pushes (u, v + 1), and
/// (u + 1, 0) when v = 0, so each pair is pushed once, after its predecessor, whose key is ≤ (float
/// addition is monotone). The walk goes on past `count` while keys tie the last one, so cells tied at the
/// boundary are all seen before the final (key, cell) sort. Visits O(count + ties) cells.
/// cells, keys: count entries. @pre 1 ≤ count ≤ K², s1/s2 finite, K ≥ 1.
void multi_sequence(const float* s1, const float* s2, std::size_t K, std::size_t count, std::uint32_t* cells,
                    float* keys, multi_sequence_scratch& scratch);

}  // namespace ivfstream
