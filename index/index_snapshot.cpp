// ivfpq_index::save / ivfpq_index::load (formats: index/index_snapshot.hpp, schemas/README.md).
#include "index/index_snapshot.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "index/codebook_codec.hpp"
#include "index/ivfpq_index.hpp"
#include "index/snapshot_files.hpp"
#include "schemas/index_snapshot_generated.h"

namespace ivfstream {

namespace fbs = ivfstream::snapshot;

namespace {

constexpr char k_raw_magic[8] = {'I', 'V', 'F', 'S', 'R', 'A', 'W', 'V'};
/// Rows per read/write of the raw-vector file.
constexpr std::size_t k_io_rows = 4096;

std::string str(std::size_t v) { return std::to_string(v); }

error io_fail(const std::string& what, const std::string& path, int err) {
  return fail(errc::io_error, what + " " + path + ": " + std::strerror(err));
}
error corrupt(const std::string& path, const std::string& what) {
  return fail(errc::corrupt_data, path + ": " + what);
}

/// A file written to path.tmp, fsynced (finish) and renamed to path (rename_into_place); the temp file is
/// removed if it was never renamed (unless abandoned).
class atomic_file {
public:
  explicit atomic_file(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}
  ~atomic_file() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  status open() {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return io_fail("cannot create", tmp_, errno);
    return {};
  }
  status write(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t w = ::write(fd_, p, bytes);
      if (w < 0) {
        if (errno == EINTR) continue;
        return io_fail("cannot write", tmp_, errno);
      }
      p += w;
      bytes -= static_cast<std::size_t>(w);
    }
    return {};
  }
  /// fsync + close of the temp file (save step "written").
  status finish() {
    if (::fsync(fd_) != 0) return io_fail("cannot fsync", tmp_, errno);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return io_fail("cannot close", tmp_, errno);
    }
    fd_ = -1;
    return {};
  }
  /// Renames the finished temp file to its final name and fsyncs the directory (step "renamed").
  status rename_into_place() {
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return io_fail("cannot rename to", path_, errno);
    committed_ = true;
    return sync_parent_directory(path_);
  }
  /// Crash simulation (save_until): leaves the temp file where it is, as a dying process would.
  void abandon() { committed_ = true; }

private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint32_t get_u32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string dir_prefix(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

}  // namespace

std::uint64_t fnv1a64_words(const void* data, std::size_t bytes, std::uint64_t state) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = state;
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) h = (h ^ get_u64(p + i)) * 0x100000001b3ull;
  if (i < bytes) {
    unsigned char last[8] = {};
    std::memcpy(last, p + i, bytes - i);
    h = (h ^ get_u64(last)) * 0x100000001b3ull;
  }
  return h;
}

status ivfpq_index::save(const std::string& path) const { return save_until(path, save_step::done); }

