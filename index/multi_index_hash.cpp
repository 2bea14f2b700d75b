#include "index/multi_index_hash.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "kernels/hamming.hpp"

namespace ivfstream {

namespace {

std::string str(std::size_t v) { return std::to_string(v); }

/// Substrings of at most this many bits get a direct offsets table (2^bits + 1 entries).
constexpr unsigned k_max_direct_bits = 20;

/// Σ_{i ≤ r} C(bits, i), saturating at cap + 1.
std::size_t ball_size(unsigned bits, unsigned r, std::size_t cap) {
  std::size_t total = 0, c = 1;  // c = C(bits, i)
  for (unsigned i = 0; i <= r && i <= bits; ++i) {
    total += c;
    if (total > cap) return cap + 1;
    c = c * (bits - i) / (i + 1);
  }
  return total;
}

/// Calls f(v) for every value v of `bits` bits within Hamming distance r of key (v = key first).
template <class F>
void for_each_in_ball(std::uint32_t key, unsigned bits, unsigned r, F&& f) {
  f(key);
  // flip sets of 1..r distinct bit positions, chosen in increasing order
  unsigned pos[33];
  for (unsigned k = 1; k <= r && k <= bits; ++k) {
    for (unsigned i = 0; i < k; ++i) pos[i] = i;
    while (true) {
      std::uint32_t v = key;
      for (unsigned i = 0; i < k; ++i) v ^= 1u << pos[i];
      f(v);
      int i = int(k) - 1;  // next combination
      while (i >= 0 && pos[i] == bits - k + unsigned(i)) --i;
      if (i < 0) break;
      ++pos[i];
      for (unsigned j = unsigned(i) + 1; j < k; ++j) pos[j] = pos[j - 1] + 1;
    }
  }
}

}  // namespace

std::uint32_t multi_index_hash::substring(const std::uint8_t* code, const table& t) const noexcept {
  std::uint32_t v = 0;
  for (unsigned b = 0; b < t.bits; ++b) {
    const unsigned bit = t.first_bit + b;
    v |= std::uint32_t((code[bit >> 3] >> (bit & 7)) & 1u) << b;
  }
  return v;
}

result<multi_index_hash> multi_index_hash::build(const std::uint8_t* codes, std::size_t n, std::size_t bytes,
                                                 std::size_t substrings) {
  if (bytes == 0) return fail(errc::invalid_argument, "multi_index_hash: bytes=0: codes must have >= 1 byte");
  const std::size_t bits = 8 * bytes;
  if (substrings == 0 || substrings > bits)
    return fail(errc::invalid_argument, "multi_index_hash: substrings=" + str(substrings) + ": must be in [1, " +
                                            str(bits) + "] for " + str(bytes) + "-byte codes");
  if ((bits + substrings - 1) / substrings > 32)
    return fail(errc::invalid_argument, "multi_index_hash: substrings=" + str(substrings) + ": must be >= " +
                                            str((bits + 31) / 32) + " (substrings of at most 32 bits) for " +
                                            str(bytes) + "-byte codes");
  if (n >= (std::size_t{1} << 32))
    return fail(errc::invalid_argument, "multi_index_hash: n=" + str(n) + ": must be < 2^32");
  multi_index_hash h;
  h.n_ = n;
  h.bytes_ = bytes;
  h.codes_.assign(codes, codes + n * bytes);
  h.tables_.resize(substrings);
  std::vector<std::uint32_t> order(n);
  for (std::size_t j = 0; j < substrings; ++j) {
    table& t = h.tables_[j];
    t.first_bit = static_cast<unsigned>(j * bits / substrings);
    t.bits = static_cast<unsigned>((j + 1) * bits / substrings) - t.first_bit;
    std::vector<std::uint32_t> key(n);
    for (std::size_t i = 0; i < n; ++i) key[i] = h.substring(codes + i * bytes, t);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return key[a] < key[b]; });
    t.ids.resize(n);
    for (std::size_t i = 0; i < n; ++i) t.ids[i] = order[i];
    if (t.bits <= k_max_direct_bits) {  // offsets: counting by value, prefix sums
      t.offsets.assign((std::size_t{1} << t.bits) + 1, 0);
      for (std::size_t i = 0; i < n; ++i) ++t.offsets[key[i] + 1];
      for (std::size_t v = 1; v < t.offsets.size(); ++v) t.offsets[v] += t.offsets[v - 1];
    } else {
      t.keys.resize(n);
      for (std::size_t i = 0; i < n; ++i) t.keys[i] = key[order[i]];
    }
  }
  return h;
}

result<std::vector<std::uint32_t>> multi_index_hash::search(const std::uint8_t* query, unsigned radius,
                                                            mih_stats* stats, std::size_t max_probes) const {
  const std::size_t bits = 8 * bytes_;
  if (radius > bits)
    return fail(errc::invalid_argument, "multi_index_hash: radius=" + str(radius) + ": must be in [0, " +
                                            str(bits) + "]");
  const unsigned sub_r = static_cast<unsigned>(radius / tables_.size());
  std::size_t probes = 0;
  for (const table& t : tables_) probes += ball_size(t.bits, sub_r, max_probes);
  if (probes > max_probes)
    return fail(errc::invalid_argument, "multi_index_hash: radius=" + str(radius) + " with " + str(tables_.size()) +
                                            " substrings needs more than max_probes=" + str(max_probes) +
                                            " lookups: use more substrings or a linear scan");
  std::vector<std::uint32_t> cand;
  for (const table& t : tables_) {
    for_each_in_ball(substring(query, t), t.bits, sub_r, [&](std::uint32_t v) {
      if (!t.offsets.empty()) {
        cand.insert(cand.end(), t.ids.begin() + t.offsets[v], t.ids.begin() + t.offsets[v + 1]);
        return;
      }
      const auto lo = std::lower_bound(t.keys.begin(), t.keys.end(), v);
      for (auto it = lo; it != t.keys.end() && *it == v; ++it) cand.push_back(t.ids[std::size_t(it - t.keys.begin())]);
    });
  }
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  if (stats) stats->probes += probes, stats->candidates += cand.size();
  std::vector<std::uint32_t> out;
  for (std::uint32_t i : cand)
    if (kernels::hamming_distance(&codes_[std::size_t{i} * bytes_], query, bytes_) <= radius) out.push_back(i);
  return out;
}

std::size_t multi_index_hash::memory_bytes() const noexcept {
  std::size_t m = codes_.capacity();
  for (const table& t : tables_) m += 4 * (t.offsets.capacity() + t.keys.capacity() + t.ids.capacity());
  return m;
}

}  // namespace ivfstream
