#pragma once
// What every variant of kernel_table::pq_encode shares: the scalar definition of a centroid's score (the
// scalar reference, and the tail of each SIMD variant when ksub is not a multiple of its width) and the
// walk over sub-spaces that picks a compile-time dsub. Private to kernels/. Internal linkage on purpose
// (anonymous namespace): each *_<isa>.cpp gets its own copy compiled with its own flags, so the linker
// can never substitute an AVX-512 copy into another level's code (an ODR trap with `inline`).
// Layout of the table and of one sub-space `block`: kernels/pq_encode.hpp.
//
// Score of centroid j: e_j = ‖c_j‖² − 2·ip with ip = (…((x_0·c_0 + x_1·c_1) + x_2·c_2) …) + x_{d−1}·c_{d−1}:
// every product rounded, then added in t order. The files that include this are compiled with
// -ffp-contract=off (kernels/CMakeLists.txt): GCC would otherwise fuse a·b + c into one FMA in the
// -mfma files (also in ISO C++ mode) and those scores would differ from the scalar ones in the last bit.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ivfstream::kernels {
namespace {  // NOLINT(google-build-namespaces): see above

/// e_j for the sub-vector xs (dsub floats) and centroid j of `block`. @pre dsub >= 1.
[[maybe_unused]] float pq_encode_score(const float* xs, const float* block, std::size_t ksub, std::size_t dsub,
                                       std::size_t j) noexcept {
  float ip = xs[0] * block[j];
  for (std::size_t t = 1; t < dsub; ++t) ip = ip + xs[t] * block[t * ksub + j];
  return block[dsub * ksub + j] - 2.f * ip;
}

/// Continues an argmin over centroids j0..ksub−1: a score strictly below `best` (never a NaN) replaces
/// best and label, so ties keep the lowest j. Start with best = +inf, label = 0.
[[maybe_unused]] void pq_encode_scan(const float* xs, const float* block, std::size_t ksub, std::size_t dsub,
                                     std::size_t j0, float& best, std::uint32_t& label) noexcept {
  for (std::size_t j = j0; j < ksub; ++j) {
    const float s = pq_encode_score(xs, block, ksub, dsub, j);
    if (s < best) {
      best = s;
      label = static_cast<std::uint32_t>(j);
    }
  }
}

/// For each sub-space m: encode(D, xm, block, out) with D a std::integral_constant<std::size_t, dsub> for
/// dsub 1, 2, 4, 8 (so the variant unrolls its coordinate loop) or <0> otherwise (read dsub), xm = x + m·dsub
/// (rows M·dsub floats apart), block = sub-space m of the table, out = codes + m (rows M apart).
template <class Encode>
void pq_encode_subspaces(const float* table, const float* x, std::size_t M, std::size_t dsub, std::size_t ksub,
                         std::uint16_t* codes, Encode&& encode) {
  for (std::size_t m = 0; m < M; ++m) {
    const float* block = table + m * (dsub + 1) * ksub;
    const float* xm = x + m * dsub;
    switch (dsub) {
      case 1: encode(std::integral_constant<std::size_t, 1>{}, xm, block, codes + m); break;
      case 2: encode(std::integral_constant<std::size_t, 2>{}, xm, block, codes + m); break;
      case 4: encode(std::integral_constant<std::size_t, 4>{}, xm, block, codes + m); break;
      case 8: encode(std::integral_constant<std::size_t, 8>{}, xm, block, codes + m); break;
      default: encode(std::integral_constant<std::size_t, 0>{}, xm, block, codes + m); break;
    }
  }
}

}  // namespace
}  // namespace ivfstream::kernels
