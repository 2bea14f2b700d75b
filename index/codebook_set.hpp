#pragma once
// The trained, immutable half of an IVF-PQ index: coarse centroids (IVF), residual product-quantiser
// codebooks (PQ) and the per-list precomputed term of the ADC tables. Shared by every partition and
// query as std::shared_ptr<const codebook_set>; a retrain makes a new one with version + 1.
//
// Metrics (DESIGN.md "Semantics to keep exact"):
//  - l2:     vectors as given; IVF and PQ by squared L2; distance ‖q − x‖².
//  - cosine: vectors L2-normalised at insert and query, then quantised with L2 on the unit sphere;
//            distance 1 − cos = ‖q − x‖² / 2 for unit vectors (the ADC tables carry the ½).
//  - dot:    vectors as given. Data are assigned to lists and PQ-encoded by L2 (k-means minimises the
//            residual ‖x − c‖, which bounds the error of every ⟨q, r⟩ estimate whatever q is), and
//            lists are probed by largest ⟨q, c⟩, the list's share of the score ⟨q, x⟩ = ⟨q, c⟩ + ⟨q, r⟩.
//            Distance 1 − ⟨q, x⟩. Measured (20k × 32 clustered, 64 lists, M = 16, refine 4, recall@10 at
//            nprobes 2/4/8): probing by largest ⟨q, c⟩ 0.78/0.90/0.97 against 0.45/0.63/0.76 by nearest
//            ‖q − c‖; with norms varying ×0.3…3: 0.72/0.83/0.95 against 0.04/0.11/0.21.
//
// ADC derivation for l2/cosine, x = c + r, r = (r_1 … r_M) by sub-space:
//   ‖q − c − r‖² = ‖q − c‖² + Σ_m (‖r_m‖² + 2⟨c_m, r_m⟩) − 2 Σ_m ⟨q_m, r_m⟩
// The middle term depends on the list and the code only: precomputed once per codebook_set as
// T[list][m][c] (nlist × M × ksub floats), so a probed list's table is qt + T[list] (one add per
// entry) and its bias ‖q − c‖². When T would exceed k_max_precomputed_bytes it is computed per probe.
// Where T is precomputed (entry_terms()), the lists go one step further and keep each entry's
// Σ_m T[list][m][code_m] (one float, inverted_list terms, summed at append): a probe then scans the
// query's own table qt, shared by every list it probes, and adds the entry's term, so no per-list
// table is built at query time (at Fashion-MNIST PQ16x8, 256 lists, that add was ~11 % of a search).
//
// OPQ (params.opq, index/opq_rotation.hpp): residuals are rotated by an orthogonal R before PQ, so the
// PQ codebooks, codes, T (from rotated centroids R c) and the query tables (from R q) live in the
// rotated space; centroids, probing and the bias ‖q − c‖² are unrotated; decode rotates back. With the
// IMI coarse quantizer the same holds per cell: R c_ij = R (c1_i ‖ 0) + R (0 ‖ c2_j) (imi_rot1_/imi_rot2_).
//
// LOPQ (params.lopq, index/local_codebooks.hpp): the lists of a group with local codebooks encode, decode
// and take their T rows and query table from the group's own rotation and PQ codebooks (the members
// here stay the global fallback); plan_queries adds one query table per distinct probed group.
//
// Additive quantizers (params.quantizer rq | lsq, index/additive_quantizer.hpp): pq_codebooks() holds
// the (M − 1) × 256 × d full-dimension codebooks followed by the 256 norm levels, M = num_sub_vectors;
// code byte M − 1 is the norm byte, a level of ‖r̂‖² (layout in additive_quantizer.hpp). The query
// table rows 0..M−2 are −2⟨q, a_mk⟩ (⟨q, a_mk⟩ under dot), list-independent (one product per query
// block), and row M − 1 is the level table (zeros under dot); precomputed_ holds s·2⟨c_l, a_mk⟩ with a
// zero last row, so list_table is PQ's fused add and the 8-bit ADC scan is unchanged.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "index/error.hpp"
#include "index/index_params.hpp"
#include "index/local_codebooks.hpp"
#include "index/query_plan.hpp"
#include "kernels/kernel_table.hpp"

