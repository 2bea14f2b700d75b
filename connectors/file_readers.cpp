#include "connectors/file_readers.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <sys/stat.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "file_readers assumes a little-endian host (the file formats are little-endian)");

namespace ivfstream::connectors {
namespace {

/// Bytes read per fread call while streaming rows (bounded buffer, whatever the file size).
constexpr std::size_t k_read_chunk_bytes = std::size_t{4} << 20;

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

/// An open file and its size in bytes.
struct open_file {
  file_ptr file;
  std::uint64_t size = 0;
};

result<open_file> open_for_reading(const std::string& path) {
  std::FILE* raw = std::fopen(path.c_str(), "rb");
  if (raw == nullptr) {
    const int err = errno;
    return fail(err == ENOENT ? errc::not_found : errc::io_error,
                path + ": cannot open for reading: " + std::strerror(err));
  }
  open_file f{file_ptr(raw), 0};
  struct stat st {};
  if (::fstat(::fileno(raw), &st) != 0) {
    return fail(errc::io_error, path + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return fail(errc::invalid_argument, path + ": not a regular file");
  f.size = static_cast<std::uint64_t>(st.st_size);
  return f;
}

status read_exact(std::FILE* f, void* out, std::size_t bytes, const std::string& path, std::uint64_t offset) {
  if (bytes == 0) return {};
  if (std::fread(out, 1, bytes, f) != bytes) {
    if (std::ferror(f)) return fail(errc::io_error, path + ": read failed at byte " + std::to_string(offset));
    return fail(errc::corrupt_data, path + ": unexpected end of file at byte " + std::to_string(offset) +
                                        " (file truncated while reading)");
  }
  return {};
}

/// Shared reader of the *vecs family: every row is an int32 dimension followed by dim values of T.
template <class T>
result<dense_matrix<T>> read_vecs(const std::string& path, std::size_t max_rows, const char* format) {
  auto opened = open_for_reading(path);
  if (!opened) return std::move(opened).error();
  std::FILE* f = opened->file.get();
  const std::uint64_t size = opened->size;
  if (size == 0) return fail(errc::corrupt_data, path + ": empty file: expected at least one " + format + " row");
  if (size < sizeof(std::int32_t)) {
    return fail(errc::corrupt_data, path + ": " + std::to_string(size) + " bytes: shorter than one " + format +
                                        " row header (4 bytes); truncated file");
  }
  std::int32_t dim32 = 0;
  IVF_TRY(read_exact(f, &dim32, sizeof dim32, path, 0));
  if (dim32 <= 0 || static_cast<std::size_t>(dim32) > k_max_file_dimension) {
    return fail(errc::corrupt_data, path + ": row 0 declares dimension " + std::to_string(dim32) +
                                        ": expected 1.." + std::to_string(k_max_file_dimension) + " (not a " +
                                        format + " file?)");
  }
  const std::size_t dim = static_cast<std::size_t>(dim32);
  const std::uint64_t row_bytes = sizeof(std::int32_t) + dim * sizeof(T);
  if (size % row_bytes != 0) {
    return fail(errc::corrupt_data,
                path + ": size " + std::to_string(size) + " bytes is not a multiple of the row size " +
                    std::to_string(row_bytes) + " bytes (dimension " + std::to_string(dim) + "): " +
                    std::to_string(size / row_bytes) + " whole rows then " + std::to_string(size % row_bytes) +
                    " stray bytes; truncated or not a " + format + " file");
  }
  const std::size_t total_rows = static_cast<std::size_t>(size / row_bytes);
  const std::size_t rows = max_rows == 0 ? total_rows : std::min(max_rows, total_rows);

  dense_matrix<T> m;
  m.rows = rows;
  m.dim = dim;
  m.values.resize(rows * dim);
  if (std::fseek(f, 0, SEEK_SET) != 0) return fail(errc::io_error, path + ": seek failed");

  const std::size_t rows_per_chunk = std::max<std::size_t>(1, k_read_chunk_bytes / row_bytes);
  std::vector<unsigned char> buffer(std::min(rows, rows_per_chunk) * row_bytes);
  for (std::size_t first = 0; first < rows; first += rows_per_chunk) {
    const std::size_t n = std::min(rows_per_chunk, rows - first);
    IVF_TRY(read_exact(f, buffer.data(), n * row_bytes, path, first * row_bytes));
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned char* rec = buffer.data() + i * row_bytes;
      std::int32_t d = 0;
      std::memcpy(&d, rec, sizeof d);
      if (d != dim32) {
        return fail(errc::corrupt_data, path + ": row " + std::to_string(first + i) + " declares dimension " +
                                            std::to_string(d) + ": expected " + std::to_string(dim) +
                                            " like row 0 (inconsistent rows; not a " + format + " file?)");
      }
      std::memcpy(m.row(first + i), rec + sizeof(std::int32_t), dim * sizeof(T));
    }
  }
  return m;
}

// ---- .npy -------------------------------------------------------------------------------------------

/// The part of a .npy header dictionary we use.
struct npy_header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

/// Value text of `'key': value` in the header dict (up to the next top-level ',' or '}').
result<std::string_view> npy_field(std::string_view header, std::string_view key, const std::string& path) {
  const std::string quoted = "'" + std::string(key) + "'";
  std::size_t pos = header.find(quoted);
  if (pos == std::string_view::npos) {
    return fail(errc::corrupt_data, path + ": .npy header has no '" + std::string(key) + "' field");
  }
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string_view::npos) {
    return fail(errc::corrupt_data, path + ": .npy header field '" + std::string(key) + "' has no value");
  }
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  std::size_t end = pos;
  if (end < header.size() && header[end] == '(') {
    end = header.find(')', end);
    if (end == std::string_view::npos) {
      return fail(errc::corrupt_data, path + ": .npy header field '" + std::string(key) + "' is not closed");
    }
    ++end;
  } else if (end < header.size() && (header[end] == '\'' || header[end] == '"')) {
    end = header.find(header[pos], pos + 1);
    if (end == std::string_view::npos) {
      return fail(errc::corrupt_data, path + ": .npy header field '" + std::string(key) + "' is not closed");
    }
    ++end;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  }
  std::string_view v = header.substr(pos, end - pos);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

result<npy_header> parse_npy_header(std::string_view text, const std::string& path) {
  npy_header h;
  auto descr = npy_field(text, "descr", path);
  if (!descr) return std::move(descr).error();
  if (descr->size() < 2 || (descr->front() != '\'' && descr->front() != '"')) {
    return fail(errc::invalid_argument, path + ": .npy descr=" + std::string(*descr) +
                                            ": expected a simple dtype string such as '<f4' (structured "
                                            "arrays are not supported)");
  }
  h.descr = std::string(descr->substr(1, descr->size() - 2));
  auto fortran = npy_field(text, "fortran_order", path);
  if (!fortran) return std::move(fortran).error();
  if (*fortran == "True") {
    h.fortran_order = true;
  } else if (*fortran != "False") {
    return fail(errc::corrupt_data, path + ": .npy fortran_order=" + std::string(*fortran) +
                                        ": expected True or False");
  }
  auto shape = npy_field(text, "shape", path);
  if (!shape) return std::move(shape).error();
  if (shape->size() < 2 || shape->front() != '(' || shape->back() != ')') {
    return fail(errc::corrupt_data, path + ": .npy shape=" + std::string(*shape) + ": expected a tuple");
  }
  std::string_view s = shape->substr(1, shape->size() - 2);
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    std::uint64_t v = 0;
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (v > (std::uint64_t{1} << 50)) {
        return fail(errc::corrupt_data, path + ": .npy shape=" + std::string(*shape) + ": dimension too large");
      }
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || (i < s.size() && s[i] != ',' && s[i] != ' ')) {
      return fail(errc::corrupt_data, path + ": .npy shape=" + std::string(*shape) +
                                          ": expected non-negative integers");
    }
    h.shape.push_back(v);
  }
  return h;
}

/// Size in bytes of one element of an accepted dtype (kind letter + size), 0 if not accepted.
std::size_t npy_item_size(std::string_view type) {
  static constexpr std::string_view k_accepted[] = {"f4", "f8", "u1", "i1", "u2", "i2", "u4", "i4"};
  for (std::string_view a : k_accepted) {
    if (type == a) return static_cast<std::size_t>(a[1] - '0');
  }
  return 0;
}

template <class T>
void convert_to_float(const unsigned char* src, std::size_t n, float* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

void convert_npy(std::string_view type, const unsigned char* src, std::size_t n, float* dst) {
  if (type == "f4") convert_to_float<float>(src, n, dst);
  else if (type == "f8") convert_to_float<double>(src, n, dst);
  else if (type == "u1") convert_to_float<std::uint8_t>(src, n, dst);
  else if (type == "i1") convert_to_float<std::int8_t>(src, n, dst);
  else if (type == "u2") convert_to_float<std::uint16_t>(src, n, dst);
  else if (type == "i2") convert_to_float<std::int16_t>(src, n, dst);
  else if (type == "u4") convert_to_float<std::uint32_t>(src, n, dst);
  else {
    IVF_ASSERT(type == "i4");
    convert_to_float<std::int32_t>(src, n, dst);
  }
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

result<dense_matrix<float>> read_fvecs(const std::string& path, std::size_t max_rows) {
  return read_vecs<float>(path, max_rows, ".fvecs");
}

result<dense_matrix<std::int32_t>> read_ivecs(const std::string& path, std::size_t max_rows) {
  return read_vecs<std::int32_t>(path, max_rows, ".ivecs");
}

result<dense_matrix<std::uint8_t>> read_bvecs(const std::string& path, std::size_t max_rows) {
  return read_vecs<std::uint8_t>(path, max_rows, ".bvecs");
}

result<dense_matrix<float>> read_npy(const std::string& path, std::size_t max_rows) {
  auto opened = open_for_reading(path);
  if (!opened) return std::move(opened).error();
  std::FILE* f = opened->file.get();
  const std::uint64_t size = opened->size;

  constexpr std::size_t k_preamble = 8;  // "\x93NUMPY" + major + minor
  unsigned char pre[k_preamble + 4] = {};
  if (size < k_preamble + 2) {
    return fail(errc::corrupt_data, path + ": " + std::to_string(size) +
                                        " bytes: too short for a .npy preamble; truncated or not a .npy file");
  }
  IVF_TRY(read_exact(f, pre, k_preamble, path, 0));
  if (std::memcmp(pre, "\x93NUMPY", 6) != 0) {
    return fail(errc::corrupt_data, path + ": bad magic: expected \\x93NUMPY (not a .npy file)");
  }
  const unsigned major = pre[6];
  std::size_t header_len = 0;
  std::size_t len_bytes = 0;
  if (major == 1) {
    len_bytes = 2;
  } else if (major == 2 || major == 3) {
    len_bytes = 4;
  } else {
    return fail(errc::version_mismatch, path + ": .npy format version " + std::to_string(major) + "." +
                                            std::to_string(pre[7]) + ": expected 1.x, 2.x or 3.x");
  }
  IVF_TRY(read_exact(f, pre + k_preamble, len_bytes, path, k_preamble));
  for (std::size_t i = 0; i < len_bytes; ++i) header_len |= std::size_t{pre[k_preamble + i]} << (8 * i);
  const std::uint64_t data_offset = k_preamble + len_bytes + header_len;
  if (data_offset > size) {
    return fail(errc::corrupt_data, path + ": .npy header of " + std::to_string(header_len) +
                                        " bytes runs past the end of the " + std::to_string(size) +
                                        "-byte file; truncated");
  }
  std::string header_text(header_len, '\0');
  IVF_TRY(read_exact(f, header_text.data(), header_len, path, k_preamble + len_bytes));
  auto header = parse_npy_header(header_text, path);
  if (!header) return std::move(header).error();

  const std::string& descr = header->descr;
  const char order = descr.empty() ? '?' : descr[0];
  const std::string type = descr.size() > 1 ? descr.substr(1) : std::string();
  const std::size_t item = npy_item_size(type);
  const bool one_byte = item == 1;
  const bool order_ok = order == '<' || order == '=' || (one_byte && order == '|');
  if (item == 0 || !order_ok) {
    return fail(errc::invalid_argument, path + ": .npy dtype '" + descr +
                                            "': must be one of <f4, <f8, |u1, |i1, <u2, <i2, <u4, <i4 "
                                            "(little-endian numeric)");
  }
  if (header->fortran_order) {
    return fail(errc::invalid_argument, path + ": .npy fortran_order=True: only C-order arrays are supported "
                                               "(save with np.ascontiguousarray)");
  }
  if (header->shape.empty() || header->shape.size() > 2) {
    return fail(errc::invalid_argument, path + ": .npy array with " + std::to_string(header->shape.size()) +
                                            " dimensions: expected 1 (n) or 2 (n, d)");
  }
  const std::uint64_t total_rows = header->shape[0];
  const std::uint64_t dim = header->shape.size() == 2 ? header->shape[1] : 1;
  if (dim == 0 || dim > k_max_file_dimension) {
    return fail(errc::corrupt_data, path + ": .npy row length " + std::to_string(dim) + ": expected 1.." +
                                        std::to_string(k_max_file_dimension));
  }
  const std::uint64_t row_bytes = dim * item;
  const std::uint64_t data_bytes = size - data_offset;
  if (total_rows > data_bytes / row_bytes || data_bytes != total_rows * row_bytes) {
    return fail(errc::corrupt_data, path + ": .npy shape (" + std::to_string(total_rows) + ", " +
                                        std::to_string(dim) + ") of " + descr + " needs " +
                                        std::to_string(total_rows * row_bytes) + " data bytes but the file has " +
                                        std::to_string(data_bytes) + "; truncated or not a .npy file");
  }
  const std::size_t rows = static_cast<std::size_t>(
      max_rows == 0 ? total_rows : std::min<std::uint64_t>(max_rows, total_rows));

  dense_matrix<float> m;
  m.rows = rows;
  m.dim = static_cast<std::size_t>(dim);
  m.values.resize(rows * m.dim);
  const std::size_t rows_per_chunk = std::max<std::size_t>(1, k_read_chunk_bytes / row_bytes);
  std::vector<unsigned char> buffer(std::min(rows, rows_per_chunk) * row_bytes);
  for (std::size_t first = 0; first < rows; first += rows_per_chunk) {
    const std::size_t n = std::min(rows_per_chunk, rows - first);
    IVF_TRY(read_exact(f, buffer.data(), n * row_bytes, path, data_offset + first * row_bytes));
    convert_npy(type, buffer.data(), n * m.dim, m.row(first));
  }
  return m;
}

result<dense_matrix<float>> read_vectors(const std::string& path, std::size_t max_rows) {
  if (ends_with(path, ".fvecs")) return read_fvecs(path, max_rows);
  if (ends_with(path, ".npy")) return read_npy(path, max_rows);
  if (ends_with(path, ".bvecs")) {
    auto b = read_bvecs(path, max_rows);
    if (!b) return std::move(b).error();
    dense_matrix<float> m;
    m.rows = b->rows;
    m.dim = b->dim;
    m.values.assign(b->values.begin(), b->values.end());
    return m;
  }
  return fail(errc::invalid_argument,
              path + ": unknown vector file extension: must be one of .fvecs, .bvecs, .npy");
}

}  // namespace ivfstream::connectors
