#pragma once
// One inverted list of an IVF index: the PQ codes and ids of the vectors assigned to one coarse
// centroid, in insertion order, with tombstones for deleted/replaced entries.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "index/delta_column.hpp"
#include "kernels/assert.hpp"
#include "kernels/fast_scan.hpp"

namespace ivfstream {

/// Codes + ids of one list; slot i is entry i of every part. Layout:
/// - codes, one of two forms:
///   fast_scan_m() == 0: codes() is size() × code_size bytes row-major (packed PQ codes, kernels/pq_codes.hpp);
///   fast_scan_m() == M > 0 (4-bit PQ, code_size = ceil(M/2)): ONLY the 32-slot block layout of
///   kernels/fast_scan.hpp (fast_scan_blocks(): fast_scan_bytes(size(), M) bytes, slot i of the list = slot
///   i of the block array; padding slots and sub-quantizers are zero); codes() is then nullptr and a
///   slot's code is decoded with read_code (kernels::fast_scan_read). ceil(M/4)·2 bytes per entry.
/// - ids: a delta_column (index/delta_column.hpp): per 32 slots one u64 base + 32 u32 offsets (4.25 B
///   per entry), full u64 for blocks whose ids span ≥ 2³² (8.25 B per entry); read with id(slot).
/// - rows (keep_rows only): the vector_store row of each slot (refine reads a candidate's raw vector
///   without an id-map lookup), a delta_column like the ids; read with row(slot).
/// - terms (keep_terms only): one float per slot, the entry's share of its ADC distance that depends
///   on the list and the code only (codebook_set::entry_term), so a scan adds it to the query's own
///   table sum instead of building a table per list; read with terms() / term(slot).
/// - tombstones: 1 bit per slot (u64 words).
/// At M = 16 with increasing ids: 8 + 4.25 + 0.125 bytes per entry, + 4.25 with rows, + 4 with terms.
/// The parts live in a body allocated at the first append (deep-copied with the list): a list that never
/// held an entry is 16 bytes and allocates nothing, so a coarse quantizer with very many mostly empty
/// cells (IMI: 2^20) stays cheap. An emptied list (compacted to 0) keeps its (empty) body.
/// Not thread-safe: owned by one partition (actor) or one ivfpq_index at a time; concurrent const
/// reads are safe while nobody mutates.
class inverted_list {
public:
  /// @pre code_size ≥ 1; fast_scan_m = 0 (row-major codes) or M with code_size == ceil(M / 2) (4-bit codes).
  explicit inverted_list(std::size_t code_size, std::size_t fast_scan_m = 0, bool keep_rows = false,
                         bool keep_terms = false);
  inverted_list(const inverted_list& o)
      : code_size_(o.code_size_), fast_scan_m_(o.fast_scan_m_), keep_rows_(o.keep_rows_), keep_terms_(o.keep_terms_),
        b_(o.b_ ? std::make_unique<body>(*o.b_) : nullptr) {}
  inverted_list& operator=(const inverted_list& o) {
    if (this != &o) *this = inverted_list(o);
    return *this;
  }
  inverted_list(inverted_list&&) noexcept = default;
  inverted_list& operator=(inverted_list&&) noexcept = default;

  /// Appends one entry and returns its slot. code: code_size bytes; row: its vector_store row (kept only
  /// when the list keeps rows); term: codebook_set::entry_term of the code in this list (kept only when
  /// the list keeps terms).
  std::uint32_t append(std::uint64_t id, const std::uint8_t* code, std::uint64_t row = ~std::uint64_t{0},
                       float term = 0.0f);
  /// Marks slot deleted (idempotent). @pre slot < size().
  void tombstone(std::uint32_t slot);
  /// Rewrites the list without tombstones, keeping the order of live entries; calls
  /// relocate(id, new_slot) for every live entry whose slot changed.
  template <class F>
  void compact(F&& relocate);

