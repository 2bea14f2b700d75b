#!/usr/bin/env bash
# Packs what the GPU machine needs beyond nvcc and cuBLAS to run the CUDA paths of the full build: the
# test and bench binaries of a CUDA-enabled build (stripped) and the shared libraries they load that a
# bare CUDA image lacks (oneDNN, Boost.Test, libgomp, the OpenCL loader). The GPU machine has neither
# CAF, Kafka, oneDNN nor Boost, so device_check.sh runs these from the bundle with LD_LIBRARY_PATH.
#   tests/gpu/make_bundle.sh BUILD_DIR BUNDLE_DIR     (BUNDLE_DIR: bin/ and lib/ are written there)
set -euo pipefail
build="${1:?usage: make_bundle.sh BUILD_DIR BUNDLE_DIR}"
bundle="${2:?usage: make_bundle.sh BUILD_DIR BUNDLE_DIR}"
[[ -f "$build/kernels/cuda/libivfstream_kernels_cuda.a" ]] ||
  { echo "make_bundle: $build has no CUDA kernels (configure with IVFSTREAM_CUDA=on|auto where nvcc is)" >&2; exit 1; }
bins=(tests/kernels/cuda_kmeans_test tests/kernels/cuda_accelerator_test tests/index/training_device_test
      bench/ivfstream_train_bench)
rm -rf "$bundle/bin" "$bundle/lib"
mkdir -p "$bundle/bin" "$bundle/lib"
for b in "${bins[@]}"; do
  [[ -x "$build/$b" ]] || { echo "make_bundle: $build/$b is missing: build it first" >&2; exit 1; }
  strip -o "$bundle/bin/$(basename "$b")" "$build/$b"
done
# Libraries outside glibc/libstdc++/libgcc and CUDA (the GPU machine has those, newer or equal).
for b in "${bins[@]}"; do ldd "$build/$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -E 'libdnnl|libboost_|libgomp|libOpenCL' | while read -r lib; do
    cp -L "$lib" "$bundle/lib/"
  done
du -sh "$bundle"
