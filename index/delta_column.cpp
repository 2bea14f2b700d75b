#include "index/delta_column.hpp"

#include <algorithm>
#include <limits>

#include "kernels/assert.hpp"

namespace ivfstream {

namespace {
constexpr std::uint64_t k_span = std::numeric_limits<std::uint32_t>::max();  // largest offset in a narrow block
}  // namespace

void delta_column::read(std::size_t first, std::size_t n, std::uint64_t* out) const noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = (*this)[first + i];
}

void delta_column::store(std::size_t i, std::uint64_t v) noexcept {
  const std::size_t b = i / k_block;
  if (is_wide(b)) {
    high_[base_[b] * k_block + i % k_block] = static_cast<std::uint32_t>(v >> 32);
    low_[i] = static_cast<std::uint32_t>(v);
  } else {
    low_[i] = static_cast<std::uint32_t>(v - base_[b]);
  }
}

void delta_column::widen(std::size_t b) {
  const std::size_t first = b * k_block, last = std::min(size(), first + k_block);
  const std::size_t w = high_.size() / k_block;
  high_.resize(high_.size() + k_block, 0);
  for (std::size_t i = first; i < last; ++i) {
    const std::uint64_t v = base_[b] + low_[i];
    high_[w * k_block + (i - first)] = static_cast<std::uint32_t>(v >> 32);
    low_[i] = static_cast<std::uint32_t>(v);
  }
  base_[b] = w;
  wide_[b / 64] |= std::uint64_t{1} << (b % 64);
}

void delta_column::make_room(std::size_t b, std::uint64_t v, std::size_t skip) {
  const std::uint64_t base = base_[b];
  if (v >= base && v - base <= k_span) return;
  // The block's range with v: re-base to its minimum if it still spans < 2³², else widen.
  const std::size_t first = b * k_block, last = std::min(size(), first + k_block);
  std::uint64_t lo = v, hi = v;
  for (std::size_t i = first; i < last; ++i) {
    if (i == skip) continue;
    lo = std::min(lo, base + low_[i]);
    hi = std::max(hi, base + low_[i]);
  }
  if (hi - lo > k_span) {
    widen(b);
    return;
  }
  for (std::size_t i = first; i < last; ++i)
    if (i != skip) low_[i] = static_cast<std::uint32_t>(base + low_[i] - lo);
  base_[b] = lo;
}

void delta_column::push_back(std::uint64_t v) {
  const std::size_t i = size(), b = i / k_block;
  if (i % k_block == 0) {
    if (b % 64 == 0) wide_.push_back(0);
    base_.push_back(v);
    low_.push_back(0);
    return;
  }
  if (!is_wide(b)) make_room(b, v, i);  // i == size(): no entry skipped
  low_.push_back(0);
  store(i, v);
}

void delta_column::set(std::size_t i, std::uint64_t v) {
  IVF_ASSERT(i < size());
  const std::size_t b = i / k_block;
  if (!is_wide(b)) make_room(b, v, i);
  store(i, v);
}

void delta_column::clear() noexcept {
  low_.clear();
  base_.clear();
  high_.clear();
  wide_.clear();
}

void delta_column::reserve(std::size_t n) {
  const std::size_t blocks = (n + k_block - 1) / k_block;
  low_.reserve(n);
  base_.reserve(blocks);
  wide_.reserve((blocks + 63) / 64);
}

void delta_column::shrink_to_fit() {
  low_.shrink_to_fit();
  base_.shrink_to_fit();
  high_.shrink_to_fit();
  wide_.shrink_to_fit();
}

std::size_t delta_column::used_bytes() const noexcept {
  return low_.size() * sizeof(std::uint32_t) + base_.size() * sizeof(std::uint64_t) +
         high_.size() * sizeof(std::uint32_t) + wide_.size() * sizeof(std::uint64_t);
}

std::size_t delta_column::capacity_bytes() const noexcept {
  return low_.capacity() * sizeof(std::uint32_t) + base_.capacity() * sizeof(std::uint64_t) +
         high_.capacity() * sizeof(std::uint32_t) + wide_.capacity() * sizeof(std::uint64_t);
}

}  // namespace ivfstream
