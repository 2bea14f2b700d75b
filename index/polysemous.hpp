#pragma once
// Polysemous codes (Douze, Jégou, Perronnin, ECCV 2016): the indices of each sub-quantizer's
// centroids are permuted so that the Hamming distance between two packed codes tracks the distance
// between the vectors they reconstruct. A PQ code is then also a binary code: a search compares the
// query's own code with each stored code by popcount and computes the ADC distance (M table lookups)
// only for codes within `polysemous_ht` bits.
//
// Training (per sub-quantizer, ksub = 2^nbits centroids c_0 … c_{ksub−1} of dsub floats): find a
// permutation p (centroid i gets code p[i]) minimising
//   L(p) = Σ_{i≠j} w_ij · (popcount(p[i] ⊕ p[j]) − t_ij)²,
//   t_ij = s · ‖c_i − c_j‖ with s = (nbits / 2) / mean_{i≠j} ‖c_i − c_j‖   (mean target = mean Hamming),
//   w_ij = exp(−2 ‖c_i − c_j‖ / mean ‖c − c′‖)                                (close pairs weigh most),
// by simulated annealing over swaps of two codes (the change of L for a swap costs O(ksub)).
// The permutation is applied to the codebook itself (row p[i] of the new codebook is c_i), so codes,
// tables and snapshots keep the plain PQ layout: a polysemous codebook is an ordinary PQ codebook.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/codebook_set.hpp"
#include "index/index_params.hpp"
#include "index/inverted_list.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/topk.hpp"

namespace ivfstream {

struct polysemous_options {
  std::size_t iterations = 20000;  ///< swap proposals per sub-quantizer
  std::uint64_t seed = 7;
  polysemous_objective_kind objective = polysemous_objective_kind::close_pairs;
};

/// The annealed permutation of one sub-quantizer: perm[i] = new code of centroid i (a bijection of
/// [0, ksub)). centroids: ksub × dsub row-major. @pre ksub = 2^nbits, 1 ≤ nbits ≤ 16. Thread-safe (pure).
std::vector<std::uint32_t> train_polysemous_permutation(const float* centroids, std::size_t ksub, std::size_t dsub,
                                                        unsigned nbits, const polysemous_options& opt);

/// Reorders a codebook (ksub × dsub, in place) so that row perm[i] holds the old row i.
void permute_codebook(float* codebook, std::size_t ksub, std::size_t dsub, const std::vector<std::uint32_t>& perm);

/// Pearson correlation over pairs i < j between popcount(i ⊕ j) and ‖c_i − c_j‖ for a codebook
/// (ksub × dsub): how well the Hamming distance of the codes tracks the centroid distance (tests, bench).
double hamming_distance_correlation(const float* codebook, std::size_t ksub, std::size_t dsub);

/// Permutes all M sub-codebooks of a PQ codebook (M × ksub × dsub, in place); sub-quantizer m uses seed + m.
void make_polysemous(float* pq_codebooks, std::size_t M, std::size_t ksub, std::size_t dsub, unsigned nbits,
                     const polysemous_options& opt);

/// The query's own code for one probe: per sub-space the entry with the smallest table value (for
/// l2/cosine tables, lut[m][c] = s·(‖(q − c_list)_m − r_mc‖² − ‖(q − c_list)_m‖²), so this is the PQ
/// code of the query's residual). lut: M × ksub; code: code_size(M, nbits) bytes, packed.
void query_code_from_table(const float* lut, std::size_t M, unsigned nbits, std::uint8_t* code);

/// scan_list with a Hamming pre-filter: a slot's ADC distance (the same value scan_list computes) is
/// computed and offered to heap only when popcount(code ⊕ query_code) ≤ max_hamming. Adds to
/// counters the slots scanned (ADC computed, live) and skipped (rejected by the filter).
/// With max_hamming ≥ 8 · code_size every slot passes and heap receives exactly what scan_list gives it.
/// Thread-safety: reads list and cb only.
void scan_list_polysemous(const kernels::kernel_table& kt, const codebook_set& cb, const inverted_list& list,
                          const probe_table& pt, const std::uint8_t* query_code, unsigned max_hamming,
                          kernels::topk_heap& heap, scan_counters& counters);

}  // namespace ivfstream
