#!/usr/bin/env bash
# GPU check for kernels/cuda, for a machine with an NVIDIA GPU (needs only nvcc and cuBLAS; none of
# CAF, Kafka, oneDNN, Boost). Builds tests/gpu/kmeans_check with nvcc directly, then trains k-means
# (1M × 128, 4096 centroids, 10 iterations) on GPU and CPU from the same initial centroids, a streamed
# GPU run, and PQ codebooks (M=16, 256 centroids) both ways with their recall@10. Prints times, speedup
# and differences; exits non-zero when the build fails or a check fails (criteria in kmeans_check.cpp).
# Output also goes to $OUT/gpu_check.log when OUT is set. Expected run time on an H100 host with 16
# cores: about 1–2 minutes including the build (the CPU reference dominates).
#
#   tests/gpu/check.sh                     # full size
#   tests/gpu/check.sh --n=200000 --k=1024 # smaller (any kmeans_check option)
# Environment: NVCC (default: nvcc on PATH or /usr/local/cuda/bin/nvcc), CUDA_ARCH (default sm_90:
# SASS for H100/H200 plus compute_90 PTX), CHECK_BUILD_DIR (default: a temp dir), CHECK_TIMEOUT
# (seconds for the run, default 480).
set -euo pipefail
cd "$(dirname "$0")/../.."

log=/dev/null
if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  log="$OUT/gpu_check.log"
fi
exec > >(tee -a "$log") 2>&1

nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
arch="${CUDA_ARCH:-sm_90}"
build="${CHECK_BUILD_DIR:-$(mktemp -d /tmp/ivfstream-gpu-check.XXXXXX)}"
mkdir -p "$build"
echo "== $(date -u +%FT%TZ) ivfstream GPU check ($(git rev-parse --short HEAD 2>/dev/null || echo no-git))"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$nvcc" --version | tail -1
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

# The CPU reference uses AVX2/FMA when this CPU has them (explicit ISA flags, never -march=native).
host_flags="-O3 -pthread"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then host_flags="$host_flags -mavx2 -mfma"; fi
common=(-std=c++17 -O3 -I. -Xcompiler "${host_flags// /,}")

t0=$(date +%s)
"$nvcc" "${common[@]}" -arch="$arch" -c kernels/cuda/gpu_kmeans.cu -o "$build/gpu_kmeans.o" &
pid_cu=$!
"$nvcc" "${common[@]}" -c kernels/cuda/kmeans_host_steps.cpp -o "$build/kmeans_host_steps.o" &
pid_hs=$!
"$nvcc" "${common[@]}" -c tests/gpu/cpu_lloyd.cpp -o "$build/cpu_lloyd.o" &
pid_cl=$!
"$nvcc" "${common[@]}" -c tests/gpu/kmeans_check.cpp -o "$build/kmeans_check.o"
wait "$pid_cu"
wait "$pid_hs"
wait "$pid_cl"
# rpath to the toolkit's libraries, so libcublas.so is found even where ld.so.conf does not list them.
cuda_lib="$(cd "$(dirname "$(readlink -f "$nvcc")")/.." && pwd)/lib64"
"$nvcc" -arch="$arch" -o "$build/kmeans_check" "$build"/gpu_kmeans.o "$build"/kmeans_host_steps.o \
  "$build"/cpu_lloyd.o "$build"/kmeans_check.o -lcublas -Xcompiler -pthread -Xlinker -rpath="$cuda_lib"
echo "build: $(( $(date +%s) - t0 )) s -> $build/kmeans_check"

timeout "${CHECK_TIMEOUT:-480}" "$build/kmeans_check" "$@"
