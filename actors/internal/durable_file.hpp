#pragma once
// Crash-safe whole-file writes for checkpoints: write to "<path>.tmp", fsync it, rename it over
// <path>, fsync the directory. A reader sees either the old file or the complete new one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "index/error.hpp"

namespace ivfstream::actors::internal {

/// Writes bytes[0, size) to path atomically and durably (see above). Thread-safe for distinct paths.
status write_file_durably(const std::string& path, const std::uint8_t* bytes, std::size_t size);

/// Reads a whole file. Errors: not_found, io_error.
result<std::vector<std::uint8_t>> read_file(const std::string& path);

/// Creates a directory and its parents (like mkdir -p). Errors: io_error naming the path.
status make_directories(const std::string& path);

}  // namespace ivfstream::actors::internal
