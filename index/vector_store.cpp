#include "index/vector_store.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace ivfstream {

namespace {

constexpr char k_magic[8] = {'I', 'V', 'F', 'S', 'V', 'S', 'E', 'G'};

error io_fail(const std::string& what, const std::string& path, int err) {
  return fail(errc::io_error, what + " " + path + ": " + std::strerror(err));
}

void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

vector_store::vector_store(std::string directory, std::size_t dimension, std::size_t rows_per_segment)
    : directory_(std::move(directory)),
      dimension_(dimension),
      rows_per_segment_(rows_per_segment) {}

result<std::unique_ptr<vector_store>> vector_store::create(const std::string& directory, std::size_t dimension,
                                                           std::size_t segment_bytes) {
  if (dimension == 0) return fail(errc::invalid_argument, "vector_store dimension=0: must be >= 1");
  const std::size_t row_bytes = dimension * sizeof(float);
  if (segment_bytes < row_bytes)
    return fail(errc::invalid_argument, "segment_bytes=" + std::to_string(segment_bytes) +
                                            ": must be >= one row (" + std::to_string(row_bytes) + " bytes)");
  std::unique_ptr<vector_store> store(new vector_store(directory, dimension, segment_bytes / row_bytes));
  if (!directory.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec) return fail(errc::io_error, "cannot create storage_dir " + directory + ": " + ec.message());
    if (std::filesystem::exists(store->segment_path(0), ec))
      return fail(errc::invalid_argument, "storage_dir=" + directory + ": already holds vector segments (" +
                                              store->segment_path(0) + "); use an empty directory");
  }
  return store;
}

vector_store::~vector_store() {
  for (auto& s : segments_) ::munmap(s.base, s.bytes);
}

std::string vector_store::segment_path(std::size_t i) const {
  char name[32];
  std::snprintf(name, sizeof(name), "vectors-%06zu.seg", i);
  return directory_ + "/" + name;
}

std::size_t vector_store::mapped_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& s : segments_) total += s.bytes;
  return total;
}

result<vector_store::segment> vector_store::map_file_segment(std::size_t index, std::size_t bytes) const {
  const std::string path = segment_path(index);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_fail("cannot create vector segment", path, errno);
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    ::close(fd);
    return io_fail("cannot size vector segment", path, err);
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (base == MAP_FAILED) return io_fail("cannot mmap vector segment", path, err);
  segment s;
  s.base = base;
  s.bytes = bytes;
  return s;
}

result<vector_store::segment> vector_store::map_memory_segment(std::size_t bytes) {
  // Reserve one huge page more than needed, keep the 2 MiB-aligned part and give the rest back.
  constexpr std::size_t huge = std::size_t{2} << 20;
  const std::size_t reserve = bytes + huge;
  void* mapping = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED)
    return fail(errc::io_error, "cannot map " + std::to_string(reserve) + " bytes for a vector segment: " +
                                    std::strerror(errno));
  auto* first = static_cast<char*>(mapping);
  auto* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(first) + huge - 1) & ~(huge - 1));
  if (base > first) ::munmap(first, static_cast<std::size_t>(base - first));
  if (first + reserve > base + bytes) ::munmap(base + bytes, static_cast<std::size_t>(first + reserve - (base + bytes)));
  (void)::madvise(base, bytes, MADV_HUGEPAGE);  // advice only: without THP the segment uses 4 KiB pages
  segment s;
  s.base = base;
  s.bytes = bytes;
  return s;
}

status vector_store::add_segment() {
  const std::size_t index = segments_.size();
  const std::size_t bytes = k_vector_segment_header_bytes + rows_per_segment_ * dimension_ * sizeof(float);
  auto mapped = in_memory() ? map_memory_segment(bytes) : map_file_segment(index, bytes);
  if (!mapped) return std::move(mapped).error();
  segment s = *mapped;
  auto* header = static_cast<unsigned char*>(s.base);
  std::memcpy(header, k_magic, sizeof(k_magic));
  put_u32(header + 8, k_vector_segment_version);
  put_u32(header + 12, static_cast<std::uint32_t>(dimension_));
  put_u64(header + 16, rows_per_segment_);
  put_u64(header + 24, index);
  s.rows = reinterpret_cast<float*>(header + k_vector_segment_header_bytes);
  segments_.push_back(s);
  return {};
}

result<std::uint64_t> vector_store::append(const float* x, std::size_t n) {
  const std::uint64_t first = size_;
  std::size_t done = 0;
  while (done < n) {
    if (size_ == segments_.size() * rows_per_segment_) IVF_TRY(add_segment());
    const std::size_t in_seg = size_ % rows_per_segment_;
    const std::size_t take = std::min(n - done, rows_per_segment_ - in_seg);
    std::memcpy(segments_.back().rows + in_seg * dimension_, x + done * dimension_,
                take * dimension_ * sizeof(float));
    size_ += take;
    done += take;
  }
  return first;
}

status vector_store::keep_rows(const std::uint64_t* rows, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (rows[i] >= size_)
      return fail(errc::invalid_argument, "keep_rows: row " + std::to_string(rows[i]) + " (entry " +
                                              std::to_string(i) + "): must be < size()=" + std::to_string(size_));
    if (i > 0 && rows[i] <= rows[i - 1])
      return fail(errc::invalid_argument, "keep_rows: row " + std::to_string(rows[i]) + " (entry " +
                                              std::to_string(i) + "): rows must be strictly ascending");
  }
  // rows[i] >= i, so moving in ascending order reads every row before anything overwrites it.
  for (std::size_t i = 0; i < n; ++i) {
    if (rows[i] == i) continue;
    float* dst = segments_[i / rows_per_segment_].rows + (i % rows_per_segment_) * dimension_;
    std::memcpy(dst, row(rows[i]), dimension_ * sizeof(float));
  }
  size_ = n;
  const std::size_t keep_segments = (n + rows_per_segment_ - 1) / rows_per_segment_;
  while (segments_.size() > keep_segments) {
    const segment& last = segments_.back();
    ::munmap(last.base, last.bytes);
    segments_.pop_back();
    if (in_memory()) continue;
    const std::string path = segment_path(segments_.size());
    if (::unlink(path.c_str()) != 0) return io_fail("cannot remove vector segment", path, errno);
  }
  if (keep_segments > 0 && n % rows_per_segment_ != 0) {
    // Free the pages of the last segment wholly past row n (they read as zero if touched again).
    const segment& last = segments_.back();
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t used = k_vector_segment_header_bytes + (n % rows_per_segment_) * dimension_ * sizeof(float);
    const std::size_t from = (used + page - 1) / page * page;
    if (from < last.bytes)
      ::madvise(static_cast<char*>(last.base) + from, last.bytes - from, in_memory() ? MADV_DONTNEED : MADV_REMOVE);
  }
  return {};
}

}  // namespace ivfstream
