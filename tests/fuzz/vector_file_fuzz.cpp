// libFuzzer target: the vector file readers of connectors/file_readers (.fvecs, .ivecs, .bvecs, .npy),
// which `ivfstream load` and `ivfstream bench` run on files named by the user.
// Input layout: byte 0 picks the reader (value % 4: 0 fvecs, 1 ivecs, 2 bvecs, 3 npy), the rest is the
// file, written as <scratch>/input.<ext> and read twice: all rows, then at most 2 rows.
// Properties: never crashes or over-allocates (the readers must check the file size before sizing a
// buffer from a header); an accepted file gives rows × dim values with 1 ≤ dim ≤ k_max_file_dimension,
// the row limit is honoured, and the limited read is a prefix of the full one (and accepts every file
// that the full read accepts).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "connectors/file_readers.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace ivfstream;
using namespace ivfstream::connectors;

namespace {

constexpr const char* k_extensions[] = {"fvecs", "ivecs", "bvecs", "npy"};

template <class T>
void check(const result<dense_matrix<T>>& all, const result<dense_matrix<T>>& two) {
  // A limited read checks the size and the rows it reads, so it may accept a file whose later rows
  // are inconsistent; a file that the full read accepts must be accepted by it too.
  if (all && !two) std::abort();
  if (!all) return;
  for (const auto* m : {&*all, &*two}) {
    if (m->dim == 0 || m->dim > k_max_file_dimension || m->values.size() != m->rows * m->dim) std::abort();
  }
  if (two->rows > 2 || two->rows > all->rows || two->dim != all->dim) std::abort();
  if (two->rows < 2 && two->rows != all->rows) std::abort();
  // Compare bytes (NaN payloads included): the first rows are read the same way.
  // (A 0-row .npy array is accepted with no values: data() may then be null, and memcmp must not see it.)
  if (!two->values.empty() &&
      std::memcmp(two->values.data(), all->values.data(), two->values.size() * sizeof(T)) != 0)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned format = data[0] % 4;
  const std::string path = fuzz::scratch_dir() + "/input." + k_extensions[format];
  fuzz::write_bytes(path, data + 1, size - 1);
  switch (format) {
    case 0: check(read_fvecs(path), read_fvecs(path, 2)); break;
    case 1: check(read_ivecs(path), read_ivecs(path, 2)); break;
    case 2: check(read_bvecs(path), read_bvecs(path, 2)); break;
    default: check(read_npy(path), read_npy(path, 2)); break;
  }
  return 0;
}
