// LOPQ: per-group rotation + PQ codebooks (layouts and derivation: index/local_codebooks.hpp).
#include "index/local_codebooks.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "index/opq_rotation.hpp"
#include "kernels/accelerator.hpp"
#include "kernels/assert.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kmeans.hpp"
#include "kernels/pq_codes.hpp"

namespace ivfstream {

namespace {

/// Rows encoded or planned per block: bounds scratch memory whatever n is.
constexpr std::size_t k_block_rows = 1024;
/// Seed mixers (so the grouping, sampling and rotations of LOPQ draw other numbers than the global PQ).
constexpr std::uint64_t k_group_seed = 0x6c6f70712d67ull, k_sample_seed = 0x6c6f70712d73ull,
                        k_rotation_seed = 0x6c6f70712d72ull;
/// Allowed deviation of a stored rotation from orthogonality (as codebook_set::from_parts for OPQ).
constexpr double k_max_orthogonality_error = 1e-3;

std::string str(std::size_t v) { return std::to_string(v); }

/// Copies sub-space m (dsub columns from m·dsub) of n rows of width d into out (n × dsub).
void gather_columns(const float* x, std::size_t n, std::size_t d, std::size_t m, std::size_t dsub, float* out) {
  for (std::size_t i = 0; i < n; ++i) std::copy_n(x + i * d + m * dsub, dsub, out + i * dsub);
}

/// A seeded uniform choice of `count` of the given rows (all of them when there are fewer), ascending.
std::vector<std::size_t> choose_rows(std::vector<std::size_t> rows, std::size_t count, std::uint64_t seed) {
  if (rows.size() <= count) return rows;
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < count; ++i) {  // partial Fisher–Yates
    std::uniform_int_distribution<std::size_t> pick(i, rows.size() - 1);
    std::swap(rows[i], rows[pick(rng)]);
  }
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

/// PQ-encodes nb residual rows (nb × d, overwritten by the rotated rows when rotation is set) with
/// codebooks pq (M × ksub × dsub). Scratch: rotated (nb × d), sub (nb × dsub), labels (nb),
/// sub_codes (nb × M). codes: nb × code_size.
struct block_encoder {
  std::size_t d, M, ksub, dsub;
  unsigned nbits;
  std::vector<float> rotated, sub;
  std::vector<std::uint32_t> labels;
  std::vector<std::uint16_t> sub_codes;

