// FlatBuffers <-> index_params / codebook_set (layouts: index/codebook_codec.hpp, schemas/README.md).
#include "index/codebook_codec.hpp"

#include <string>
#include <vector>

namespace ivfstream {

namespace fbs = ivfstream::snapshot;

namespace {
std::string str(std::size_t v) { return std::to_string(v); }
}  // namespace

flatbuffers::Offset<fbs::IndexParams> write_index_params(flatbuffers::FlatBufferBuilder& fbb, const index_params& p) {
  return fbs::CreateIndexParams(fbb, p.dimension, static_cast<fbs::Metric>(p.metric), p.num_partitions,
                                p.num_sub_vectors, p.num_bits, p.max_iterations, p.sample_rate, p.seed,
                                p.keep_raw_vectors, p.opq, p.opq_iterations, p.polysemous, p.polysemous_iterations,
                                static_cast<std::uint8_t>(p.quantizer), p.rq_beam_size, p.lsq_iterations,
                                p.lsq_icm_iterations, static_cast<std::uint8_t>(p.coarse_quantizer), p.imi_bits,
                                p.lopq, p.lopq_groups, p.lopq_iterations, p.lopq_min_points);
}

result<index_params> read_index_params(const fbs::IndexParams* fp) {
  if (!fp) return fail(errc::corrupt_data, "params missing");
  const auto metric_value = static_cast<std::uint8_t>(fp->metric());
  if (metric_value > static_cast<std::uint8_t>(metric::dot))
    return fail(errc::corrupt_data,
                "params.metric=" + str(metric_value) + ": must be 0 (l2), 1 (cosine) or 2 (dot)");
  index_params p;
  p.dimension = fp->dimension();
  p.metric = static_cast<metric>(metric_value);
  p.num_partitions = fp->num_partitions();
  p.num_sub_vectors = fp->num_sub_vectors();
  p.num_bits = fp->num_bits();
  p.max_iterations = fp->max_iterations();
  p.sample_rate = fp->sample_rate();
  p.seed = fp->seed();
  p.keep_raw_vectors = fp->keep_raw_vectors();
  p.opq = fp->opq();
  p.opq_iterations = fp->opq_iterations();
  p.polysemous = fp->polysemous();
  p.polysemous_iterations = fp->polysemous_iterations();
  p.quantizer = static_cast<quantizer_kind>(fp->quantizer());  // out of range: validate() names it
  p.rq_beam_size = fp->rq_beam_size();
  p.lsq_iterations = fp->lsq_iterations();
  p.lsq_icm_iterations = fp->lsq_icm_iterations();
  p.coarse_quantizer = static_cast<coarse_quantizer_kind>(fp->coarse_quantizer());  // validate() names a bad value
  p.imi_bits = fp->imi_bits();
  p.lopq = fp->lopq();
  p.lopq_groups = fp->lopq_groups();
  p.lopq_iterations = fp->lopq_iterations();
  p.lopq_min_points = fp->lopq_min_points();
  if (auto st = p.validate(); !st) return fail(errc::corrupt_data, "params: " + st.error().message());
  return p;
}

flatbuffers::Offset<fbs::Codebooks> write_codebooks(flatbuffers::FlatBufferBuilder& fbb, const codebook_set& cb) {
  flatbuffers::Offset<flatbuffers::Vector<float>> rotation = 0;  // OPQ only (absent: opq = false)
  if (!cb.rotation().empty()) rotation = fbb.CreateVector(cb.rotation());
  const auto centroids = fbb.CreateVector(cb.centroids());
  const auto pq = fbb.CreateVector(cb.pq_codebooks());
  // LOPQ only (absent: lopq = false): list → group map, per-group rotations and PQ codebooks.
  flatbuffers::Offset<flatbuffers::Vector<std::uint32_t>> list_group = 0;
  flatbuffers::Offset<flatbuffers::Vector<float>> local_rotations = 0, local_pq = 0;
  if (const local_codebooks* local = cb.local()) {
    list_group = fbb.CreateVector(local->list_group());
    local_rotations = fbb.CreateVector(local->rotations());
    local_pq = fbb.CreateVector(local->pq_codebooks());
  }
  return fbs::CreateCodebooks(fbb, cb.version(), centroids, pq, rotation, list_group, local_rotations, local_pq);
}

result<std::shared_ptr<const codebook_set>> read_codebooks(const index_params& p, const fbs::Codebooks* fcb) {
  if (!fcb || !fcb->centroids() || !fcb->pq_codebooks()) return fail(errc::corrupt_data, "no codebooks");
  // Rows of the coarse quantizer: num_partitions centroids (flat) or 2^imi_bits half-centroid pairs (imi).
  const std::size_t d = p.dimension, nlist = p.imi() ? std::size_t{1} << p.imi_bits : p.num_partitions;
  if (d == 0 || fcb->centroids()->size() % d != 0 || fcb->centroids()->size() / d != nlist)
    return fail(errc::corrupt_data, "codebooks.centroids holds " + str(fcb->centroids()->size()) +
                                        " floats: expected " + (p.imi() ? "2^imi_bits" : "num_partitions") +
                                        " × dimension (" + str(nlist) + " × " + str(d) + ")");
  if (p.additive()) {  // (M − 1) × 256 × d codebooks + 256 norm levels: 256 × ((M − 1) · d + 1) floats
    const std::size_t rows = fcb->pq_codebooks()->size() / p.ksub();
    if (fcb->pq_codebooks()->size() % p.ksub() != 0 || rows == 0 || (rows - 1) % d != 0 ||
        (rows - 1) / d != p.num_sub_vectors - 1)
      return fail(errc::corrupt_data, "codebooks.pq_codebooks holds " + str(fcb->pq_codebooks()->size()) +
                                          " floats: expected 256 × ((num_sub_vectors − 1) × dimension + 1) (" +
                                          str(p.num_sub_vectors) + ", " + str(d) + ") for quantizer rq/lsq");
  } else if (fcb->pq_codebooks()->size() % p.ksub() != 0 || fcb->pq_codebooks()->size() / p.ksub() != d)
    return fail(errc::corrupt_data, "codebooks.pq_codebooks holds " + str(fcb->pq_codebooks()->size()) +
                                        " floats: expected 2^num_bits × dimension (" + str(p.ksub()) + " × " +
                                        str(d) + ")");
  // The rotation's length (d × d iff params.opq, else none) and orthogonality are from_parts' checks.
  std::vector<float> rotation;
  if (fcb->rotation()) rotation.assign(fcb->rotation()->begin(), fcb->rotation()->end());
  // LOPQ arrays: sizes, group ids, finiteness and orthogonality are local_codebooks::from_parts' checks.
  lopq_parts local;
  if (fcb->lopq_list_group()) local.list_group.assign(fcb->lopq_list_group()->begin(), fcb->lopq_list_group()->end());
  if (fcb->lopq_rotations()) local.rotations.assign(fcb->lopq_rotations()->begin(), fcb->lopq_rotations()->end());
  if (fcb->lopq_pq_codebooks()) local.pq.assign(fcb->lopq_pq_codebooks()->begin(), fcb->lopq_pq_codebooks()->end());
  if (p.lopq && !fcb->lopq_list_group()) return fail(errc::corrupt_data, "codebooks: lopq=true but lopq_list_group missing");
  auto cb = codebook_set::from_parts(p, fcb->version(),
                                     std::vector<float>(fcb->centroids()->begin(), fcb->centroids()->end()),
                                     std::vector<float>(fcb->pq_codebooks()->begin(), fcb->pq_codebooks()->end()),
                                     std::move(rotation), std::move(local));
  if (!cb) return fail(errc::corrupt_data, cb.error().message());
  return cb;
}

}  // namespace ivfstream
