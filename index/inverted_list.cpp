#include "index/inverted_list.hpp"

#include <limits>

namespace ivfstream {

inverted_list::inverted_list(std::size_t code_size, std::size_t fast_scan_m, bool keep_rows)
    : code_size_(code_size), fast_scan_m_(fast_scan_m), keep_rows_(keep_rows) {
  IVF_ASSERT(code_size >= 1);
  IVF_ASSERT(fast_scan_m == 0 || code_size == (fast_scan_m + 1) / 2);
}

void inverted_list::reset_live_bits(std::size_t n) {
  live_bits_.assign((n + 63) / 64, ~std::uint64_t{0});
  if (n % 64 != 0) live_bits_.back() = (std::uint64_t{1} << (n % 64)) - 1;
  live_ = n;
}

std::uint32_t inverted_list::append(std::uint64_t id, const std::uint8_t* code, std::uint64_t row) {
  // Slots are u32 (the id map stores them so): 4 G entries per list is far beyond any sane list.
  IVF_ASSERT(ids_.size() < std::numeric_limits<std::uint32_t>::max());
  const auto slot = static_cast<std::uint32_t>(ids_.size());
  ids_.push_back(id);
  if (keep_rows_) rows_.push_back(row);
  if (fast_scan_m_ > 0) {
    if (slot % kernels::k_fast_scan_block == 0)
      blocks_.resize(blocks_.size() + kernels::fast_scan_block_bytes(fast_scan_m_), 0);
    kernels::fast_scan_write(blocks_.data(), fast_scan_m_, slot, code);
  } else {
    codes_.insert(codes_.end(), code, code + code_size_);
  }
  if ((slot & 63) == 0) live_bits_.push_back(0);
  live_bits_[slot >> 6] |= std::uint64_t{1} << (slot & 63);
  ++live_;
  return slot;
}

void inverted_list::read_codes(std::size_t first, std::size_t n, std::uint8_t* out) const noexcept {
  if (n == 0) return;  // an empty list: out and codes_.data() may both be null (memcpy forbids that)
  if (fast_scan_m_ == 0) {
    std::memcpy(out, codes_.data() + first * code_size_, n * code_size_);
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    kernels::fast_scan_read(blocks_.data(), fast_scan_m_, first + i, out + i * code_size_);
}

void inverted_list::tombstone(std::uint32_t slot) {
  IVF_ASSERT(slot < ids_.size());
  auto& word = live_bits_[slot >> 6];
  const std::uint64_t bit = std::uint64_t{1} << (slot & 63);
  if (word & bit) {
    word &= ~bit;
    --live_;
  }
}

void inverted_list::shrink_to_fit() {
  codes_.shrink_to_fit();
  blocks_.shrink_to_fit();
  ids_.shrink_to_fit();
  rows_.shrink_to_fit();
  live_bits_.shrink_to_fit();
}

void inverted_list::reserve(std::size_t n) {
  if (fast_scan_m_ > 0) blocks_.reserve(kernels::fast_scan_bytes(n, fast_scan_m_));
  else codes_.reserve(n * code_size_);
  ids_.reserve(n);
  if (keep_rows_) rows_.reserve(n);
  live_bits_.reserve((n + 63) / 64);
}

}  // namespace ivfstream
