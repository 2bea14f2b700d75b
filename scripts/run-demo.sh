#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, and runs `ivfstream demo` — the streaming
# demo on the embedded Kafka broker (train, ingest through Kafka, answer queries through the query
# topic, report recall@10 against brute force, ingest rate, freshness and latency percentiles).
# Extra arguments go to `ivfstream demo` (see `build/apps/ivfstream demo --help`).
# Env: BUILD_DIR (build), JOBS (nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS" --target ivfstream
exec "$BUILD_DIR/apps/ivfstream" demo "$@"
