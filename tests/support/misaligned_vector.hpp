#pragma once
// Byte surgery on a finished FlatBuffers buffer, for decoder regression tests: moves one vector to
// the end of the buffer so that its elements start 4 bytes off an 8-byte boundary. The buffer stays
// valid (the Verifier checks only the 4-byte alignment of a vector's length prefix), which is what a
// hostile or broken file may do to a vector of 8-byte ids (f809d05, af28a49).
//
// Layout used: a table's vector field is a little-endian uint32 offset, relative to the field's own
// position, to the vector; a vector is a uint32 element count followed by the elements.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ivfstream::test {

/// `field_pos`: position in `bytes` of a table's vector field (the address that
/// flatbuffers::Table::GetAddressOf(VT_...) gives, minus the buffer start); `elem_size`: the size of
/// one element. Appends zero padding and a copy of the vector (count + elements) whose count sits at a
/// multiple of 8, rewrites the field to point at it, and returns the position of its first element
/// (4 mod 8). The old copy stays in place, unreferenced.
inline std::size_t move_vector_off_8_byte_alignment(std::vector<std::uint8_t>& bytes, std::size_t field_pos,
                                                    std::size_t elem_size) {
  std::uint32_t rel = 0, count = 0;
  std::memcpy(&rel, bytes.data() + field_pos, sizeof rel);
  const std::size_t old_pos = field_pos + rel;
  std::memcpy(&count, bytes.data() + old_pos, sizeof count);
  const std::vector<std::uint8_t> vec(bytes.begin() + static_cast<std::ptrdiff_t>(old_pos),
                                      bytes.begin() + static_cast<std::ptrdiff_t>(old_pos + 4 + count * elem_size));
  while (bytes.size() % 8 != 0) bytes.push_back(0);
  const std::size_t new_pos = bytes.size();
  bytes.insert(bytes.end(), vec.begin(), vec.end());
  const auto new_rel = static_cast<std::uint32_t>(new_pos - field_pos);
  std::memcpy(bytes.data() + field_pos, &new_rel, sizeof new_rel);
  return new_pos + 4;
}

}  // namespace ivfstream::test