status ivfpq_index::save_until(const std::string& path, save_step last) const {
  const std::size_t d = params_.dimension;
  // FlatBuffers addresses at most 2 GiB: refuse before building rather than overflow.
  std::size_t estimate = 4096 + lists_.size() * 64;
  for (const auto& l : lists_) estimate += l.live() * (l.code_size() + sizeof(std::uint64_t)) + 16;
  if (codebooks_) estimate += codebooks_->centroids().size() * 4 + codebooks_->pq_codebooks().size() * 4;
  if (codebooks_ && codebooks_->local())  // LOPQ: list → group map, per-group rotations and codebooks
    estimate += codebooks_->local()->list_group().size() * 4 + codebooks_->local()->rotations().size() * 4 +
                codebooks_->local()->pq_codebooks().size() * 4;
  if (estimate > k_max_snapshot_bytes)
    return fail(errc::resource_exhausted, "save " + path + ": the snapshot needs about " + str(estimate) +
                                              " bytes, over FlatBuffers' limit of " + str(k_max_snapshot_bytes) +
                                              " bytes (2 GiB): shard the index over several ivfpq_index objects");

  flatbuffers::FlatBufferBuilder fbb(estimate < (std::size_t{1} << 30) ? estimate : (std::size_t{1} << 30));
  const auto params = write_index_params(fbb, params_);
  flatbuffers::Offset<fbs::Codebooks> codebooks = 0;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fbs::InvertedList>>> lists = 0;
  flatbuffers::Offset<fbs::RawVectors> raw = 0;
  std::string raw_name;  // file name of this save's raw-vector generation (snapshot_files.hpp); empty: none
  if (trained()) {
    codebooks = write_codebooks(fbb, *codebooks_);
    std::vector<flatbuffers::Offset<fbs::InvertedList>> offsets;
    offsets.reserve(lists_.size());
    std::vector<std::uint64_t> ids;
    std::vector<std::uint8_t> codes;
    for (const auto& l : lists_) {
      const std::size_t cs = l.code_size();
      // Live slots in order, codes row-major (a fast-scan list decodes its blocks; the format is unchanged).
      ids.clear();
      codes.clear();
      if (l.all_live()) {
        ids.resize(l.size());
        codes.resize(l.size() * cs);
        l.read_ids(0, l.size(), ids.data());
        l.read_codes(0, l.size(), codes.data());
      } else {
        for (std::uint32_t s = 0; s < l.size(); ++s) {
          if (!l.is_live(s)) continue;
          ids.push_back(l.id(s));
          codes.resize(codes.size() + cs);
          l.read_code(s, codes.data() + codes.size() - cs);
        }
      }
      const auto vids = fbb.CreateVector(ids);
      const auto vcodes = fbb.CreateVector(codes);
      offsets.push_back(fbs::CreateInvertedList(fbb, vids, vcodes));
    }
    lists = fbb.CreateVector(offsets);

    if (store_ && size() > 0) {
      // Raw vectors in snapshot order (lists in order, live slots in order), with their checksum, as a
      // new generation: the snapshot that names it is renamed into place only after it is durable.
      const std::string raw_path = vectors_generation_path(path, next_vectors_generation(path));
      atomic_file file(raw_path);
      IVF_TRY(file.open());
      unsigned char header[k_raw_vectors_header_bytes] = {};
      std::memcpy(header, k_raw_magic, sizeof(k_raw_magic));
      put_u32(header + 8, k_raw_vectors_version);
      put_u32(header + 12, static_cast<std::uint32_t>(d));
      put_u64(header + 16, size());
      IVF_TRY(file.write(header, sizeof(header)));
      std::uint64_t checksum = 0xcbf29ce484222325ull;
      std::vector<float> block;
      block.reserve(k_io_rows * d);
      auto flush = [&]() -> status {
        checksum = fnv1a64_words(block.data(), block.size() * sizeof(float), checksum);
        IVF_TRY(file.write(block.data(), block.size() * sizeof(float)));
        block.clear();
        return {};
      };
      for (const auto& l : lists_) {
        for (std::uint32_t s = 0; s < l.size(); ++s) {
          if (!l.is_live(s)) continue;
          const float* row = store_->row(ids_.find(l.id(s))->row);
          block.insert(block.end(), row, row + d);
          if (block.size() == k_io_rows * d) IVF_TRY(flush());
        }
      }
      IVF_TRY(flush());
      IVF_TRY(file.finish());
      if (last == save_step::vectors_written) {
        file.abandon();
        return {};
      }
      IVF_TRY(file.rename_into_place());
      if (last == save_step::vectors_renamed) return {};
      raw_name = base_name(raw_path);
      raw = fbs::CreateRawVectors(fbb, fbb.CreateString(raw_name), size(), d, checksum);
    }
  }
  const auto root = fbs::CreateIndexSnapshot(fbb, k_snapshot_format_version, params, trained(), codebooks, lists,
                                             size(), raw);
  fbs::FinishIndexSnapshotBuffer(fbb, root);
  atomic_file file(path);
  IVF_TRY(file.open());
  IVF_TRY(file.write(fbb.GetBufferPointer(), fbb.GetSize()));
  IVF_TRY(file.finish());
  if (last < save_step::snapshot_written) return {};  // no raw vectors: the vector steps had nothing to do
  if (last == save_step::snapshot_written) {
    file.abandon();
    return {};
  }
  IVF_TRY(file.rename_into_place());  // the commit point
  if (last == save_step::snapshot_renamed) return {};
  remove_stale_vectors(path, raw_name);
  return {};
}

