#pragma once
// Bounded selection of the k smallest (distance, id) pairs.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ivfstream::kernels {

/// One kept candidate: distance, external id, and an opaque payload that rides along (e.g. the row of
/// the candidate's raw vector, so refine needs no id lookup). The payload never affects ordering.
/// Payload of a pair pushed without one.
inline constexpr std::uint64_t k_no_aux = ~std::uint64_t{0};

struct topk_entry {
  float dist;
  std::uint64_t id;
  std::uint64_t aux;
};

/// Keeps the k smallest (distance, id) pairs seen, ordered lexicographically (distance first, then
/// id), so the kept set does not depend on push order, even with tied distances. NaN distances are
/// ignored. Internally a max-heap of at most k entries (24 bytes each: topk_entry).
///
/// Thread-safety: none (one owner; merge() results from other threads after they finish).
class topk_heap {
 public:
  /// An empty heap keeping at most k entries (k == 0 keeps nothing).
  explicit topk_heap(std::size_t k);

  /// +inf until k entries are held; then the largest kept distance (a candidate with a greater
  /// distance can never enter). -inf when k == 0.
  float threshold() const noexcept {
    if (k_ == 0) return -k_inf_;
    return heap_.size() < k_ ? k_inf_ : heap_.front().dist;
  }

  /// Offers one pair; true when it was kept (it may be evicted by later pushes).
  bool push(float dist, std::uint64_t id) { return push(dist, id, k_no_aux); }
  /// Offers one pair with its payload aux (kept with the pair, returned by take_sorted_entries).
  bool push(float dist, std::uint64_t id, std::uint64_t aux);

  /// Offers n pairs: dists[i] with ids[i]. Entries with dist > threshold() are skipped with one
  /// comparison each (entries equal to the threshold go through push for the id tie-break).
  void push_batch(const float* dists, const std::uint64_t* ids, std::size_t n);
  /// push_batch with payloads: aux[i] rides with (dists[i], ids[i]); aux may be nullptr (payload k_no_aux).
  void push_batch(const float* dists, const std::uint64_t* ids, const std::uint64_t* aux, std::size_t n);

  /// Offers n pairs dists[i] with id first_id + i (scans over a block of consecutive slots; the
  /// caller maps slot numbers to external ids afterwards, or passes first_id = its id base).
  void push_block(const float* dists, std::size_t n, std::uint64_t first_id);

  /// Number of kept entries (≤ k).
  std::size_t size() const noexcept { return heap_.size(); }
  /// The bound given at construction.
  std::size_t capacity() const noexcept { return k_; }

  /// Offers every entry of other (other is unchanged).
  void merge(const topk_heap& other);

  /// The kept entries ascending by (distance, id); the heap is empty afterwards.
  std::vector<std::pair<float, std::uint64_t>> take_sorted();
  /// The kept entries with their payloads, ascending by (distance, id); the heap is empty afterwards.
  std::vector<topk_entry> take_sorted_entries();

 private:
  static constexpr float k_inf_ = __builtin_inff();
  std::size_t k_;
  static bool less(const topk_entry& a, const topk_entry& b) noexcept {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
  }
  struct by_key {
    bool operator()(const topk_entry& a, const topk_entry& b) const noexcept { return less(a, b); }
  };
  std::vector<topk_entry> heap_;  ///< max-heap by (distance, id)
};

}  // namespace ivfstream::kernels