namespace ivfstream {

class additive_codec;

/// The ADC form of one probed list (codebook_set::probe):
///   distance(slot) = scale · Σ_m lut[m·ksub + code_m] + bias + (terms ? list.term(slot) : 0)
/// computed in that order (for scale = 1 and no terms: bias + Σ_m lut[…], adc_scan's own sum).
/// lut: M × ksub floats, row-major, either the caller's buffer or the plan's query table.
struct probe_table {
  const float* lut = nullptr;
  float bias = 0.0f;
  float scale = 1.0f;
  bool terms = false;   ///< add the list's per-entry term (inverted_list::terms)
  bool shared = false;  ///< lut is the plan's query table (scale · Σ + bias + term), not a list table
};

class multi_index_quantizer;

/// Largest per-list precomputed table kept (bytes); above it the term is computed per probe.
inline constexpr std::size_t k_max_precomputed_bytes = std::size_t{256} << 20;

/// Trained codebooks. Immutable after construction: every const member is safe to call from any
/// number of threads at once.
class codebook_set {
public:
  /// Trains on x (n × d, as given by the user: normalised here for cosine). Coarse k-means on a
  /// seeded sample of sample_rate × num_partitions vectors; PQ k-means per sub-space on the residuals
  /// of a seeded sample of sample_rate × 2^num_bits vectors (both capped at n).
  /// Errors: invalid params (validate_for_training), n < 2^num_bits (PQ needs as many training
  /// vectors as sub-centroids), NaN/Inf, a zero vector under cosine.
  static result<std::shared_ptr<const codebook_set>> train(const index_params& p, const float* x, std::size_t n,
                                                           std::uint64_t version = 1);
  /// As train(), but keeps the given coarse centroids (num_partitions × d, prepared space; e.g. the
  /// live version's) and trains only the PQ (and OPQ rotation) on the residuals to them: a retrain
  /// that moves no vector between lists. Errors as train(), and centroids of the wrong size.
  static result<std::shared_ptr<const codebook_set>> train_with_centroids(const index_params& p, const float* x,
                                                                          std::size_t n, std::vector<float> centroids,
                                                                          std::uint64_t version);
  /// Rebuilds from stored arrays (snapshot, codebooks topic): checks params, sizes and finiteness.
  ///   centroids: num_partitions × d; pq_codebooks: M × ksub × dsub (row-major);
  ///   rotation: d × d row-major (opq_rotation.hpp) when p.opq, else empty; must be orthogonal (1e-3).
  ///   local: the LOPQ arrays (local_codebooks::from_parts) when p.lopq, else empty.
  static result<std::shared_ptr<const codebook_set>> from_parts(const index_params& p, std::uint64_t version,
                                                                std::vector<float> centroids,
                                                                std::vector<float> pq_codebooks,
                                                                std::vector<float> rotation = {},
                                                                lopq_parts local = {});

  const index_params& params() const noexcept { return params_; }
  std::uint64_t version() const noexcept { return version_; }
  std::size_t dimension() const noexcept { return params_.dimension; }
  /// Bytes of one packed code: ceil(M · nbits / 8).
  std::size_t code_size() const noexcept { return code_size_; }
  std::size_t num_partitions() const noexcept { return params_.num_partitions; }
  std::size_t num_sub_vectors() const noexcept { return params_.num_sub_vectors; }
  std::size_t ksub() const noexcept { return params_.ksub(); }
  std::size_t dsub() const noexcept { return params_.dsub(); }
  /// The coarse quantizer: num_partitions × d, row-major (flat); under imi the two half codebooks,
  /// 2^imi_bits × d floats (layout: index/multi_index_quantizer.hpp). index_params::coarse_floats().
  const std::vector<float>& centroids() const noexcept { return centroids_; }
  /// The IMI quantizer (params().coarse_quantizer = imi), else nullptr.
  const multi_index_quantizer* imi() const noexcept { return imi_.get(); }
  /// Writes the coarse centroid of `list` (d floats, prepared space). @pre list < num_partitions().
  void list_centroid(std::uint32_t list, float* out) const noexcept;
  /// M × ksub × dsub, row-major (pq); (M − 1) × 256 × d then 256 norm levels (rq/lsq).
  const std::vector<float>& pq_codebooks() const noexcept { return pq_; }
  /// OPQ rotation R, d × d row-major (y = R x, opq_rotation.hpp); empty when params().opq is false.
  const std::vector<float>& rotation() const noexcept { return rotation_; }
  /// LOPQ codebooks (params().lopq; index/local_codebooks.hpp), else nullptr.
  const local_codebooks* local() const noexcept { return local_.get(); }
  /// True when the per-list term T is precomputed (else it is computed per probe).
  bool has_precomputed_table() const noexcept { return !precomputed_.empty() || !imi_t1_.empty(); }
  /// Heap bytes of centroids, codebooks and tables.
  std::size_t memory_bytes() const noexcept;
  /// The kernels this set scans with (chosen at construction).
  const kernels::kernel_table& kernels() const noexcept { return *kt_; }
  /// Where train()/train_with_centroids() ran the k-means of this set in this process, after any
  /// accelerator=auto fallback: "cpu" or "cuda" when every k-means stage ran there (a kept coarse
  /// quantizer is not a stage), else "coarse <device>, codebooks <device>" (rq/lsq codebooks always
  /// train on the CPU). Empty for a set rebuilt from stored arrays (from_parts). Runtime only: not saved.
  const std::string& training_device() const noexcept { return training_device_; }