  /// Slots, live or not.
  std::size_t size() const noexcept { return b_ ? b_->ids_.size() : 0; }
  /// Live (not tombstoned) slots.
  std::size_t live() const noexcept { return b_ ? b_->live_ : 0; }
  /// size() − live().
  std::size_t tombstones() const noexcept { return size() - live(); }
  std::size_t code_size() const noexcept { return code_size_; }
  /// Row-major codes, size() × code_size bytes, when fast_scan_m() == 0; nullptr for a fast-scan list
  /// (use read_code / read_codes).
  const std::uint8_t* codes() const noexcept { return fast_scan_m_ || !b_ ? nullptr : b_->codes_.data(); }
  /// Copies the code of one slot (code_size bytes) to out. @pre slot < size().
  void read_code(std::uint32_t slot, std::uint8_t* out) const noexcept {
    if (fast_scan_m_) kernels::fast_scan_read(b_->blocks_.data(), fast_scan_m_, slot, out);
    else std::memcpy(out, b_->codes_.data() + std::size_t{slot} * code_size_, code_size_);
  }
  /// Copies the codes of slots [first, first + n) row-major to out (n × code_size bytes).
  void read_codes(std::size_t first, std::size_t n, std::uint8_t* out) const noexcept;
  /// Id of one slot. @pre slot < size().
  std::uint64_t id(std::uint32_t slot) const noexcept { return b_->ids_[slot]; }
  /// Copies the ids of slots [first, first + n) to out.
  void read_ids(std::size_t first, std::size_t n, std::uint64_t* out) const noexcept {
    if (n) b_->ids_.read(first, n, out);
  }
  /// Whether rows are kept.
  bool keeps_rows() const noexcept { return keep_rows_; }
  /// vector_store row of one slot, or ~0 when the list keeps none. @pre slot < size().
  std::uint64_t row(std::uint32_t slot) const noexcept { return keep_rows_ ? b_->rows_[slot] : ~std::uint64_t{0}; }
  /// Copies the rows of slots [first, first + n) to out. @pre keeps_rows().
  void read_rows(std::size_t first, std::size_t n, std::uint64_t* out) const noexcept {
    if (n) b_->rows_.read(first, n, out);
  }
  /// Sets the vector_store row of a slot (vector store garbage collection moved it); no-op when the
  /// list keeps no rows. @pre slot < size().
  void set_row(std::uint32_t slot, std::uint64_t row) {
    if (keep_rows_) b_->rows_.set(slot, row);
  }
  /// Whether per-entry terms are kept.
  bool keeps_terms() const noexcept { return keep_terms_; }
  /// The per-entry terms, size() floats; nullptr when the list keeps none or never held an entry.
  const float* terms() const noexcept { return keep_terms_ && b_ ? b_->terms_.data() : nullptr; }
  /// M of the fast-scan block layout, 0 when the codes are row-major.
  std::size_t fast_scan_m() const noexcept { return fast_scan_m_; }
  /// The codes in fast-scan block layout (kernels/fast_scan.hpp): fast_scan_bytes(size(), fast_scan_m())
  /// bytes; empty when fast_scan_m() == 0.
  const std::uint8_t* fast_scan_blocks() const noexcept { return b_ ? b_->blocks_.data() : nullptr; }
  /// Software prefetch of what a scan of the list touches before its codes stream: the list's
  /// bookkeeping (the body, a few cache lines) and the heads of its id, row and liveness columns (a
  /// list's first pushes read them). The codes are prefetch_list's (index/list_scan.hpp).
  void prefetch_head() const noexcept {
    if (!b_) return;
    const auto* p = reinterpret_cast<const char*>(b_.get());
    for (std::size_t off = 0; off < sizeof(body); off += 64) __builtin_prefetch(p + off, 0, 3);
    b_->ids_.prefetch_head();
    b_->rows_.prefetch_head();
    if (!b_->live_bits_.empty()) __builtin_prefetch(b_->live_bits_.data(), 0, 3);
  }
  /// Whether slot is not tombstoned. @pre slot < size().
  bool is_live(std::uint32_t slot) const noexcept {
    return (b_->live_bits_[slot >> 6] >> (slot & 63)) & 1u;
  }
  /// True when no slot is tombstoned (scans may then skip the per-slot check).
  bool all_live() const noexcept { return live() == size(); }

  /// Bytes allocated (capacity) by codes (row-major or fast-scan blocks), ids, rows, per-entry terms,
  /// tombstone bitmap.
  std::size_t code_bytes() const noexcept { return b_ ? b_->codes_.capacity() + b_->blocks_.capacity() : 0; }
  std::size_t id_bytes() const noexcept { return b_ ? b_->ids_.capacity_bytes() : 0; }
  std::size_t row_bytes() const noexcept { return b_ ? b_->rows_.capacity_bytes() : 0; }
  std::size_t term_bytes() const noexcept { return b_ ? b_->terms_.capacity() * sizeof(float) : 0; }
  std::size_t tombstone_bytes() const noexcept { return b_ ? b_->live_bits_.capacity() * sizeof(std::uint64_t) : 0; }
  /// Bytes occupied (sizes, not capacity) by the same parts.
  std::size_t used_code_bytes() const noexcept { return b_ ? b_->codes_.size() + b_->blocks_.size() : 0; }
  std::size_t used_id_bytes() const noexcept { return b_ ? b_->ids_.used_bytes() : 0; }
  std::size_t used_row_bytes() const noexcept { return b_ ? b_->rows_.used_bytes() : 0; }
  std::size_t used_term_bytes() const noexcept { return b_ ? b_->terms_.size() * sizeof(float) : 0; }
  std::size_t used_tombstone_bytes() const noexcept { return b_ ? b_->live_bits_.size() * sizeof(std::uint64_t) : 0; }

