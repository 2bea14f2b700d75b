#!/usr/bin/env bash
# Crash trials: N times, stream upserts/deletes through the embedded broker into `ivfstream serve`,
# kill -9 it at a random moment, restart it, and check the final checkpoint against what was
# acknowledged (tests/actors/crash_trial.hpp). Prints one line per trial and a total; exit status 1
# if any id was lost, duplicated, left with an old vector or resurrected after its delete.
#
# Usage: scripts/crash-trials.sh [TRIALS=20] [FIRST_SEED=1] [MAX_KILL_DELAY_MS=2000]
# Env:   BUILD_DIR (build), JOBS (nproc). Builds the targets `ivfstream` and `crash_trials` there.
# A trial takes ~5-20 s (2 cores); failed trials keep their data directory under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
[ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS" --target ivfstream crash_trials
exec "$BUILD_DIR/tests/actors/crash_trials" "$BUILD_DIR/apps/ivfstream" "${1:-20}" "${2:-1}" "${3:-2000}"