  /// Validates n vectors of dimension() (NaN/Inf; zero norm under cosine); for cosine writes the
  /// normalised copy into `out` (n × d), else copies. `out` may equal `x`.
  status prepare_vectors(const float* x, std::size_t n, float* out) const;
  /// The same preparation before any codebooks exist (it depends on p.metric and p.dimension only).
  static status prepare_vectors(const index_params& p, const float* x, std::size_t n, float* out);
  /// Nearest list (L2) of each prepared vector. lists: n.
  void assign(const float* prepared, std::size_t n, std::uint32_t* lists) const;
  /// Assigns prepared vectors to lists and PQ-encodes their residuals. lists: n; codes: n × code_size.
  void encode(const float* prepared, std::size_t n, std::uint32_t* lists, std::uint8_t* codes) const;
  /// PQ-encodes prepared vectors against given lists (re-encoding, tests). codes: n × code_size.
  void encode_in_lists(const float* prepared, std::size_t n, const std::uint32_t* lists,
                       std::uint8_t* codes) const;
  /// Reconstruction c_list + r(code) of one code (prepared space, unrotated under OPQ). out: d floats.
  void decode(std::uint32_t list, const std::uint8_t* code, float* out) const;

  /// Per-query work done once: validate and normalise (cosine), nearest min(nprobes, nlist) lists,
  /// query table. q: d floats. Errors: nprobes = 0, NaN/Inf, zero query under cosine.
  result<query_plan> plan_query(const float* q, std::size_t nprobes) const;
  /// Batch version (q: nq × d): one matmul for the coarse distances and one per sub-space for the
  /// query tables, in blocks of 256 queries. A query's plan does not depend on the batch it is in
  /// (kernels::matmul_nt rows are batch-independent): plan_query(q) equals plan_queries(…)[i] bit for bit.
  result<std::vector<query_plan>> plan_queries(const float* q, std::size_t nq, std::size_t nprobes) const;
  /// Fills lut (M × ksub floats, row-major) for probe i of plan and returns its bias, so that
  /// bias + Σ_m lut[m·ksub + code_m] estimates the reported distance (LanceDB semantics).
  /// @pre i < plan.lists.size().
  float list_table(const query_plan& plan, std::size_t i, float* lut) const;
  /// True when lists keep a per-entry term (l2/cosine with the precomputed T, codes of 6-12 bits, pq
  /// quantizer, flat or LOPQ coarse quantizer): entry_term(list, code) = Σ_m s·T[list][m][code_m], so a
  /// probe scans the query's own table (probe_table) and the per-list table add disappears.
  bool entry_terms() const noexcept;
  /// Σ_m s·T[list][m][code_m], summed in order m = 0 … M − 1 (s = 1 for l2, ½ for cosine); 0 when
  /// entry_terms() is false. code: code_size() bytes. @pre list < num_partitions().
  float entry_term(std::uint32_t list, const std::uint8_t* code) const noexcept;
  /// How probe i of plan is scanned in a list that keeps terms or not (list_scan.hpp applies it):
  /// the shared query table when entry_terms() and the list keeps terms, or under dot (no per-list
  /// term at all); otherwise the list's own table, written to lut (M × ksub floats) by list_table.
  /// @pre i < plan.lists.size(); num_bits != 4 for the shared forms (fast-scan quantises list tables).
  probe_table probe(const query_plan& plan, std::size_t i, bool list_keeps_terms, float* lut) const;
  /// Exact distance (LanceDB semantics) between a prepared query and a prepared raw vector.
  float exact_distance(const float* prepared_q, const float* prepared_x) const;

private:
  codebook_set(const index_params& p, std::uint64_t version, std::vector<float> centroids,
               std::vector<float> pq_codebooks, std::vector<float> rotation,
               std::shared_ptr<const local_codebooks> local = nullptr);
  /// Centroids in the PQ space: rotated_centroids_ under OPQ, else centroids_ (nlist × d).
  const float* pq_space_centroids() const noexcept {
    return rotation_.empty() ? centroids_.data() : rotated_centroids_.data();
  }
  void build_tables();
  /// IMI: imi_t1_, imi_t2_ (layout below).
  void build_imi_tables();
  /// IMI: the probed cells of nb prepared queries (plans[0 .. nb): query, lists, coarse).
  void plan_imi_probes(const float* prepared, std::size_t nb, std::size_t probes, query_plan* plans) const;
  /// IMI: lut = s·(qt + T[list]) (l2/cosine), from imi_t1_/imi_t2_ or computed per probe.
  void imi_list_table(std::uint32_t list, float scale, const float* qt, float* lut) const;
  /// train() and train_with_centroids(): keep_centroids (moved from) replaces the coarse k-means.
  static result<std::shared_ptr<const codebook_set>> train_impl(const index_params& p, const float* x, std::size_t n,
                                                                std::uint64_t version,
                                                                std::vector<float>* keep_centroids);

