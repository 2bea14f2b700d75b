#pragma once
// The first checks every decoder of peer-link bytes runs (actors/peer_codec.cpp, actors/train_codec.cpp):
// size cap, file identifier, FlatBuffers Verifier, then the root's format version; plus the small
// helpers both encoders and decoders use. Header-only: templates over the root type.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "index/error.hpp"

namespace ivfstream::actors::internal {

/// The finished buffer of `fbb` as bytes.
inline std::vector<char> finish(flatbuffers::FlatBufferBuilder& fbb) {
  const auto* p = reinterpret_cast<const char*>(fbb.GetBufferPointer());
  return std::vector<char>(p, p + fbb.GetSize());
}

/// The elements of an optional vector field of scalars, copied out with memcpy (empty when absent).
/// The Verifier checks a vector's 4-byte length prefix, not that 8-byte elements are 8-aligned: a
/// hostile or broken buffer can place a [ulong] or [double] at 4 mod 8 (our encoders never do), and
/// reading it in place would be a misaligned load.
template <class T>
std::vector<T> copy_scalars(const flatbuffers::Vector<T>* v) {
  static_assert(flatbuffers::is_scalar<T>::value, "copy_scalars: scalar elements only");
  std::vector<T> out(v ? v->size() : 0);
  if (!out.empty()) std::memcpy(out.data(), v->Data(), out.size() * sizeof(T));
#if !FLATBUFFERS_LITTLEENDIAN
  for (T& x : out) x = flatbuffers::EndianScalar(x);
#endif
  return out;
}

/// Elements of an optional vector field (0 when absent).
template <class T>
std::size_t length(const flatbuffers::Vector<T>* v) {
  return v ? v->size() : 0;
}

/// Size ≤ max_bytes (else resource_exhausted), identifier, Verifier (bounded by max_depth and
/// max_tables), root->version() == format_version (else version_mismatch); other failures corrupt_data.
template <class Root>
result<const Root*> verify_root(const std::vector<char>& bytes, const char* identifier, const char* root_name,
                                std::uint64_t max_bytes, std::uint16_t format_version, flatbuffers::uoffset_t max_depth,
                                flatbuffers::uoffset_t max_tables) {
  auto sz = [](std::uint64_t v) { return std::to_string(v); };
  if (bytes.size() > max_bytes)
    return fail(errc::resource_exhausted, std::string(root_name) + " size=" + sz(bytes.size()) +
                                              " bytes: over the limit of " + sz(max_bytes) + " bytes");
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength)
    return fail(errc::corrupt_data, std::string("not a ") + root_name + ": " + sz(bytes.size()) +
                                        " bytes is too short for a FlatBuffer");
  if (!flatbuffers::BufferHasIdentifier(data, identifier))
    return fail(errc::corrupt_data, std::string("not a ") + root_name + ": file identifier is not '" +
                                        identifier + "'");
  flatbuffers::Verifier verifier(data, bytes.size(), max_depth, max_tables);
  if (!verifier.VerifyBuffer<Root>(identifier))
    return fail(errc::corrupt_data, std::string(root_name) + ": FlatBuffers Verifier rejected the " +
                                        sz(bytes.size()) + " bytes (truncated or malformed)");
  const Root* root = flatbuffers::GetRoot<Root>(data);
  if (root->version() != format_version)
    return fail(errc::version_mismatch, std::string(root_name) + " version=" + sz(root->version()) +
                                            ": this node supports version " + sz(format_version));
  return root;
}

}  // namespace ivfstream::actors::internal
