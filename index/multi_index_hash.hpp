#pragma once
// Multi-index hashing (Norouzi, Punjani, Fleet, CVPR 2012) over binary codes (e.g. polysemous PQ
// codes, index/polysemous.hpp): all codes within Hamming radius r of a query, found without comparing
// the query with every code.
//
// Each code of B = 8·bytes bits is cut into m substrings: substring j is bits [j·B/m, (j+1)·B/m)
// (integer division; the lengths differ by at most one, each ≤ 32 bits), bit b of a code being bit
// b % 8 of byte b / 8 (the packed-code order of kernels/pq_codes.hpp). Pigeonhole: if H(q, c) ≤ r then
// at least one substring j has H(q_j, c_j) ≤ ⌊r / m⌋. So a search enumerates, for every j, each
// substring value within ⌊r / m⌋ bits of q_j, looks it up in table j, and checks the full distance of
// the candidates found (each once).
//
// Table layout (one per substring): ids (n u32: code indices ordered by substring value, equal values
// in ascending index order) and either, for substrings of ≤ 20 bits, offsets (2^bits + 1 u32: the codes
// whose substring is v are ids[offsets[v], offsets[v+1]), one lookup = two loads), or, for longer
// substrings, keys (n u32, the substring value of each ids entry, ascending: one binary search).
// Memory: ≤ 8 · n · m bytes + 4 · 2^bits per short substring. Built from the codes; not saved (rebuild
// it after a load).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/error.hpp"

namespace ivfstream {

/// What one search did.
struct mih_stats {
  std::size_t probes = 0;      ///< substring values looked up (Σ_j Σ_{i ≤ ⌊r/m⌋} C(len_j, i))
  std::size_t candidates = 0;  ///< distinct codes whose full distance was checked
};

class multi_index_hash {
public:
  /// Indexes n codes (codes: n × bytes, copied). substrings = m.
  /// Errors (invalid_argument, naming the value): bytes = 0; substrings = 0 or > 8·bytes; a substring
  /// longer than 32 bits (substrings < ⌈8·bytes / 32⌉); n ≥ 2^32.
  static result<multi_index_hash> build(const std::uint8_t* codes, std::size_t n, std::size_t bytes,
                                        std::size_t substrings);

  /// Indices (ascending) of every code whose Hamming distance to query (bytes) is ≤ radius.
  /// Errors: radius > 8·bytes; the enumeration would exceed max_probes lookups (then a linear scan is
  /// cheaper: the message says so).
  result<std::vector<std::uint32_t>> search(const std::uint8_t* query, unsigned radius, mih_stats* stats = nullptr,
                                            std::size_t max_probes = std::size_t{1} << 22) const;

  std::size_t size() const noexcept { return n_; }
  std::size_t substrings() const noexcept { return tables_.size(); }
  std::size_t memory_bytes() const noexcept;

private:
  struct table {
    unsigned first_bit = 0, bits = 0;
    std::vector<std::uint32_t> offsets, keys, ids;  // offsets (≤ 20 bits) or keys (longer)
  };
  multi_index_hash() = default;
  std::uint32_t substring(const std::uint8_t* code, const table& t) const noexcept;

  std::size_t n_ = 0, bytes_ = 0;
  std::vector<std::uint8_t> codes_;  // n × bytes
  std::vector<table> tables_;
};

}  // namespace ivfstream