  /// Bytes of the list objects themselves: sizeof(inverted_list) plus its body once allocated (the
  /// per-list overhead beside the arrays counted above; 16 B for a list that never held an entry).
  std::size_t object_bytes() const noexcept { return sizeof(*this) + (b_ ? sizeof(body) : 0); }

  /// Releases spare capacity (after a bulk load).
  void shrink_to_fit();
  /// Reserves room for n slots.
  void reserve(std::size_t n);

private:
  struct body {
    std::vector<std::uint8_t> codes_;        // size() × code_size_ when fast_scan_m_ == 0, else empty
    std::vector<std::uint8_t> blocks_;       // fast_scan_bytes(size(), fast_scan_m_) when fast_scan_m_ > 0
    delta_column ids_;                       // size()
    delta_column rows_;                      // size() when keep_rows_, else empty
    std::vector<float> terms_;               // size() when keep_terms_, else empty
    std::vector<std::uint64_t> live_bits_;   // bit i set ⇔ slot i live; ceil(size()/64) words
    std::size_t live_ = 0;
  };
  /// The body, allocated on first use (by a mutating member).
  body& mut() {
    if (!b_) b_ = std::make_unique<body>();
    return *b_;
  }
  void reset_live_bits(std::size_t n);

  std::uint32_t code_size_;
  std::uint16_t fast_scan_m_;
  bool keep_rows_;
  bool keep_terms_;
  std::unique_ptr<body> b_;  // null until the first append/reserve
};

template <class F>
void inverted_list::compact(F&& relocate) {
  if (all_live()) return;  // also every list without a body
  body& bd = *b_;
  auto& codes_ = bd.codes_;
  auto& blocks_ = bd.blocks_;
  auto& ids_ = bd.ids_;
  auto& rows_ = bd.rows_;
  auto& terms_ = bd.terms_;
  const std::size_t live_ = bd.live_;
  // Codes move down in place (slot out < i was already read or is dead); ids and rows go to new columns.
  delta_column ids, rows;
  ids.reserve(live_);
  if (keep_rows_) rows.reserve(live_);
  std::uint8_t stack_code[64];
  std::vector<std::uint8_t> heap_code(code_size_ > sizeof(stack_code) ? code_size_ : 0);
  std::uint8_t* code = heap_code.empty() ? stack_code : heap_code.data();
  std::size_t out = 0;
  const std::size_t n = ids_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_live(static_cast<std::uint32_t>(i))) continue;
    const std::uint64_t id = ids_[i];
    ids.push_back(id);
    if (keep_rows_) rows.push_back(rows_[i]);
    if (out != i) {
      if (fast_scan_m_) {
        kernels::fast_scan_read(blocks_.data(), fast_scan_m_, i, code);
        kernels::fast_scan_write(blocks_.data(), fast_scan_m_, out, code);
      } else {
        std::memmove(codes_.data() + out * code_size_, codes_.data() + i * code_size_, code_size_);
      }
      if (keep_terms_) terms_[out] = terms_[i];
      relocate(id, static_cast<std::uint32_t>(out));
    }
    ++out;
  }
  IVF_ASSERT(out == live_);
  ids_ = std::move(ids);
  rows_ = std::move(rows);
  if (keep_terms_) terms_.resize(out);
  if (fast_scan_m_) {
    // Padding slots of the last block back to code 0, so the blocks equal fast_scan_pack of the codes.
    std::memset(code, 0, code_size_);
    for (std::size_t s = out; s % kernels::k_fast_scan_block != 0; ++s)
      kernels::fast_scan_write(blocks_.data(), fast_scan_m_, s, code);
    blocks_.resize(kernels::fast_scan_bytes(out, fast_scan_m_));
  } else {
    codes_.resize(out * code_size_);
  }
  reset_live_bits(out);
}

}  // namespace ivfstream
