#pragma once
// The one FlatBuffers encoding of index_params and codebook_set (tables IndexParams and Codebooks of
// schemas/index_snapshot.fbs), shared by every file that carries trained codebooks: index snapshots
// (index/index_snapshot.cpp) and checkpoint manifests (actors/checkpoint.cpp). Field meanings, units and
// layouts: schemas/README.md, sections "IndexParams" and "Codebooks".
//
// Arrays written (all float32, row-major):
//   centroids     num_partitions × d
//   pq_codebooks  M × 2^num_bits × (d / M)   (in the rotated space when params.opq)
//   rotation      d × d, y = R x             (present iff params.opq; absent otherwise)
//   lopq_list_group, lopq_rotations, lopq_pq_codebooks   (present iff params.lopq; index/local_codebooks.hpp)
// Readers accept buffers from builds that predate the OPQ (or polysemous) fields: absent `opq` reads as
// false, absent `opq_iterations` as its default, absent `rotation` as none.
#include <memory>

#include "index/codebook_set.hpp"
#include "index/error.hpp"
#include "index/index_params.hpp"
#include "schemas/index_snapshot_generated.h"

namespace ivfstream {

/// Serialises every field of p (including the OPQ and polysemous ones) into fbb.
flatbuffers::Offset<snapshot::IndexParams> write_index_params(flatbuffers::FlatBufferBuilder& fbb,
                                                              const index_params& p);

/// Reads and validates parameters (metric in range, index_params::validate).
/// Errors: corrupt_data "params: …" naming the bad value (fp null: "params missing").
result<index_params> read_index_params(const snapshot::IndexParams* fp);

/// Serialises version, centroids, PQ codebooks and (under OPQ) the rotation of cb into fbb.
flatbuffers::Offset<snapshot::Codebooks> write_codebooks(flatbuffers::FlatBufferBuilder& fbb, const codebook_set& cb);

/// Rebuilds a codebook_set under params p from a verified Codebooks table: array lengths are checked by
/// division (no product of untrusted numbers), then codebook_set::from_parts checks finiteness and, under
/// OPQ, the rotation's shape and orthogonality.
/// Errors: corrupt_data with a message naming the array and the expected size (fcb null or arrays
/// missing: "no codebooks").
result<std::shared_ptr<const codebook_set>> read_codebooks(const index_params& p, const snapshot::Codebooks* fcb);

}  // namespace ivfstream
