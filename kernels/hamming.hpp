#pragma once
// Hamming distances between packed binary codes (polysemous filtering, multi-index hashing).
// A code is `bytes` bytes; its bits are compared as they are stored (the packed PQ layout of
// kernels/pq_codes.hpp: sub-code m at bits [m·nbits, (m+1)·nbits)), so the Hamming distance of two
// packed PQ codes is the sum over sub-spaces of the Hamming distances of their sub-codes.
#include <cstddef>
#include <cstdint>

namespace ivfstream::kernels {

/// Bits that differ between a and b (`bytes` bytes each). Thread-safe (pure).
unsigned hamming_distance(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes) noexcept;

/// Writes to `slots` the indices i < n (ascending) of the rows of `codes` (n × bytes) whose Hamming
/// distance to `query` (bytes) is ≤ max_distance, and returns how many. slots: room for n.
/// Uses the POPCNT instruction when the CPU has it (checked once), else a portable bit count.
/// Thread-safe (pure).
std::size_t hamming_filter(const std::uint8_t* codes, std::size_t n, std::size_t bytes, const std::uint8_t* query,
                           unsigned max_distance, std::uint32_t* slots) noexcept;

}  // namespace ivfstream::kernels
