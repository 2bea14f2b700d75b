#!/usr/bin/env bash
# Builds ivfstream under sanitizers and runs the CTest suites there.
#   scripts/sanitize.sh address,undefined   ASan + UBSan, every suite (unit and e2e)  (BUILD_DIR default build-asan)
#   scripts/sanitize.sh thread              TSan, the Kafka connector suites and the threaded index/kernels
#                                           suites (BUILD_DIR default build-tsan; reports triaged by
#                                           scripts/sanitizers/tsan_triage.sh)
# CI (.ci/run) runs both after the normal build and tests, address,undefined first. To keep that inside CI's budget it builds
# only what the suites need (target test_suites: no benchmarks, no fuzzers, no CUDA) with -O1 -g1
# (CMAKE_BUILD_TYPE=Sanitize: line tables for the reports, no variable info).
# Env: BUILD_DIR, JOBS (nproc), TARGETS (space-separated test targets to build and run instead; default:
#      all suites for address,undefined, the Kafka connector suites for thread: see
#      scripts/sanitizers/README.md for why the CAF actor suites are not in that list), CTEST_ARGS (extra ctest flags,
#      e.g. "-L actors" or "-LE kafka"), SANITIZE_FLAGS (build-type flags, default "-O1 -g1 -DNDEBUG").
# Runtime options and third-party suppressions come from scripts/sanitizers/ (each entry says why);
# findings in ivfstream's own code are never suppressed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-address,undefined}"
supp="$PWD/scripts/sanitizers"
case "$mode" in
  address,undefined|undefined,address|address)
    BUILD_DIR="${BUILD_DIR:-build-asan}"
    TARGETS="${TARGETS:-}"
    # detect_leaks=1 with suppressions for uninstrumented system libraries only (lsan.supp).
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}"
    export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$supp/lsan.supp:print_suppressions=0}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp}"
    ;;
  thread)
    BUILD_DIR="${BUILD_DIR:-build-tsan}"
    # Suites where threads meet in code TSan can see: librdkafka's threads (made visible by
    # tests/support/tsan_c11_threads.cpp) and our callbacks, counters and producer. The CAF actor
    # suites are left out: Debian's CAF is not built with TSan, so every message hand-off between
    # actors is reported (engine_test: 726 reports; every one inspected is a message hand-off); run them with
    # TARGETS="engine_test ..." to see that. The *_state suites are single-threaded.
    # The index/kernels suites in the list start real threads (kernels::parallel_for in k-means and
    # PQ training, train_threads, oneDNN's matmul from several threads, batch search); ivfpq_index_test
    # also does but takes ~10 min under TSan here (run it with TARGETS=ivfpq_index_test).
    TARGETS="${TARGETS-kafka_consumer_test dead_letter_sink_test embedded_broker_test kmeans_test gemm_test training_device_test fast_scan_search_test}"
    # Reports go to files and do not fail the process: scripts/sanitizers/tsan_triage.sh sorts them
    # afterwards and fails the run on every finding (librdkafka- and oneDNN-internal pairs are listed, not failed:
    # the triage script says why).
    rm -rf "$BUILD_DIR/tsan-reports"
    mkdir -p "$BUILD_DIR/tsan-reports"
    tsan_reports="$(cd "$BUILD_DIR/tsan-reports" && pwd)"
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:exitcode=0:second_deadlock_stack=1:log_path=$tsan_reports/tsan:suppressions=$supp/tsan.supp}"
    ;;
  *)
    echo "sanitize.sh: mode '$mode': must be address,undefined or thread" >&2
    exit 2
    ;;
esac
JOBS="${JOBS:-$(nproc)}"
flags="${SANITIZE_FLAGS:--O1 -g1 -DNDEBUG}"
# CUDA off: nvcc does not take the host sanitizer flags, and CI machines have no GPU.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="$flags" \
  -DCMAKE_C_FLAGS_SANITIZE="$flags" -DIVFSTREAM_SANITIZE="$mode" -DIVFSTREAM_CUDA=off
ctest_filter=()
if [ -n "$TARGETS" ]; then
  # shellcheck disable=SC2086
  cmake --build "$BUILD_DIR" -j "$JOBS" --target $TARGETS
  ctest_filter=(-R "^($(echo "$TARGETS" | tr ' ' '|'))(_.*)?\$")
else
  cmake --build "$BUILD_DIR" -j "$JOBS" --target test_suites
fi
rc=0
# shellcheck disable=SC2086
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "${ctest_filter[@]}" ${CTEST_ARGS:-} || rc=$?
if [ "$mode" = thread ]; then
  bash scripts/sanitizers/tsan_triage.sh "$tsan_reports" || rc=1
fi
exit $rc
