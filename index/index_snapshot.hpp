#pragma once
// Save/load of a whole ivfpq_index (ivfpq_index::save / ivfpq_index::load are implemented in
// index_snapshot.cpp). Formats: schemas/index_snapshot.fbs and schemas/README.md.
//
// Files written by save(path):
//   path              FlatBuffers IndexSnapshot, file identifier "IVFI", format_version 1
//   path.vectors.<N>  raw (prepared) vectors of the live entries, in snapshot order, generation N
//                     (named in the snapshot's RawVectors.file_name):
//                     header (32 bytes): magic "IVFSRAWV", u32 version 1, u32 dimension, u64 rows, u64 zero
//                     then rows × dimension float32, little-endian, row-major
// Each is written to "<file>.tmp", fsynced and renamed; the snapshot is renamed last, so the pair is
// replaced atomically: after a crash at any step load() gives the old or the new index (the steps
// and the clean-up of older generations: index/snapshot_files.hpp). Snapshots written before
// generations named "path.vectors"; they still load.
#include <cstddef>
#include <cstdint>

namespace ivfstream {

/// Current snapshot format (IndexSnapshot.format_version).
inline constexpr std::uint32_t k_snapshot_format_version = 1;
/// Current raw-vector sibling file version.
inline constexpr std::uint32_t k_raw_vectors_version = 1;
/// Bytes of the raw-vector sibling file header.
inline constexpr std::size_t k_raw_vectors_header_bytes = 32;
/// Largest snapshot buffer FlatBuffers can address (2 GiB − 1); save refuses larger indexes.
inline constexpr std::size_t k_max_snapshot_bytes = (std::size_t{1} << 31) - 1;
/// Suffix of the raw-vector sibling file (followed by ".<generation>" since crash-consistent saves).
inline constexpr const char* k_raw_vectors_suffix = ".vectors";

/// FNV-1a 64 over the little-endian u64 words of `bytes` bytes (the last word zero-padded):
/// h = 0xcbf29ce484222325; for each word w: h = (h ^ w) · 0x100000001b3 (mod 2^64).
/// `state` continues a previous call (pass the previous result); bytes must be a multiple of 8
/// except in the last call.
std::uint64_t fnv1a64_words(const void* data, std::size_t bytes, std::uint64_t state = 0xcbf29ce484222325ull);

}  // namespace ivfstream