result<ivfpq_index> ivfpq_index::load(const std::string& path, index_options opts) {
  // Read the whole snapshot (bounded by FlatBuffers' 2 GiB limit).
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return io_fail("cannot open index snapshot", path, errno);
  const std::streamoff file_size = in.tellg();
  if (file_size < 0) return io_fail("cannot read index snapshot", path, errno);
  if (static_cast<std::size_t>(file_size) >= k_max_snapshot_bytes)
    return corrupt(path, "file of " + str(file_size) + " bytes is larger than any index snapshot (2 GiB limit)");
  if (file_size < 8)
    return corrupt(path, "file of " + str(file_size) + " bytes is too short to be an index snapshot (truncated?)");
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(file_size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(buf.data()), file_size)) return io_fail("cannot read index snapshot", path, errno);

  if (!fbs::IndexSnapshotBufferHasIdentifier(buf.data())) {
    std::string ident(reinterpret_cast<const char*>(buf.data()) + 4, 4);
    for (char& c : ident)
      if (c < 32 || c > 126) c = '?';
    return corrupt(path, "not an ivfstream index snapshot: file identifier '" + ident + "', expected '" +
                             fbs::IndexSnapshotIdentifier() + "'");
  }
  flatbuffers::Verifier::Options vopt;
  vopt.max_tables = 1u << 26;  // one table per list: allow far more lists than any index has
  flatbuffers::Verifier verifier(buf.data(), buf.size(), vopt);
  if (!fbs::VerifyIndexSnapshotBuffer(verifier))
    return corrupt(path, "index snapshot failed FlatBuffers verification (truncated or corrupt)");
  const fbs::IndexSnapshot* snap = fbs::GetIndexSnapshot(buf.data());
  if (snap->format_version() != k_snapshot_format_version)
    return fail(errc::version_mismatch, path + ": index snapshot format_version=" + str(snap->format_version()) +
                                            ": this build reads only version " + str(k_snapshot_format_version));
  if (!snap->params()) return corrupt(path, "index snapshot has no params");
  auto read_params = read_index_params(snap->params());
  if (!read_params) return corrupt(path, read_params.error().message());
  const index_params p = *read_params;
  if (!snap->trained()) {
    if (snap->num_vectors() != 0) return corrupt(path, "untrained index snapshot claims num_vectors=" + str(snap->num_vectors()));
    return create(p, std::move(opts));
  }

  // Codebooks: sizes checked by division first (no overflowing products of untrusted numbers).
  if (!snap->codebooks() || !snap->codebooks()->centroids() || !snap->codebooks()->pq_codebooks())
    return corrupt(path, "trained index snapshot has no codebooks");
  auto cb = read_codebooks(p, snap->codebooks());
  if (!cb) return corrupt(path, cb.error().message());
  const std::size_t d = p.dimension, nlist = p.num_partitions;

  const auto* flists = snap->lists();
  if (!flists || flists->size() != nlist)
    return corrupt(path, "index snapshot holds " + str(flists ? flists->size() : 0) + " lists, expected num_partitions=" +
                             str(nlist));
  const std::size_t cs = p.code_size();
  std::size_t total = 0;
  for (flatbuffers::uoffset_t l = 0; l < nlist; ++l) {
    const fbs::InvertedList* fl = flists->Get(l);
    const std::size_t n_ids = fl && fl->ids() ? fl->ids()->size() : 0;
    const std::size_t n_codes = fl && fl->codes() ? fl->codes()->size() : 0;
    if (n_codes != n_ids * cs)
      return corrupt(path, "list " + str(l) + " holds " + str(n_ids) + " ids but " + str(n_codes) +
                               " code bytes, expected ids × code_size (" + str(cs) + ")");
    total += n_ids;
  }
  if (total != snap->num_vectors())
    return corrupt(path, "lists hold " + str(total) + " entries but num_vectors=" + str(snap->num_vectors()));

  // Raw vectors: the sibling file named in the snapshot, checked against it before use.
  const fbs::RawVectors* fraw = snap->raw_vectors();
  const bool want_raw = p.keep_raw_vectors && total > 0;
  std::ifstream raw_in;
  std::string raw_path;
  if (want_raw) {
    if (!fraw || !fraw->file_name()) return corrupt(path, "index snapshot keeps raw vectors but names no raw-vector file");
    const std::string name = fraw->file_name()->str();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      return corrupt(path, "raw_vectors.file_name='" + name + "': must be a plain file name");
    if (fraw->rows() != total || fraw->dimension() != d)
      return corrupt(path, "raw_vectors describes " + str(fraw->rows()) + " × " + str(fraw->dimension()) +
                               " floats, expected " + str(total) + " × " + str(d));
    raw_path = dir_prefix(path) + name;
    raw_in.open(raw_path, std::ios::binary | std::ios::ate);
    if (!raw_in) return io_fail("cannot open raw-vector file", raw_path, errno);
    const std::streamoff raw_size = raw_in.tellg();
    const std::size_t want_size = k_raw_vectors_header_bytes + total * d * sizeof(float);
    if (raw_size < 0 || static_cast<std::size_t>(raw_size) != want_size)
      return corrupt(raw_path, "raw-vector file of " + str(raw_size) + " bytes, expected " + str(want_size) +
                                   " (truncated or foreign)");
    raw_in.seekg(0);
    unsigned char header[k_raw_vectors_header_bytes];
    if (!raw_in.read(reinterpret_cast<char*>(header), sizeof(header)))
      return io_fail("cannot read raw-vector file", raw_path, errno);
    if (std::memcmp(header, k_raw_magic, sizeof(k_raw_magic)) != 0)
      return corrupt(raw_path, "not an ivfstream raw-vector file (magic differs from 'IVFSRAWV')");
    if (get_u32(header + 8) != k_raw_vectors_version)
      return fail(errc::version_mismatch, raw_path + ": raw-vector file version=" + str(get_u32(header + 8)) +
                                              ": this build reads only version " + str(k_raw_vectors_version));
    if (get_u32(header + 12) != d || get_u64(header + 16) != total)
      return corrupt(raw_path, "raw-vector header says " + str(get_u64(header + 16)) + " × " +
                                   str(get_u32(header + 12)) + ", snapshot says " + str(total) + " × " + str(d));
  }

  auto created = create(p, std::move(opts));
  if (!created) return std::move(created).error();
  ivfpq_index index = std::move(*created);
  index.codebooks_ = std::move(*cb);
  index.lists_.assign(nlist, index.empty_list());
  index.ids_.reserve(total);
  std::uint64_t row = 0;
  for (flatbuffers::uoffset_t l = 0; l < nlist; ++l) {
    const fbs::InvertedList* fl = flists->Get(l);
    if (!fl || !fl->ids()) continue;
    const std::size_t n = fl->ids()->size();
    inverted_list& list = index.lists_[l];
    list.reserve(n);
    // The Verifier checks only the 4-byte alignment of a vector's length prefix: in a hostile or broken
    // file the 8-byte ids may sit 4 bytes off alignment, so each is copied out, never loaded in place.
    const std::uint8_t* id_bytes = fl->ids()->Data();
    const std::uint8_t* codes = fl->codes()->data();
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t id;
      std::memcpy(&id, id_bytes + i * sizeof id, sizeof id);
      const std::uint64_t r = want_raw ? row++ : k_no_row;
      const std::uint32_t slot =
          list.append(id, codes + i * cs, r, index.codebooks_->entry_term(static_cast<std::uint32_t>(l), codes + i * cs));
      if (index.ids_.upsert(id, {static_cast<std::uint32_t>(l), slot, r}))
        return corrupt(path, "id " + std::to_string(id) + " appears more than once");
    }
  }
  if (want_raw) {
    std::vector<float> block(k_io_rows * d);
    std::uint64_t checksum = 0xcbf29ce484222325ull;
    for (std::size_t done = 0; done < total;) {
      const std::size_t nb = std::min(k_io_rows, total - done);
      if (!raw_in.read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(nb * d * sizeof(float))))
        return corrupt(raw_path, "raw-vector file ends early (truncated)");
      checksum = fnv1a64_words(block.data(), nb * d * sizeof(float), checksum);
      auto first = index.store_->append(block.data(), nb);
      if (!first) return std::move(first).error();
      done += nb;
    }
    if (checksum != fraw->checksum())
      return corrupt(raw_path, "raw-vector checksum mismatch (file corrupt or from another snapshot)");
  }
  return index;
}

}  // namespace ivfstream
