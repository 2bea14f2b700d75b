#include "actors/internal/durable_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ivfstream::actors::internal {
namespace {

error io_failure(const std::string& what, const std::string& path) {
  return fail(errc::io_error, what + " '" + path + "': " + std::strerror(errno));
}

status write_all(int fd, const std::uint8_t* bytes, std::size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t w = ::write(fd, bytes, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_failure("write", path);
    }
    bytes += w;
    size -= static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace

status write_file_durably(const std::string& path, const std::uint8_t* bytes, std::size_t size) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_failure("open", tmp);
  auto st = write_all(fd, bytes, size, tmp);
  if (st && ::fsync(fd) != 0) st = io_failure("fsync", tmp);
  ::close(fd);
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_failure("rename to", path);
  // The rename is durable only once the directory entry is.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_failure("open directory", dir);
  const int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io_failure("fsync directory", dir);
  return {};
}

result<std::vector<std::uint8_t>> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return fail(errc::not_found, "file '" + path + "' does not exist");
    return io_failure("open", path);
  }
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    ::close(fd);
    return io_failure("stat", path);
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(sb.st_size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      return r == 0 ? fail(errc::io_error, "file '" + path + "' shrank while being read")
                    : io_failure("read", path);
    }
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return bytes;
}

status make_directories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return fail(errc::io_error, "create directory '" + path + "': " + ec.message());
  return {};
}

}  // namespace ivfstream::actors::internal
