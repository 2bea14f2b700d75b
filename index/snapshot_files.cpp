#include "index/snapshot_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace ivfstream {

namespace {

namespace fs = std::filesystem;

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
std::string base_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// If `name` is "<base>.vectors.<N>" or "<base>.vectors.<N>.tmp" (N: 1–19 decimal digits), sets *gen.
bool parse_generation(const std::string& name, const std::string& base, std::uint64_t* gen) {
  const std::string prefix = base + ".vectors.";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  std::string digits = name.substr(prefix.size());
  if (digits.size() > 4 && digits.compare(digits.size() - 4, 4, ".tmp") == 0) digits.resize(digits.size() - 4);
  if (digits.empty() || digits.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *gen = v;
  return true;
}

}  // namespace

std::uint64_t next_vectors_generation(const std::string& snapshot_path) {
  const std::string base = base_of(snapshot_path);
  std::uint64_t top = 0;
  std::error_code ec;
  for (fs::directory_iterator it(parent_of(snapshot_path), ec), end; !ec && it != end; it.increment(ec)) {
    std::uint64_t g = 0;
    if (parse_generation(it->path().filename().string(), base, &g) && g > top) top = g;
  }
  return top + 1;
}

std::string vectors_generation_path(const std::string& snapshot_path, std::uint64_t generation) {
  return snapshot_path + ".vectors." + std::to_string(generation);
}

status sync_parent_directory(const std::string& path) {
  const std::string dir = parent_of(path);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errc::io_error, "cannot open directory " + dir + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return fail(errc::io_error, "cannot fsync directory " + dir + ": " + std::strerror(err));
  return {};
}

void remove_stale_vectors(const std::string& snapshot_path, const std::string& keep) {
  const std::string base = base_of(snapshot_path);
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(parent_of(snapshot_path), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == keep) continue;
    std::uint64_t g = 0;
    if (name == base + ".tmp" || name == base + ".vectors" || name == base + ".vectors.tmp" ||
        parse_generation(name, base, &g))
      doomed.push_back(it->path());
  }
  for (const auto& p : doomed) fs::remove(p, ec);  // best effort: the next save retries
}

}  // namespace ivfstream