  index_params params_;
  std::uint64_t version_;
  std::string training_device_;  // see training_device(); set by train_impl only
  std::size_t code_size_;
  const kernels::kernel_table* kt_;
  std::vector<float> centroids_;        // nlist × d
  std::vector<float> centroid_norms_;   // nlist: ‖c‖²
  std::vector<float> pq_;               // M × ksub × dsub
  std::vector<float> rotation_;         // d × d row-major (OPQ R) or empty
  std::vector<float> rotated_centroids_;  // nlist × d: R c_l per row (OPQ) or empty
  std::vector<float> code_norms_;       // M × ksub: ‖r_mc‖²
  std::vector<float> pq_t_;             // M × dsub × ksub: pq_ transposed per sub-space (query tables); empty for rq/lsq
  std::vector<float> encode_table_;     // kernels::pq_encode_table of pq_ (layout: kernels/pq_encode.hpp); empty for rq/lsq
  std::shared_ptr<const additive_codec> additive_;  // rq/lsq: encoder over the additive codebooks, else null
  std::vector<float> precomputed_;      // nlist × M × ksub: s·(‖r_mc‖² + 2⟨c_list,m, r_mc⟩), s = 1 (l2) or ½ (cosine); or empty
  // IMI (index/multi_index_quantizer.hpp): cell (i, j)'s per-list term splits by half, since sub-space m
  // holds ⟨c_ij,m, r_mc⟩ = ⟨c1_i part, r_mc part⟩ + ⟨c2_j part, r_mc part⟩ (a sub-space may straddle d1):
  //   imi_t1_: K × M × ksub, s·(‖r_mc‖² + 2⟨c1_i ∩ sub-space m, r_mc⟩) (0 for the sub-spaces right of d1);
  //   imi_t2_: K × (M − imi_m_lo_) × ksub, s·2⟨c2_j ∩ sub-space m, r_mc⟩ for m ≥ imi_m_lo_ = floor(d1 / dsub).
  // K·(2M − imi_m_lo_)·ksub floats instead of K²·M·ksub; empty (computed per probe) over k_max_precomputed_bytes.
  std::shared_ptr<const multi_index_quantizer> imi_;
  std::vector<float> imi_t1_, imi_t2_;
  std::size_t imi_m_lo_ = 0;
  // IMI + OPQ: R c_ij = R (c1_i ‖ 0) + R (0 ‖ c2_j), so the rotated cell centroid is a sum of two rotated
  // halves; imi_rot1_ / imi_rot2_: K × d each, row i = R (c1_i ‖ 0) / R (0 ‖ c2_i); empty without OPQ.
  // Every rotated sub-space then takes a share of both halves: imi_m_lo_ = 0 and imi_t2_ is K × M × ksub.
  std::vector<float> imi_rot1_, imi_rot2_;
  // LOPQ (params.lopq): per-group rotations and codebooks; the lists of local groups take their
  // encode/decode, query table and T rows from here (local_codebooks.hpp), the others the members above.
  std::shared_ptr<const local_codebooks> local_;
};

}  // namespace ivfstream
