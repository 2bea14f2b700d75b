#include "index/index_params.hpp"

#include <string>

namespace ivfstream {

namespace {
std::string str(std::size_t v) { return std::to_string(v); }
constexpr std::size_t k_max_opq_iterations = 100;
constexpr std::size_t k_max_train_threads = 1024;
constexpr std::size_t k_max_polysemous_iterations = 10000000;
constexpr std::size_t k_max_lopq_min_points = 1000000;
constexpr std::size_t k_max_additive_sub_codes = 33;  // 32 codebooks + norm byte (cross table M²·256² floats)
constexpr std::size_t k_max_beam_size = 64;
constexpr std::size_t k_max_lsq_iterations = 100;
constexpr std::size_t k_max_lsq_icm_iterations = 32;

/// The rq/lsq checks (quantizer = rq or lsq).
status validate_additive(const index_params& p) {
  const char* q = p.quantizer == quantizer_kind::rq ? "rq" : "lsq";
  if (p.num_bits != 8)
    return fail(errc::invalid_argument, "num_bits=" + str(p.num_bits) + " with quantizer=" + q + ": must be 8");
  if (p.num_sub_vectors < 2 || p.num_sub_vectors > k_max_additive_sub_codes)
    return fail(errc::invalid_argument, "num_sub_vectors=" + str(p.num_sub_vectors) + " with quantizer=" + q +
                                            ": must be in [2, " + str(k_max_additive_sub_codes) +
                                            "] (code bytes: num_sub_vectors - 1 codebooks + 1 norm byte)");
  if (p.rq_beam_size == 0 || p.rq_beam_size > k_max_beam_size)
    return fail(errc::invalid_argument, "rq_beam_size=" + str(p.rq_beam_size) + " with quantizer=" + q +
                                            ": must be in [1, " + str(k_max_beam_size) + "]");
  if (p.quantizer == quantizer_kind::lsq && (p.lsq_iterations == 0 || p.lsq_iterations > k_max_lsq_iterations))
    return fail(errc::invalid_argument, "lsq_iterations=" + str(p.lsq_iterations) + " with quantizer=lsq: must be in [1, " +
                                            str(k_max_lsq_iterations) + "]");
  if (p.lsq_icm_iterations > k_max_lsq_icm_iterations)
    return fail(errc::invalid_argument, "lsq_icm_iterations=" + str(p.lsq_icm_iterations) + ": must be in [0, " +
                                            str(k_max_lsq_icm_iterations) + "]");
  if (p.opq) return fail(errc::invalid_argument, std::string("opq=true with quantizer=") + q + ": must be false");
  if (p.polysemous)
    return fail(errc::invalid_argument, std::string("polysemous=true with quantizer=") + q + ": must be false");
  if (p.imi())
    return fail(errc::invalid_argument, std::string("coarse_quantizer=imi with quantizer=") + q +
                                            ": not supported, must be flat");
  return {};
}
constexpr unsigned k_max_imi_bits = 10;
}  // namespace

const char* to_string(coarse_quantizer_kind k) noexcept {
  return k == coarse_quantizer_kind::imi ? "imi" : k == coarse_quantizer_kind::flat ? "flat" : "unknown";
}

result<coarse_quantizer_kind> parse_coarse_quantizer(std::string_view text) {
  if (text == "flat") return coarse_quantizer_kind::flat;
  if (text == "imi") return coarse_quantizer_kind::imi;
  return fail(errc::invalid_argument, "coarse_quantizer='" + std::string(text) + "': must be one of flat, imi");
}

const char* to_string(quantizer_kind k) noexcept {
  switch (k) {
    case quantizer_kind::pq: return "pq";
    case quantizer_kind::rq: return "rq";
    case quantizer_kind::lsq: return "lsq";
  }
  return "unknown";
}

result<quantizer_kind> parse_quantizer(std::string_view text) {
  if (text == "pq") return quantizer_kind::pq;
  if (text == "rq") return quantizer_kind::rq;
  if (text == "lsq") return quantizer_kind::lsq;
  return fail(errc::invalid_argument, "quantizer='" + std::string(text) + "': must be one of pq, rq, lsq");
}

status index_params::validate() const {
  if (dimension == 0) return fail(errc::invalid_argument, "dimension=0: must be >= 1");
  if (num_bits != 4 && num_bits != 6 && num_bits != 8 && num_bits != 10 && num_bits != 12)
    return fail(errc::invalid_argument,
                "num_bits=" + str(num_bits) + ": must be one of 4, 6, 8, 10, 12");
  if (quantizer != quantizer_kind::pq && !additive())
    return fail(errc::invalid_argument, "quantizer=" + str(static_cast<unsigned>(quantizer)) +
                                            ": must be one of pq, rq, lsq");
  if (additive()) IVF_TRY(validate_additive(*this));
  if (num_sub_vectors == 0)
    return fail(errc::invalid_argument, "num_sub_vectors=0: must be >= 1 and divide dimension=" + str(dimension));
  if (!additive() && dimension % num_sub_vectors != 0)
    return fail(errc::invalid_argument, "num_sub_vectors=" + str(num_sub_vectors) +
                                            ": must divide dimension=" + str(dimension));
  if (num_partitions == 0) return fail(errc::invalid_argument, "num_partitions=0: must be >= 1");
  if (max_iterations == 0) return fail(errc::invalid_argument, "max_iterations=0: must be >= 1");
  if (sample_rate == 0) return fail(errc::invalid_argument, "sample_rate=0: must be >= 1");
  if (opq_iterations > k_max_opq_iterations)
    return fail(errc::invalid_argument, "opq_iterations=" + str(opq_iterations) + ": must be in [0, " +
                                            str(k_max_opq_iterations) + "]");
  if (polysemous && num_bits != 8)
    return fail(errc::invalid_argument, "num_bits=" + str(num_bits) + " with polysemous=true: must be 8");
  if (polysemous && metric == metric::dot)
    return fail(errc::invalid_argument, "metric=dot with polysemous=true: must be l2 or cosine");
  if (polysemous && (polysemous_iterations == 0 || polysemous_iterations > k_max_polysemous_iterations))
    return fail(errc::invalid_argument, "polysemous_iterations=" + str(polysemous_iterations) + ": must be in [1, " +
                                            str(k_max_polysemous_iterations) + "]");
  if (polysemous_objective != polysemous_objective_kind::close_pairs && polysemous_objective != polysemous_objective_kind::faiss)
    return fail(errc::invalid_argument, "polysemous_objective=" + str(static_cast<unsigned>(polysemous_objective)) +
                                            ": must be one of close_pairs, faiss");
  if (coarse_quantizer != coarse_quantizer_kind::flat && coarse_quantizer != coarse_quantizer_kind::imi)
    return fail(errc::invalid_argument, "coarse_quantizer=" + str(static_cast<unsigned>(coarse_quantizer)) +
                                            ": must be one of flat, imi");
  if (imi()) {
    if (imi_bits == 0 || imi_bits > k_max_imi_bits)
      return fail(errc::invalid_argument, "imi_bits=" + str(imi_bits) + " with coarse_quantizer=imi: must be in [1, " +
                                              str(k_max_imi_bits) + "]");
    if (num_partitions != std::size_t{1} << (2 * imi_bits))
      return fail(errc::invalid_argument, "num_partitions=" + str(num_partitions) + " with coarse_quantizer=imi imi_bits=" +
                                              str(imi_bits) + ": must be 2^(2*imi_bits)=" +
                                              str(std::size_t{1} << (2 * imi_bits)));
    if (dimension < 2)
      return fail(errc::invalid_argument, "dimension=" + str(dimension) + " with coarse_quantizer=imi: must be >= 2");
  }
  if (lopq) {  // index/local_codebooks.hpp
    if (lopq_groups == 0 || lopq_groups > num_partitions)
      return fail(errc::invalid_argument, "lopq_groups=" + str(lopq_groups) + " with lopq=true: must be in [1, num_partitions=" +
                                              str(num_partitions) + "]");
    if (lopq_iterations > k_max_opq_iterations)
      return fail(errc::invalid_argument, "lopq_iterations=" + str(lopq_iterations) + ": must be in [0, " +
                                              str(k_max_opq_iterations) + "]");
    if (lopq_min_points == 0 || lopq_min_points > k_max_lopq_min_points)
      return fail(errc::invalid_argument, "lopq_min_points=" + str(lopq_min_points) + ": must be in [1, " +
                                              str(k_max_lopq_min_points) + "]");
    if (quantizer != quantizer_kind::pq)
      return fail(errc::invalid_argument, std::string("lopq=true with quantizer=") +
                                              (quantizer == quantizer_kind::rq ? "rq" : "lsq") + ": must be pq");
    if (imi()) return fail(errc::invalid_argument, "lopq=true with coarse_quantizer=imi: not supported, must be flat");
    if (polysemous) return fail(errc::invalid_argument, "lopq=true with polysemous=true: not supported, must be false");
  }
  if (train_threads > k_max_train_threads)
    return fail(errc::invalid_argument, "train_threads=" + str(train_threads) + ": must be in [0, " +
                                            str(k_max_train_threads) + "] (0 = all hardware threads)");
  if (accelerator != kernels::accelerator::cpu && accelerator != kernels::accelerator::cuda &&
      accelerator != kernels::accelerator::automatic)
    return fail(errc::invalid_argument, "accelerator=" + str(static_cast<unsigned>(accelerator)) +
                                            ": must be one of cpu, cuda, auto");
  return {};
}

status index_params::validate_for_training(std::size_t n) const {
  IVF_TRY(validate());
  if (n == 0) return fail(errc::invalid_argument, "training set is empty: need at least num_partitions=" +
                                                      str(num_partitions) + " vectors");
  if (imi()) {  // each half codebook needs 2^imi_bits training vectors; cells may stay empty
    if ((std::size_t{1} << imi_bits) > n)
      return fail(errc::invalid_argument, "imi_bits=" + str(imi_bits) + ": needs at least 2^imi_bits=" +
                                              str(std::size_t{1} << imi_bits) + " training vectors, got " + str(n));
    return {};
  }
  if (num_partitions > n)
    return fail(errc::invalid_argument, "num_partitions=" + str(num_partitions) +
                                            ": must be <= the number of training vectors (" + str(n) + ")");
  return {};
}

// A field added to index_params must be placed in check_codebook_layout's compared or not-compared list
// (index_params.hpp) and written by index/codebook_codec.cpp; then update this size (x86-64, LP64).
static_assert(sizeof(index_params) == 176,
              "index_params changed: classify the new field in check_codebook_layout (index_params.hpp) and "
              "round-trip it in index/codebook_codec.cpp, then update this size");

status check_codebook_layout(const index_params& trained, const index_params& index, std::string_view what) {
  std::string was, has;  // the differing fields, "name=value" separated by spaces
  auto field = [&](const char* name, const std::string& a, const std::string& b) {
    if (a == b) return;
    was += (was.empty() ? "" : " ") + std::string(name) + "=" + a;
    has += (has.empty() ? "" : " ") + std::string(name) + "=" + b;
  };
  auto flag = [](bool v) { return std::string(v ? "true" : "false"); };
  const index_params &t = trained, &i = index;
  field("dimension", str(t.dimension), str(i.dimension));
  field("metric", to_string(t.metric), to_string(i.metric));
  if (t.imi() || i.imi() || t.lopq || i.lopq) field("num_partitions", str(t.num_partitions), str(i.num_partitions));
  field("num_sub_vectors", str(t.num_sub_vectors), str(i.num_sub_vectors));
  field("num_bits", str(t.num_bits), str(i.num_bits));
  field("keep_raw_vectors", flag(t.keep_raw_vectors), flag(i.keep_raw_vectors));
  field("quantizer", to_string(t.quantizer), to_string(i.quantizer));
  if (t.additive() && i.additive()) field("rq_beam_size", str(t.rq_beam_size), str(i.rq_beam_size));
  if (t.quantizer == quantizer_kind::lsq && i.quantizer == quantizer_kind::lsq)
    field("lsq_icm_iterations", str(t.lsq_icm_iterations), str(i.lsq_icm_iterations));
  field("coarse_quantizer", to_string(t.coarse_quantizer), to_string(i.coarse_quantizer));
  if (t.imi() && i.imi()) field("imi_bits", str(t.imi_bits), str(i.imi_bits));
  field("opq", flag(t.opq), flag(i.opq));
  field("lopq", flag(t.lopq), flag(i.lopq));
  if (t.lopq && i.lopq) field("lopq_groups", str(t.lopq_groups), str(i.lopq_groups));
  field("polysemous", flag(t.polysemous), flag(i.polysemous));
  if (was.empty()) return {};
  return fail(errc::invalid_argument,
              std::string(what) + ": they were trained with " + was + ", the index has " + has);
}

status search_params::validate() const {
  if (limit == 0) return fail(errc::invalid_argument, "limit=0: k must be >= 1");
  if (nprobes == 0) return fail(errc::invalid_argument, "nprobes=0: must be >= 1");
  return {};
}

}  // namespace ivfstream
