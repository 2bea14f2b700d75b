#!/usr/bin/env bash
# The whole GPU check of issue #7 as one run on a GPU machine (the device tool lends one for minutes):
#   1. tests/gpu/check.sh: builds kernels/cuda with nvcc alone, trains k-means 1M × 128 → 4096 on GPU
#      and CPU from the same start (objectives within 1 %, ≥ 10× speed), a streamed GPU run, and PQ
#      codebooks both ways (recall@10 within 0.01);
#   2. compute-sanitizer memcheck of the same program at a small size (skipped where the sandbox refuses it);
#   3. from a bundle made here by tests/gpu/make_bundle.sh (the GPU machine lacks oneDNN and Boost): the
#      CUDA test suites of the full build (cuda_kmeans_test, cuda_accelerator_test, training_device_test,
#      whose GPU-only cases run only there) and ivfstream_train_bench, the index's own training with
#      accelerator=cpu (every core, oneDNN) against accelerator=cuda on the same data;
#   4. from the same bundle: cuda_retrain_test, the running engine's trainer actor retraining on the GPU
#      (index accelerator=cuda, a forced retrain of a drifting stream, the hot swap; stats say cuda;
#      recall@10 within 0.02 of the same engine retrained on the CPU).
#   tests/gpu/device_check.sh [BUNDLE_DIR=.devcarry]      output also in $OUT/*.log when OUT is set
#   STEPS="3 4" tests/gpu/device_check.sh .devcarry      only those steps (default: 1 2 3 4)
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle="${1:-.devcarry}"
out="${OUT:-/tmp/ivfstream-device-check}"
mkdir -p "$out"
status=0
steps=" ${STEPS:-1 2 3 4} "
steps="${steps//,/ }"
wanted() { [[ "$steps" == *" $1 "* ]]; }
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
cuda_lib="$(cd "$(dirname "$(readlink -f "$nvcc")")/.." 2>/dev/null && pwd)/lib64"
step() { echo; echo "=== $* ($(date -u +%T))"; }
echo "steps:$steps"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# The bundle's libraries first (its lib/, or lib.tar.gz unpacked into /tmp), then cuBLAS 13
# (libcublas.so.13): the toolkit's lib64, else the pip wheel beside PyTorch, else ldconfig's. Returns 1
# when there is no bundle.
bundle_env() {
  [[ -d "$bundle/bin" ]] || {
    echo "no bundle at $bundle: make one here with tests/gpu/make_bundle.sh BUILD_DIR $bundle and carry it"
    return 1
  }
  [[ -n "${bundle_env_done:-}" ]] && return 0
  local libs="$PWD/$bundle/lib"
  if [[ -f "$bundle/lib.tar.gz" ]]; then
    libs=/tmp/ivfstream-bundle/lib
    rm -rf /tmp/ivfstream-bundle && mkdir -p /tmp/ivfstream-bundle &&
      tar -C /tmp/ivfstream-bundle -xzf "$bundle/lib.tar.gz" || { echo "cannot unpack $bundle/lib.tar.gz"; return 1; }
  fi
  local cublas_dir="" dir
  for dir in "$cuda_lib" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             "$(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2>/dev/null)"; do
    [[ -n "$dir" && -e "$dir/libcublas.so.13" ]] && { cublas_dir="$dir"; break; }
  done
  echo "cuBLAS from: ${cublas_dir:-ldconfig}"
  export LD_LIBRARY_PATH="$libs${cublas_dir:+:$cublas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  ldd "$bundle"/bin/* | grep "not found" | sort -u
  export OMP_WAIT_POLICY=PASSIVE
  bundle_env_done=1
}

# Runs one Boost.Test suite of the bundle, prints its case lines, and fails the check when it fails.
run_suite() {
  local t="$1" rc
  timeout 300 "$bundle/bin/$t" --log_level=test_suite --report_level=short >"$out/$t.log" 2>&1
  rc=$?
  grep -E "skipped|Leaving test case|error|failure|No errors|assertions|RESULT|trained on|last training" "$out/$t.log" |
    sed 's/\x1b\[[0-9;]*m//g' | grep -v "^$" | tail -25
  echo "$t: exit $rc"
  [[ $rc -eq 0 ]] || status=1
}

if wanted 1; then
step "1. check.sh full size"
CHECK_BUILD_DIR=/tmp/ivf-gpu-check OUT="$out" bash tests/gpu/check.sh || status=1
fi

if wanted 2; then
step "2. compute-sanitizer memcheck, small size"
if ! [[ -x /tmp/ivf-gpu-check/kmeans_check ]]; then
  echo "memcheck: no /tmp/ivf-gpu-check/kmeans_check (step 1 builds it)"
elif command -v compute-sanitizer >/dev/null; then
  timeout 120 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 \
    /tmp/ivf-gpu-check/kmeans_check --n=20000 --k=256 --iterations=3 --pq-train=4096 --pq-base=5000 \
    --queries=50 --pq-iterations=3 >"$out/memcheck.log" 2>&1
  rc=$?
  grep -E "ERROR SUMMARY|LEAK SUMMARY|Device not supported|CHECK|RESULT" "$out/memcheck.log" | head -20
  case $rc in
    0|1) echo "memcheck: no memory error (kmeans_check exit $rc: at this size the speed check may fail)";;
    3) echo "memcheck: MEMORY ERRORS (see memcheck.log)"; status=1;;
    *) echo "memcheck: could not run here (exit $rc)";;
  esac
else
  echo "compute-sanitizer: not installed"
fi
fi

if wanted 3; then
step "3. full-build CUDA suites and the training bench, from $bundle"
if bundle_env; then
  for t in cuda_kmeans_test cuda_accelerator_test training_device_test; do run_suite "$t"; done
  timeout 300 "$bundle/bin/ivfstream_train_bench" 1000000 128 4096 16 10 cpu,cuda 200000 32 2>&1 |
    tee "$out/train_bench.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
else
  status=1
fi
fi

if wanted 4; then
step "4. the engine's trainer actor retraining on the GPU (cuda_retrain_test), from $bundle"
if bundle_env && [[ -x "$bundle/bin/cuda_retrain_test" ]]; then
  # test_suite log level includes the case's messages (device, versions, recall of both runs).
  run_suite cuda_retrain_test
  grep -q "trainer_actor_retrains_on_the_gpu.*skipped" "$out/cuda_retrain_test.log" &&
    { echo "cuda_retrain_test: the GPU case was SKIPPED (no usable CUDA device)"; status=1; }
else
  echo "no $bundle/bin/cuda_retrain_test: rebuild the bundle with tests/gpu/make_bundle.sh"
  status=1
fi
fi
step "done: $([[ $status -eq 0 ]] && echo ALL PASSED || echo SOMETHING FAILED)"
exit $status
