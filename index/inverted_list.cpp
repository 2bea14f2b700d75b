#include "index/inverted_list.hpp"

#include <limits>

namespace ivfstream {

inverted_list::inverted_list(std::size_t code_size, std::size_t fast_scan_m, bool keep_rows, bool keep_terms)
    : code_size_(static_cast<std::uint32_t>(code_size)),
      fast_scan_m_(static_cast<std::uint16_t>(fast_scan_m)),
      keep_rows_(keep_rows),
      keep_terms_(keep_terms) {
  IVF_ASSERT(code_size >= 1 && code_size <= 0xffffffffu && fast_scan_m <= 0xffffu);
  IVF_ASSERT(fast_scan_m == 0 || code_size == (fast_scan_m + 1) / 2);
}

void inverted_list::reset_live_bits(std::size_t n) {
  auto& live_bits_ = mut().live_bits_;
  auto& live_ = b_->live_;
  live_bits_.assign((n + 63) / 64, ~std::uint64_t{0});
  if (n % 64 != 0) live_bits_.back() = (std::uint64_t{1} << (n % 64)) - 1;
  live_ = n;
}

std::uint32_t inverted_list::append(std::uint64_t id, const std::uint8_t* code, std::uint64_t row, float term) {
  body& b = mut();
  auto& ids_ = b.ids_;
  auto& rows_ = b.rows_;
  auto& blocks_ = b.blocks_;
  auto& codes_ = b.codes_;
  auto& live_bits_ = b.live_bits_;
  auto& live_ = b.live_;
  // Slots are u32 (the id map stores them so): 4 G entries per list is far beyond any sane list.
  IVF_ASSERT(ids_.size() < std::numeric_limits<std::uint32_t>::max());
  const auto slot = static_cast<std::uint32_t>(ids_.size());
  ids_.push_back(id);
  if (keep_rows_) rows_.push_back(row);
  if (keep_terms_) b.terms_.push_back(term);
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
  if (n == 0) return;  // an empty list: out and the codes may both be null (memcpy forbids that)
  if (fast_scan_m_ == 0) {
    std::memcpy(out, b_->codes_.data() + first * code_size_, n * code_size_);
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    kernels::fast_scan_read(b_->blocks_.data(), fast_scan_m_, first + i, out + i * code_size_);
}

void inverted_list::tombstone(std::uint32_t slot) {
  IVF_ASSERT(slot < size());
  auto& word = b_->live_bits_[slot >> 6];
  const std::uint64_t bit = std::uint64_t{1} << (slot & 63);
  if (word & bit) {
    word &= ~bit;
    --b_->live_;
  }
}

void inverted_list::shrink_to_fit() {
  if (!b_) return;
  b_->codes_.shrink_to_fit();
  b_->blocks_.shrink_to_fit();
  b_->ids_.shrink_to_fit();
  b_->rows_.shrink_to_fit();
  b_->terms_.shrink_to_fit();
  b_->live_bits_.shrink_to_fit();
}

void inverted_list::reserve(std::size_t n) {
  if (n == 0) return;
  body& b = mut();
  auto& blocks_ = b.blocks_;
  auto& codes_ = b.codes_;
  auto& ids_ = b.ids_;
  auto& rows_ = b.rows_;
  auto& live_bits_ = b.live_bits_;
  if (fast_scan_m_ > 0) blocks_.reserve(kernels::fast_scan_bytes(n, fast_scan_m_));
  else codes_.reserve(n * code_size_);
  ids_.reserve(n);
  if (keep_rows_) rows_.reserve(n);
  if (keep_terms_) b.terms_.reserve(n);
  live_bits_.reserve((n + 63) / 64);
}

}  // namespace ivfstream
