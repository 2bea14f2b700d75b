#include "kernels/topk.hpp"

#include <algorithm>

namespace ivfstream::kernels {

topk_heap::topk_heap(std::size_t k) : k_(k) { heap_.reserve(k < 4096 ? k : 4096); }

bool topk_heap::push(float dist, std::uint64_t id, std::uint64_t aux) {
  if (dist != dist || k_ == 0) return false;  // NaN, or nothing kept
  const topk_entry entry{dist, id, aux};
  if (heap_.size() < k_) {
    heap_.push_back(entry);
    std::push_heap(heap_.begin(), heap_.end(), by_key{});
    return true;
  }
  if (!less(entry, heap_.front())) return false;
  // Replace the top and sift the new entry down: one pass of ~log2(k) levels, where pop_heap +
  // push_heap took two (the heap operations were ~5 % of a Fashion-MNIST batch search). The kept set
  // is the same either way ((distance, id) is a total order over distinct ids).
  const std::size_t n = heap_.size();
  std::size_t hole = 0;
  for (;;) {
    std::size_t child = 2 * hole + 1;
    if (child >= n) break;
    if (child + 1 < n && less(heap_[child], heap_[child + 1])) ++child;  // the larger child
    if (!less(entry, heap_[child])) break;
    heap_[hole] = heap_[child];
    hole = child;
  }
  heap_[hole] = entry;
  return true;
}

void topk_heap::push_batch(const float* dists, const std::uint64_t* ids, std::size_t n) {
  push_batch(dists, ids, nullptr, n);
}

void topk_heap::push_batch(const float* dists, const std::uint64_t* ids, const std::uint64_t* aux, std::size_t n) {
  float bound = threshold();
  for (std::size_t i = 0; i < n; ++i) {
    if (dists[i] > bound) continue;
    if (push(dists[i], ids[i], aux ? aux[i] : k_no_aux)) bound = threshold();
  }
}

void topk_heap::push_block(const float* dists, std::size_t n, std::uint64_t first_id) {
  float bound = threshold();
  for (std::size_t i = 0; i < n; ++i) {
    if (dists[i] > bound) continue;
    if (push(dists[i], first_id + i)) bound = threshold();
  }
}

void topk_heap::merge(const topk_heap& other) {
  for (const auto& e : other.heap_) {
    if (e.dist > threshold()) continue;
    push(e.dist, e.id, e.aux);
  }
}

std::vector<std::pair<float, std::uint64_t>> topk_heap::take_sorted() {
  std::vector<std::pair<float, std::uint64_t>> out;
  out.reserve(heap_.size());
  for (const auto& e : take_sorted_entries()) out.emplace_back(e.dist, e.id);
  return out;
}

std::vector<topk_entry> topk_heap::take_sorted_entries() {
  std::sort_heap(heap_.begin(), heap_.end(), by_key{});
  std::vector<topk_entry> out;
  out.swap(heap_);
  return out;
}

}  // namespace ivfstream::kernels
