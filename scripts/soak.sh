#!/usr/bin/env bash
# Soak: `ivfstream serve` under ingest and queries together on the embedded broker for SECONDS
# (default 600), then a per-minute table of the server's RSS, ingest rate, queries, errors and
# client-side p50/p99 latency (tests/actors/soak_driver.cpp). Exit status 1 on any query error or
# when RSS still grows by >= 10 % over the second half of the run.
#
# Usage: scripts/soak.sh [SECONDS=600] [VECTORS_PER_S=2000] [QUERIES_PER_S=50]
# Env:   BUILD_DIR (build), JOBS (nproc). Builds the targets `ivfstream` and `soak_driver` there.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
[ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS" --target ivfstream soak_driver
exec "$BUILD_DIR/tests/actors/soak_driver" "$BUILD_DIR/apps/ivfstream" "${1:-600}" "${2:-2000}" "${3:-50}"
