#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang 14, ASan+UBSan, coverage-instrumented libraries),
# generates the seed corpora from real records, runs every target for SECONDS seconds and prints
# executions and crashes per target. Exit status 1 when any target crashed (reproducers are kept).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (default 60 s, every target)
# Env:   BUILD_DIR (build-fuzz), JOBS (2), CORPUS_DIR ($BUILD_DIR/corpus, grows across runs),
#        FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=2" or "-max_len=65536").
# Needs: scripts/install-fuzz-deps.sh (clang-14, libclang-rt-14-dev).
# Reproduce a crash:  $BUILD_DIR/tests/fuzz/fuzz_<target> <crash file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
BUILD_DIR="${BUILD_DIR:-build-fuzz}"
JOBS="${JOBS:-2}"
CORPUS_DIR="${CORPUS_DIR:-$BUILD_DIR/corpus}"
all_targets=(vector_record query_request query_response index_snapshot checkpoint_manifest partition_snapshot config vector_file peer_message train_message)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 missing: run scripts/install-fuzz-deps.sh" >&2; exit 2; }
cmake -S . -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER=clang++-14 -DIVFSTREAM_FUZZ=ON \
  -DIVFSTREAM_SANITIZE=address,undefined -DIVFSTREAM_CUDA=off -DIVFSTREAM_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzzers

# Seeds from real records (the generator's own leaks or errors are not fuzz findings).
seeds="$BUILD_DIR/seeds"
rm -rf "$seeds"
ASAN_OPTIONS=detect_leaks=0 "$BUILD_DIR/tests/fuzz/ivfstream_fuzz_seeds" "$seeds" >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
logs="$BUILD_DIR/fuzz-logs"
artifacts="$BUILD_DIR/fuzz-artifacts"
mkdir -p "$logs" "$artifacts"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

printf '%-22s %10s %8s %8s %8s %s\n' target seconds execs exec/s crashes corpus
failed=0
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t (known: ${all_targets[*]})" >&2; exit 2; }
  mkdir -p "$CORPUS_DIR/$t" "$artifacts/$t"
  log="$logs/$t.log"
  count_artifacts() { find "$artifacts/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l; }
  before=$(count_artifacts)
  # -rss_limit_mb / -malloc_limit_mb: any single allocation over 512 MB counts as a finding
  # (decoders must bound allocations by the input size and the caps).
  # shellcheck disable=SC2086
  TMPDIR="$scratch" "$bin" "$CORPUS_DIR/$t" "$seeds/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t/" ${FUZZ_ARGS:-} >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(( $(count_artifacts) - before ))  # libFuzzer stops at the first one
  if grep -q -E '^==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer' "$log" && [ "$crashes" -eq 0 ]; then crashes=1; fi
  files=$(find "$CORPUS_DIR/$t" -type f | wc -l)
  printf '%-22s %10s %8s %8s %8s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$crashes" "$files files"
  [ "$crashes" -eq 0 ] || { failed=1; echo "  -> $log, reproducers in $artifacts/$t/"; }
done
exit $failed