  void encode(float* residual, std::size_t nb, const float* rotation, const float* pq, std::uint8_t* codes) {
    rotated.resize(nb * d);
    sub.resize(nb * dsub);
    labels.resize(nb);
    sub_codes.resize(nb * M);
    const float* y = residual;
    if (rotation) {
      rotate_rows(rotation, d, residual, nb, rotated.data());
      y = rotated.data();
    }
    for (std::size_t m = 0; m < M; ++m) {
      gather_columns(y, nb, d, m, dsub, sub.data());
      kernels::assign_nearest(sub.data(), nb, pq + m * ksub * dsub, ksub, dsub, labels.data(), nullptr);
      for (std::size_t i = 0; i < nb; ++i) sub_codes[i * M + m] = static_cast<std::uint16_t>(labels[i]);
    }
    kernels::pack_codes(sub_codes.data(), nb, M, nbits, codes);
  }
};

}  // namespace

local_codebooks::local_codebooks(const index_params& p, const float* centroids, std::vector<std::uint32_t> list_group,
                                 std::vector<float> rotations, std::vector<float> pq)
    : d_(p.dimension),
      M_(p.num_sub_vectors),
      ksub_(p.ksub()),
      dsub_(p.dsub()),
      code_size_(p.code_size()),
      nbits_(p.num_bits),
      num_groups_(rotations.size() / (p.dimension * p.dimension)),
      list_group_(std::move(list_group)),
      rotations_(std::move(rotations)),
      pq_(std::move(pq)) {
  code_norms_.resize(num_groups_ * M_ * ksub_);
  for (std::size_t j = 0; j < code_norms_.size(); ++j) {
    const float* u = &pq_[j * dsub_];
    float s = 0;
    for (std::size_t k = 0; k < dsub_; ++k) s += u[k] * u[k];
    code_norms_[j] = s;
  }
  rotated_centroids_.assign(list_group_.size() * d_, 0.0f);
  for (std::size_t l = 0; l < list_group_.size(); ++l) {
    if (list_group_[l] == k_global_group) continue;
    ++num_local_lists_;
    rotate_rows(&rotations_[std::size_t{list_group_[l]} * d_ * d_], d_, centroids + l * d_, 1,
                &rotated_centroids_[l * d_]);
  }
}

std::size_t local_codebooks::memory_bytes() const noexcept {
  return sizeof(std::uint32_t) * list_group_.capacity() +
         sizeof(float) * (rotations_.capacity() + pq_.capacity() + code_norms_.capacity() +
                          rotated_centroids_.capacity());
}

result<std::shared_ptr<const local_codebooks>> local_codebooks::train(const index_params& p, const float* prepared,
                                                                      std::size_t n, const float* centroids,
                                                                      int threads) {
  IVF_ASSERT(p.lopq && n >= 1);
  const std::size_t d = p.dimension, nlist = p.num_partitions, ksub = p.ksub();
  const std::size_t groups = std::min(p.lopq_groups, nlist);

  // 1. Lists → groups: nearby lists (k-means over the centroids) share, or one group per list.
  std::vector<std::uint32_t> group(nlist);
  if (groups == nlist) {
    std::iota(group.begin(), group.end(), 0u);
  } else {
    kernels::kmeans_options ko;
    ko.max_iterations = p.max_iterations;
    ko.seed = p.seed ^ k_group_seed;
    ko.max_points_per_centroid = nlist;  // every centroid takes part
    ko.max_threads = threads;
    const kernels::kmeans_result km = kernels::kmeans(centroids, nlist, d, groups, ko);
    kernels::assign_nearest(centroids, nlist, km.centroids.data(), groups, d, group.data(), nullptr, threads);
  }

  // 2. The training vectors of each group (by their nearest list).
  std::vector<std::uint32_t> labels(n);
  kernels::assign_nearest(prepared, n, centroids, nlist, d, labels.data(), nullptr, threads);
  std::vector<std::vector<std::size_t>> members(groups);
  for (std::size_t i = 0; i < n; ++i) members[group[labels[i]]].push_back(i);

  // 3. Fallback rule: a group with fewer than lopq_min_points × 2^num_bits vectors keeps the global
  //    codebooks. The others are stored in group order, numbered densely.
  const std::size_t min_rows = p.lopq_min_points > SIZE_MAX / ksub ? SIZE_MAX : p.lopq_min_points * ksub;
  std::vector<std::uint32_t> stored(groups, k_global_group);
  std::uint32_t next = 0;
  for (std::size_t g = 0; g < groups; ++g)
    if (members[g].size() >= min_rows && members[g].size() >= ksub) stored[g] = next++;
  std::vector<std::uint32_t> list_group(nlist);
  for (std::size_t l = 0; l < nlist; ++l) list_group[l] = stored[group[l]];

  // 4. Per stored group: residuals of a seeded sample of ≤ sample_rate × 2^num_bits of its vectors,
  //    OPQ rotation (lopq_iterations alternations), PQ k-means per sub-space on the rotated residuals.
  const kernels::accelerator_choice cpu;  // the groups are small: CPU (the global PQ honours p.accelerator)
  const kernels::log_sink log = kernels::stderr_log_sink();
  std::vector<float> rotations, pq;
  rotations.reserve(std::size_t{next} * d * d);
  pq.reserve(std::size_t{next} * ksub * d);
  const std::size_t cap = p.sample_rate > SIZE_MAX / ksub ? SIZE_MAX : p.sample_rate * ksub;
  for (std::size_t g = 0; g < groups; ++g) {
    if (stored[g] == k_global_group) continue;
    const std::vector<std::size_t> rows = choose_rows(std::move(members[g]), cap, p.seed ^ k_sample_seed ^ (g << 20));
    const std::size_t cnt = rows.size();
    std::vector<float> residual(cnt * d), rotated(cnt * d);
    for (std::size_t i = 0; i < cnt; ++i) {
      const float* x = prepared + rows[i] * d;
      const float* c = centroids + std::size_t{labels[rows[i]]} * d;
      for (std::size_t j = 0; j < d; ++j) residual[i * d + j] = x[j] - c[j];
    }
    opq_options oo;
    oo.num_sub_vectors = p.num_sub_vectors;
    oo.num_bits = p.num_bits;
    oo.iterations = p.lopq_iterations;
    oo.kmeans_iterations = std::min<std::size_t>(p.max_iterations, 20);
    oo.seed = p.seed ^ k_rotation_seed ^ (g << 20);
    const std::vector<float> r = train_opq_rotation(residual.data(), cnt, d, oo);
    rotate_rows(r.data(), d, residual.data(), cnt, rotated.data());
    kernels::kmeans_options po;
    po.max_iterations = p.max_iterations;
    po.seed = p.seed + 1 + (g << 20);
    po.max_points_per_centroid = p.sample_rate;
    po.max_threads = threads;
    po.init = kernels::kmeans_init::random_rows;  // as the global PQ (codebook_set.cpp says why)
    std::vector<float> group_pq;
    const kernels::device_status st =
        kernels::train_pq_codebooks(cpu, rotated.data(), cnt, d, p.num_sub_vectors, ksub, po, log, &group_pq);
    if (!st) return fail(errc::internal, "lopq group " + str(g) + ": PQ training failed: " + st.message());
    rotations.insert(rotations.end(), r.begin(), r.end());
    pq.insert(pq.end(), group_pq.begin(), group_pq.end());
  }
  return std::shared_ptr<const local_codebooks>(
      new local_codebooks(p, centroids, std::move(list_group), std::move(rotations), std::move(pq)));
}

result<std::shared_ptr<const local_codebooks>> local_codebooks::from_parts(const index_params& p,
                                                                           const float* centroids,
                                                                           std::vector<std::uint32_t> list_group,
                                                                           std::vector<float> rotations,
                                                                           std::vector<float> pq) {
  const std::size_t d = p.dimension, nlist = p.num_partitions;
  if (list_group.size() != nlist)
    return fail(errc::corrupt_data, "lopq: list_group holds " + str(list_group.size()) +
                                        " entries, expected num_partitions = " + str(nlist));
  // Sizes by division (the group count comes from the data, never multiplied from untrusted numbers).
  const std::size_t rot_floats = d * d, pq_floats = p.ksub() * d;  // both checked by validate/from_parts
  if (rotations.size() % rot_floats != 0)
    return fail(errc::corrupt_data, "lopq: rotations hold " + str(rotations.size()) +
                                        " floats, not a multiple of dimension × dimension = " + str(rot_floats));
  const std::size_t groups = rotations.size() / rot_floats;
  if (pq.size() % pq_floats != 0 || pq.size() / pq_floats != groups)
    return fail(errc::corrupt_data, "lopq: pq_codebooks hold " + str(pq.size()) + " floats, expected groups × 2^" +
                                        "num_bits × dimension = " + str(groups) + " × " + str(pq_floats));
  if (groups > nlist)
    return fail(errc::corrupt_data, "lopq: " + str(groups) + " groups stored, more than num_partitions = " +
                                        str(nlist));
  std::vector<bool> used(groups, false);
  for (std::size_t l = 0; l < nlist; ++l) {
    const std::uint32_t g = list_group[l];
    if (g == k_global_group) continue;
    if (g >= groups)
      return fail(errc::corrupt_data, "lopq: list " + str(l) + " names group " + str(g) + ", but " + str(groups) +
                                          " are stored (or " + str(k_global_group) + " for the global codebooks)");
    used[g] = true;
  }
  for (std::size_t g = 0; g < groups; ++g)
    if (!used[g]) return fail(errc::corrupt_data, "lopq: group " + str(g) + " is stored but no list uses it");
  for (float v : rotations)
    if (!std::isfinite(v)) return fail(errc::corrupt_data, "lopq: a rotation value is not finite");
  for (float v : pq)
    if (!std::isfinite(v)) return fail(errc::corrupt_data, "lopq: a PQ codebook value is not finite");
  for (std::size_t g = 0; g < groups; ++g) {
    const double e = orthogonality_error(&rotations[g * rot_floats], d);
    if (!(e <= k_max_orthogonality_error))
      return fail(errc::corrupt_data, "lopq: rotation of group " + str(g) + " is not orthogonal (max |RᵀR − I| = " +
                                          std::to_string(e) + ", allowed 1e-3)");
  }
  return std::shared_ptr<const local_codebooks>(
      new local_codebooks(p, centroids, std::move(list_group), std::move(rotations), std::move(pq)));
}

bool local_codebooks::list_space(std::uint32_t list, const float** rotated_centroid, const float** pq,
                                 const float** code_norms) const noexcept {
  const std::uint32_t g = list_group_[list];
  if (g == k_global_group) return false;
  *rotated_centroid = &rotated_centroids_[std::size_t{list} * d_];
  *pq = &pq_[std::size_t{g} * M_ * ksub_ * dsub_];
  *code_norms = &code_norms_[std::size_t{g} * M_ * ksub_];
  return true;
}

void local_codebooks::encode_in_lists(const float* prepared, std::size_t n, const std::uint32_t* lists,
                                      const float* centroids, const float* global_rotation, const float* global_pq,
                                      std::uint8_t* codes) const {
  // Rows ordered by group (global last), each run of one group encoded in blocks with its codebooks.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return list_group_[lists[a]] < list_group_[lists[b]]; });
  block_encoder enc{d_, M_, ksub_, dsub_, nbits_, {}, {}, {}, {}};
  std::vector<float> residual;
  std::vector<std::uint8_t> block_codes;
  for (std::size_t at = 0; at < n;) {
    const std::uint32_t g = list_group_[lists[order[at]]];
    std::size_t end = at;
    while (end < n && end - at < k_block_rows && list_group_[lists[order[end]]] == g) ++end;
    const std::size_t nb = end - at;
    residual.resize(nb * d_);
    block_codes.resize(nb * code_size_);
    for (std::size_t i = 0; i < nb; ++i) {
      const std::size_t row = order[at + i];
      const float* x = prepared + row * d_;
      const float* c = centroids + std::size_t{lists[row]} * d_;
      for (std::size_t j = 0; j < d_; ++j) residual[i * d_ + j] = x[j] - c[j];
    }
    if (g == k_global_group)
      enc.encode(residual.data(), nb, global_rotation, global_pq, block_codes.data());
    else
      enc.encode(residual.data(), nb, &rotations_[std::size_t{g} * d_ * d_], &pq_[std::size_t{g} * M_ * ksub_ * dsub_],
                 block_codes.data());
    for (std::size_t i = 0; i < nb; ++i)
      std::copy_n(&block_codes[i * code_size_], code_size_, codes + order[at + i] * code_size_);
    at = end;
  }
}

void local_codebooks::decode(std::uint32_t list, const std::uint8_t* code, const float* centroids,
                             const float* global_rotation, const float* global_pq, float* out) const {
  const std::uint32_t g = list_group_[list];
  const float* rotation = g == k_global_group ? global_rotation : &rotations_[std::size_t{g} * d_ * d_];
  const float* pq = g == k_global_group ? global_pq : &pq_[std::size_t{g} * M_ * ksub_ * dsub_];
  std::vector<float> u(d_);  // û in the (group's) rotated space
  for (std::size_t m = 0; m < M_; ++m) {
    const std::uint32_t c = kernels::read_sub_code(code, code_size_, m, nbits_);
    std::copy_n(&pq[(m * ksub_ + c) * dsub_], dsub_, &u[m * dsub_]);
  }
  if (rotation)
    unrotate_rows(rotation, d_, u.data(), 1, out);  // Rᵀ û
  else
    std::copy(u.begin(), u.end(), out);
  for (std::size_t j = 0; j < d_; ++j) out[j] += centroids[std::size_t{list} * d_ + j];
}

void local_codebooks::fill_list_terms(float scale, float* t) const {
  // Per group: the rotated centroids of its lists (n_g × dsub per sub-space) against its codewords.
  std::vector<std::vector<std::uint32_t>> lists_of(num_groups_);
  for (std::size_t l = 0; l < list_group_.size(); ++l)
    if (list_group_[l] != k_global_group) lists_of[list_group_[l]].push_back(static_cast<std::uint32_t>(l));
  std::vector<float> cm, ip;
  for (std::size_t g = 0; g < num_groups_; ++g) {
    const std::vector<std::uint32_t>& ls = lists_of[g];
    cm.resize(ls.size() * dsub_);
    ip.resize(ls.size() * ksub_);
    for (std::size_t m = 0; m < M_; ++m) {
      for (std::size_t i = 0; i < ls.size(); ++i)
        std::copy_n(&rotated_centroids_[std::size_t{ls[i]} * d_ + m * dsub_], dsub_, &cm[i * dsub_]);
      const float* u = &pq_[(g * M_ + m) * ksub_ * dsub_];
      const float* norms = &code_norms_[(g * M_ + m) * ksub_];
      kernels::matmul_nt(cm.data(), ls.size(), u, ksub_, dsub_, ip.data());
      for (std::size_t i = 0; i < ls.size(); ++i) {
        float* row = t + (std::size_t{ls[i]} * M_ + m) * ksub_;
        for (std::size_t c = 0; c < ksub_; ++c) row[c] = scale * (norms[c] + 2.0f * ip[i * ksub_ + c]);
      }
    }
  }
}

void local_codebooks::plan_tables(query_plan* plans, std::size_t nq, bool dot) const {
  const std::size_t table = M_ * ksub_;
  // (group, plan, table slot) for every distinct group each plan probes.
  struct need {
    std::uint32_t group;
    std::uint32_t slot;
    std::size_t plan;
  };
  std::vector<need> needs;
  for (std::size_t i = 0; i < nq; ++i) {
    query_plan& plan = plans[i];
    plan.probe_table.assign(plan.lists.size(), k_global_group);
    std::vector<std::uint32_t> groups;  // distinct groups of this plan, first probed first
    for (std::size_t j = 0; j < plan.lists.size(); ++j) {
      const std::uint32_t g = list_group_[plan.lists[j]];
      if (g == k_global_group) continue;
      auto it = std::find(groups.begin(), groups.end(), g);
      if (it == groups.end()) {
        needs.push_back({g, static_cast<std::uint32_t>(groups.size()), i});
        groups.push_back(g);
        it = groups.end() - 1;
      }
      plan.probe_table[j] = static_cast<std::uint32_t>(it - groups.begin());
    }
    plan.local_tables.assign(groups.size() * table, 0.0f);
  }
  std::stable_sort(needs.begin(), needs.end(), [](const need& a, const need& b) { return a.group < b.group; });
  std::vector<float> q, y, sub, ip;
  for (std::size_t at = 0; at < needs.size();) {
    const std::uint32_t g = needs[at].group;
    std::size_t end = at;
    while (end < needs.size() && end - at < k_block_rows && needs[end].group == g) ++end;
    const std::size_t nb = end - at;
    q.resize(nb * d_);
    y.resize(nb * d_);
    sub.resize(nb * dsub_);
    ip.resize(nb * ksub_);
    for (std::size_t i = 0; i < nb; ++i) std::copy_n(plans[needs[at + i].plan].query.data(), d_, &q[i * d_]);
    // matmul_nt's rows do not depend on the other rows (kernels/gemm.hpp): batch-independent plans.
    rotate_rows(&rotations_[std::size_t{g} * d_ * d_], d_, q.data(), nb, y.data());
    for (std::size_t m = 0; m < M_; ++m) {
      gather_columns(y.data(), nb, d_, m, dsub_, sub.data());
      kernels::matmul_nt(sub.data(), nb, &pq_[(std::size_t{g} * M_ + m) * ksub_ * dsub_], ksub_, dsub_, ip.data());
      for (std::size_t i = 0; i < nb; ++i) {
        float* qt = &plans[needs[at + i].plan].local_tables[needs[at + i].slot * table + m * ksub_];
        const float* row = &ip[i * ksub_];
        if (dot)
          std::copy_n(row, ksub_, qt);
        else
          for (std::size_t c = 0; c < ksub_; ++c) qt[c] = -2.0f * row[c];
      }
    }
    at = end;
  }
}

}  // namespace ivfstream
