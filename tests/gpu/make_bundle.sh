#!/usr/bin/env bash
# Packs what the GPU machine needs beyond nvcc and cuBLAS to run the CUDA paths of the full build: the
# test and bench binaries of a CUDA-enabled build (stripped) and the shared libraries they load that a
# bare CUDA image lacks: every library ldd resolves outside glibc, libstdc++/libgcc and CUDA (oneDNN,
# Boost.Test, libgomp, the OpenCL loader; for the engine suite cuda_retrain_test also CAF's libcaf_core/
# libcaf_io, librdkafka and what they load: OpenSSL, SASL, zstd, lz4, zlib...). The GPU machine has
# neither CAF, Kafka, oneDNN nor Boost, so device_check.sh runs these from the bundle with LD_LIBRARY_PATH.
# Libraries are copied stripped of debug sections and packed as lib.tar.gz (oneDNN alone is 40 MB, 11 MB
# packed; device_check.sh unpacks it into /tmp): the device tool carries at most 64 MiB, keep it < 60.
#   tests/gpu/make_bundle.sh BUILD_DIR BUNDLE_DIR     (BUNDLE_DIR: bin/ and lib.tar.gz are written there)
set -euo pipefail
build="${1:?usage: make_bundle.sh BUILD_DIR BUNDLE_DIR}"
bundle="${2:?usage: make_bundle.sh BUILD_DIR BUNDLE_DIR}"
[[ -f "$build/kernels/cuda/libivfstream_kernels_cuda.a" ]] ||
  { echo "make_bundle: $build has no CUDA kernels (configure with IVFSTREAM_CUDA=on|auto where nvcc is)" >&2; exit 1; }
bins=(tests/kernels/cuda_kmeans_test tests/kernels/cuda_accelerator_test tests/index/training_device_test
      bench/ivfstream_train_bench tests/actors/cuda_retrain_test)
rm -rf "$bundle/bin" "$bundle/lib" "$bundle/lib.tar.gz"
mkdir -p "$bundle/bin" "$bundle/lib"
for b in "${bins[@]}"; do
  [[ -x "$build/$b" ]] || { echo "make_bundle: $build/$b is missing: build it first" >&2; exit 1; }
  strip -o "$bundle/bin/$(basename "$b")" "$build/$b"
done
# Libraries outside glibc/libstdc++/libgcc and CUDA (the GPU machine has those, newer or equal).
missing=$(for b in "${bins[@]}"; do ldd "$build/$b"; done | grep "not found" | sort -u || true)
[[ -z "$missing" ]] || { echo "make_bundle: unresolved libraries here:"$'\n'"$missing" >&2; exit 1; }
for b in "${bins[@]}"; do ldd "$build/$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -Ev '/(ld-linux[^/]*|lib(c|m|dl|pthread|rt|resolv|util|anl|nsl|BrokenLocale|stdc\+\+|gcc_s)\.so[^/]*|libcu[A-Za-z]*\.so[^/]*|libnv[^/]*)$' |
  while read -r lib; do
    strip --strip-debug -o "$bundle/lib/$(basename "$lib")" "$(readlink -f "$lib")"
  done
ls -l "$bundle/lib" | awk 'NR > 1 {print "  " $5 "\t" $9}'
tar -C "$bundle" -czf "$bundle/lib.tar.gz" lib
rm -rf "$bundle/lib"
du -sh "$bundle"/*; du -sh "$bundle"
size=$(du -sm "$bundle" | cut -f1)
(( size < 60 )) || { echo "make_bundle: $bundle is ${size} MiB, over the 60 MiB the device tool's carry allows" >&2; exit 1; }
