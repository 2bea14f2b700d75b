#include "actors/checkpoint.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "actors/internal/durable_file.hpp"
#include "index/codebook_codec.hpp"
#include "schemas/checkpoint_generated.h"
#include "schemas/partition_snapshot_generated.h"

namespace ivfstream::actors {
namespace {

constexpr std::uint32_t k_manifest_format_version = 1;
constexpr const char* k_manifest_prefix = "manifest-";
constexpr const char* k_manifest_suffix = ".ivcm";

namespace fs = std::filesystem;

// Sequences of every manifest file in data_dir (names manifest-<digits>.ivcm), ascending.
std::vector<std::uint64_t> manifest_sequences(const std::string& data_dir) {
  std::vector<std::uint64_t> out;
  std::error_code ec;
  for (fs::directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string prefix = k_manifest_prefix, suffix = k_manifest_suffix;
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.push_back(std::stoull(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Whether `name` is `checkpoint-<digits>` with <digits> ≤ seq (an incremental manifest's reference).
bool older_checkpoint_dir(const std::string& name, std::uint64_t seq) {
  const std::string prefix = "checkpoint-";
  if (name.size() <= prefix.size() || name.size() > prefix.size() + 19 || name.compare(0, prefix.size(), prefix) != 0)
    return false;
  const std::string digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return std::stoull(digits) <= seq;
}

// The manifest's name of a partition file: a bare name inside checkpoint-<seq>/, or
// "checkpoint-<k>/<name>" (relative to data_dir) for one written by an older checkpoint k.
std::string manifest_file_name(const std::string& data_dir, std::uint64_t seq, const std::string& path) {
  const fs::path file(path);
  if (file.parent_path() == fs::path(checkpoint_directory(data_dir, seq))) return file.filename().string();
  return (file.parent_path().filename() / file.filename()).string();
}

// Resolves a manifest's file name (see manifest_file_name); empty when it is not one of those forms.
std::string resolve_file_name(const std::string& data_dir, std::uint64_t seq, const std::string& name) {
  const auto slash = name.find('/');
  if (name.empty() || name == "." || name == "..") return {};
  if (slash == std::string::npos) return (fs::path(checkpoint_directory(data_dir, seq)) / name).string();
  const std::string dir = name.substr(0, slash), file = name.substr(slash + 1);
  if (!older_checkpoint_dir(dir, seq) || file.empty() || file.find('/') != std::string::npos || file == "." ||
      file == "..")
    return {};
  return (fs::path(data_dir) / dir / file).string();
}

bool partition_file_ok(const std::string& path) {
  auto bytes = internal::read_file(path);
  if (!bytes) return false;
  flatbuffers::Verifier v(bytes->data(), bytes->size(), 64, 100000000);
  return ivfstream::schema::VerifyPartitionSnapshotBuffer(v);
}

}  // namespace

std::string checkpoint_directory(const std::string& data_dir, std::uint64_t seq) {
  return (fs::path(data_dir) / ("checkpoint-" + std::to_string(seq))).string();
}

std::string manifest_path(const std::string& data_dir, std::uint64_t seq) {
  return (fs::path(data_dir) / (k_manifest_prefix + std::to_string(seq) + k_manifest_suffix)).string();
}

status write_manifest(const std::string& data_dir, const checkpoint_manifest& m) {
  namespace sc = ivfstream::schema;
  IVF_ASSERT(m.codebooks != nullptr);
  flatbuffers::FlatBufferBuilder b(4096 + m.codebooks->memory_bytes());
  std::vector<flatbuffers::Offset<sc::PartitionFile>> parts;
  for (std::size_t p = 0; p < m.partition_files.size(); ++p)
    parts.push_back(sc::CreatePartitionFile(b, static_cast<std::uint32_t>(p),
                                            b.CreateString(manifest_file_name(data_dir, m.sequence, m.partition_files[p])),
                                            p < m.partition_sizes.size() ? m.partition_sizes[p] : 0));
  std::vector<flatbuffers::Offset<sc::TopicOffset>> offs;
  for (const auto& [tp, off] : m.offsets) {
    flatbuffers::Offset<flatbuffers::Vector<std::uint64_t>> owned;
    if (m.group_ingest) {
      const auto it = m.owned_ids.find(tp);
      owned = it != m.owned_ids.end() ? b.CreateVector(it->second) : b.CreateVector(std::vector<std::uint64_t>{});
    }
    offs.push_back(sc::CreateTopicOffset(b, b.CreateString(tp.first), tp.second, off, owned));
  }
  const auto params = write_index_params(b, m.codebooks->params());
  const auto cbs = write_codebooks(b, *m.codebooks);  // with the OPQ rotation when params.opq
  auto root = sc::CreateManifest(b, k_manifest_format_version, m.sequence, m.created_unix_ms, m.codebooks->version(),
                                 m.num_partition_actors, b.CreateVector(parts), b.CreateVector(offs), params, cbs,
                                 m.train_after, m.group_ingest);
  sc::FinishManifestBuffer(b, root);
  return internal::write_file_durably(manifest_path(data_dir, m.sequence), b.GetBufferPointer(), b.GetSize());
}

result<checkpoint_manifest> read_manifest(const std::string& data_dir, std::uint64_t seq) {
  namespace sc = ivfstream::schema;
  const std::string path = manifest_path(data_dir, seq);
  auto bytes = internal::read_file(path);
  if (!bytes) return std::move(bytes).error();
  flatbuffers::Verifier v(bytes->data(), bytes->size());
  if (!sc::VerifyManifestBuffer(v))
    return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': failed FlatBuffers verification");
  const auto* m = sc::GetManifest(bytes->data());
  if (m->format_version() != k_manifest_format_version)
    return fail(errc::version_mismatch, "checkpoint manifest '" + path + "' format_version=" +
                                            std::to_string(m->format_version()) + ": this build reads " +
                                            std::to_string(k_manifest_format_version));
  if (!m->params() || !m->codebooks() || !m->codebooks()->centroids() || !m->codebooks()->pq_codebooks() ||
      !m->partitions() || m->num_partition_actors() == 0 ||
      m->partitions()->size() != m->num_partition_actors())
    return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': missing params, codebooks or partitions");
  auto p = read_index_params(m->params());
  if (!p) return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': " + p.error().message());
  auto cb = read_codebooks(*p, m->codebooks());
  if (!cb) return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': " + cb.error().message());
  if ((*cb)->version() != m->codebook_version())
    return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': codebook_version=" +
                                        std::to_string(m->codebook_version()) + " but codebooks.version=" +
                                        std::to_string((*cb)->version()));
  checkpoint_manifest out;
  out.sequence = m->sequence();
  out.created_unix_ms = m->created_unix_ms();
  out.num_partition_actors = m->num_partition_actors();
  out.codebooks = std::move(*cb);
  out.train_after = m->train_after();
  out.partition_files.resize(out.num_partition_actors);
  out.partition_sizes.resize(out.num_partition_actors);
  for (const auto* pf : *m->partitions()) {
    const std::string file =
        pf->file() && pf->partition() < out.num_partition_actors ? resolve_file_name(data_dir, seq, pf->file()->str()) : "";
    if (file.empty())
      return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': bad partition entry (file must be a name "
                                      "inside checkpoint-" + std::to_string(seq) + "/ or checkpoint-<k <= " +
                                      std::to_string(seq) + ">/<name>)");
    out.partition_files[pf->partition()] = file;
    out.partition_sizes[pf->partition()] = pf->live_vectors();
  }
  if (m->offsets())
    for (const auto* o : *m->offsets()) {
      if (!o->topic()) return fail(errc::corrupt_data, "checkpoint manifest '" + path + "': offset without topic");
      out.offsets[{o->topic()->str(), o->partition()}] = o->offset();
      if (m->group_ingest()) {
        auto& ids = out.owned_ids[{o->topic()->str(), o->partition()}];
        // Copied out with memcpy: the Verifier checks only the 4-byte alignment of a vector's length
        // prefix, so in a hostile or broken file these 8-byte ids may sit 4 bytes off alignment.
        if (const auto* v = o->owned_ids()) {
          ids.resize(v->size());
          if (!ids.empty()) std::memcpy(ids.data(), v->Data(), ids.size() * sizeof(std::uint64_t));
        }
      }
    }
  out.group_ingest = m->group_ingest();
  return out;
}

std::optional<checkpoint_manifest> latest_checkpoint(const std::string& data_dir) {
  auto seqs = manifest_sequences(data_dir);
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    auto m = read_manifest(data_dir, *it);
    if (!m) continue;
    bool ok = true;
    for (const auto& f : m->partition_files) ok = ok && !f.empty() && partition_file_ok(f);
    if (ok) return std::move(*m);
  }
  return std::nullopt;
}

void remove_checkpoints_before(const std::string& data_dir, std::uint64_t keep_seq) {
  std::error_code ec;
  // Files that checkpoints from keep_seq on still reference (incremental checkpoints reuse the
  // snapshots of unchanged partitions from older directories). A corrupt manifest protects nothing:
  // manifests appear only by rename (complete), and latest_checkpoint never restores from one. Any other
  // failure to read one (I/O, a newer format) keeps everything: deleting less is always safe.
  std::set<fs::path> referenced;
  for (std::uint64_t seq : manifest_sequences(data_dir)) {
    if (seq < keep_seq) continue;
    auto m = read_manifest(data_dir, seq);
    if (!m && m.error().code() == errc::corrupt_data) continue;
    if (!m) return;
    for (const auto& f : m->partition_files) referenced.insert(fs::path(f).lexically_normal());
  }
  for (std::uint64_t seq : manifest_sequences(data_dir)) {
    if (seq >= keep_seq) continue;
    fs::remove(manifest_path(data_dir, seq), ec);
  }
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string prefix = "checkpoint-";
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    if (std::stoull(digits) < keep_seq) stale.push_back(it->path());
  }
  for (const auto& dir : stale) {
    std::error_code rm;
    bool kept = false;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, rm), end; !rm && it != end; it.increment(rm)) files.push_back(it->path());
    for (const auto& f : files) {
      if (referenced.count(f.lexically_normal()))
        kept = true;
      else
        fs::remove_all(f, rm);
    }
    if (!kept) fs::remove_all(dir, rm);
  }
}

}  // namespace ivfstream::actors
