#pragma once
// Locally-adaptive product quantisation (LOPQ; Kalantidis & Avrithis, "Locally Optimized Product
// Quantization", CVPR 2014), selected by index_params::lopq. The IVF lists are put into
// index_params::lopq_groups groups of nearby lists (k-means over the coarse centroids; one group per list
// when lopq_groups = num_partitions). Each group g with enough training vectors gets its own orthogonal
// rotation R_g (OPQ, index/opq_rotation.hpp) and its own PQ codebooks, trained on the residuals
// r = x − c_list of that group's own training vectors, so the quantiser follows the shape of the data near
// those lists instead of the average shape over the whole space.
//
// Fallback rule: group g gets local codebooks iff it holds at least lopq_min_points × 2^num_bits training
// vectors (k-means needs ≥ 2^num_bits points, and a few per centroid to generalise); the lists of the
// other groups use the global codebooks (global PQ, and the global OPQ rotation when params.opq). Only
// the groups that got local codebooks are stored; list_group() maps a list to its stored group or to
// k_global_group.
//
// ADC with local codebooks: for list l of group g, with u_mc the group's codewords in the rotated space,
//   ‖q − c_l − R_gᵀ û‖² = ‖q − c_l‖² + Σ_m (‖u_mc‖² + 2⟨(R_g c_l)_m, u_mc⟩) − 2 Σ_m ⟨(R_g q)_m, u_mc⟩
// (R_g orthogonal). The middle term depends on the list and the code only: it is the per-list term T of
// codebook_set, same size as without LOPQ (nlist × M × ksub), precomputed from each list's own group
// (fill_list_terms). The query half depends on the group only, so a query computes it once per distinct
// group among its probed lists (plan_tables: one d × d rotation and one M × ksub table per group,
// shared by the probed lists of that group), stored in query_plan::local_tables.
//
// Memory (memory_bytes): per stored group d × d (rotation) + 2^num_bits × d (codebooks) + M × 2^num_bits
// (codeword norms) floats, plus num_partitions × d floats of rotated centroids and num_partitions u32
// group ids. E.g. d = 128, 8-bit, 64 groups: 64 × (64 + 128 + 16) KiB ≈ 13 MiB.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "index/error.hpp"
#include "index/index_params.hpp"
#include "index/query_plan.hpp"

namespace ivfstream {

/// The stored arrays of local_codebooks (layouts: local_codebooks::from_parts).
struct lopq_parts {
  std::vector<std::uint32_t> list_group;
  std::vector<float> rotations;
  std::vector<float> pq;
};

/// Trained LOPQ codebooks of one codebook_set. Immutable after construction: every const member may
/// run on any number of threads at once.
class local_codebooks {
public:
  /// list_group() value of a list that uses the global codebooks.
  static constexpr std::uint32_t k_global_group = 0xffffffffu;

  /// Groups the lists and trains a rotation and PQ codebooks per group with enough training vectors.
  ///   prepared : n × d training vectors (normalised under cosine), centroids: num_partitions × d.
  /// threads: for the assignment GEMM and the PQ sub-spaces (as codebook_set::train). Seeded by p.seed.
  /// @pre p.validate() passed with p.lopq; n ≥ 1. Errors: none beyond the preconditions today
  /// (a group too small falls back); returned as result for future checks.
  static result<std::shared_ptr<const local_codebooks>> train(const index_params& p, const float* prepared,
                                                              std::size_t n, const float* centroids, int threads);
  /// Rebuilds from stored arrays (snapshot, checkpoint, codebooks topic), checking every size, the group
  /// ids, finiteness and each rotation's orthogonality (1e-3). Errors: corrupt_data naming the array.
  ///   list_group : num_partitions u32, each < G or k_global_group
  ///   rotations  : G × d × d (row-major R_g, y = R_g x)
  ///   pq         : G × M × 2^num_bits × dsub (row-major, rotated space of the group)
  static result<std::shared_ptr<const local_codebooks>> from_parts(const index_params& p, const float* centroids,
                                                                   std::vector<std::uint32_t> list_group,
                                                                   std::vector<float> rotations,
                                                                   std::vector<float> pq);

  /// Groups with stored local codebooks (G).
  std::size_t num_groups() const noexcept { return num_groups_; }
  /// Lists that use local codebooks (list_group() ≠ k_global_group).
  std::size_t num_local_lists() const noexcept { return num_local_lists_; }
  /// num_partitions entries: the stored group of each list, or k_global_group.
  const std::vector<std::uint32_t>& list_group() const noexcept { return list_group_; }
  /// G × d × d row-major.
  const std::vector<float>& rotations() const noexcept { return rotations_; }
  /// G × M × ksub × dsub row-major.
  const std::vector<float>& pq_codebooks() const noexcept { return pq_; }
  /// Heap bytes of everything held (layout comment above).
  std::size_t memory_bytes() const noexcept;

  // ---- hooks of codebook_set (see codebook_set.cpp) ----

  /// For a list with local codebooks: its centroid in the group's space (R_g c_l, d floats), the group's
  /// codebooks (M × ksub × dsub) and codeword norms (M × ksub); returns false (outputs untouched) for a
  /// list on the global codebooks.
  bool list_space(std::uint32_t list, const float** rotated_centroid, const float** pq,
                  const float** code_norms) const noexcept;
  /// PQ-encodes n prepared vectors in the given lists: each row with its list's group's rotation and
  /// codebooks, or with global_rotation (d × d, nullptr = none) and global_pq (M × ksub × dsub) for a
  /// list on the global codebooks. centroids: num_partitions × d; codes: n × code_size.
  void encode_in_lists(const float* prepared, std::size_t n, const std::uint32_t* lists, const float* centroids,
                       const float* global_rotation, const float* global_pq, std::uint8_t* codes) const;
  /// Reconstruction c_list + R_gᵀ û of one code (global codebooks as in encode_in_lists). out: d floats.
  void decode(std::uint32_t list, const std::uint8_t* code, const float* centroids, const float* global_rotation,
              const float* global_pq, float* out) const;
  /// Overwrites the rows of the lists with local codebooks in the per-list term
  ///   t: nlist × M × ksub, t[l][m][c] = scale · (‖u_mc‖² + 2⟨(R_g c_l)_m, u_mc⟩).
  void fill_list_terms(float scale, float* t) const;
  /// Adds the per-group query tables to nq plans whose query and lists are set: local_tables gets one
  /// M × ksub table per distinct group among the probed lists (in the order first probed), −2⟨(R_g q)_m,
  /// u_mc⟩ (⟨(R_g q)_m, u_mc⟩ under dot), and probe_table[i] its index (k_global_group: the global
  /// query_table). One product per group over the rows of the block that probe it, so a plan does not
  /// depend on its batch.
  void plan_tables(query_plan* plans, std::size_t nq, bool dot) const;

private:
  local_codebooks(const index_params& p, const float* centroids, std::vector<std::uint32_t> list_group,
                  std::vector<float> rotations, std::vector<float> pq);

  std::size_t d_, M_, ksub_, dsub_, code_size_;
  unsigned nbits_;
  std::size_t num_groups_ = 0, num_local_lists_ = 0;
  std::vector<std::uint32_t> list_group_;  // nlist
  std::vector<float> rotations_;           // G × d × d
  std::vector<float> pq_;                  // G × M × ksub × dsub
  std::vector<float> code_norms_;          // G × M × ksub: ‖u_mc‖²
  std::vector<float> rotated_centroids_;   // nlist × d: R_g(l) c_l (zeros for lists on the global codebooks)
};

}  // namespace ivfstream
