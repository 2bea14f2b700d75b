#!/usr/bin/env bash
# One command for the peer benchmark: prepares the data sets (if missing), builds `ivfstream` in Release,
# runs FAISS and `ivfstream bench` over the same grid through ../shared/bench/run_third.sh, one data set
# at a time (FAISS first, then ivfstream, same machine state), and prints compare.py's table plus a
# per-nprobe side-by-side table (bench/side_by_side.py).
#
#   scripts/bench.sh                                    # Fashion-MNIST, the harness's default grid
#   GRID_fashion_mnist="256:16:8 256:56:8" REFINE=0,4 scripts/bench.sh
#   DATASETS="fashion-mnist clustered-128" NQ_FASHION=1000 NQ_SINGLE=200 REPS=1 scripts/bench.sh
#
# Env (defaults in brackets):
#   DATASETS      data sets, space separated [fashion-mnist]; also clustered-128, clustered-128-cos
#   GRID_<ds>     "nlist:m:nbits ..." per data set, '-' in the name as '_' [run_third.sh's grid]
#   NPROBES [1,2,4,8,16,32,64]  REFINE [0,4]  NQ_FASHION / NQ_CLUSTERED (batch queries) [1000]
#   NQ_SINGLE (queries timed one at a time) [1000]  REPS (best of) [2]
#   BENCH_DIR     the harness [<repo>/../shared/bench]   DATA [/tmp/annbench/data]
#   OUT           result CSVs [/tmp/annbench/results/bench-sh]
#   BUILD_DIR     Release build folder [<repo>/build-release]   JOBS (build jobs) [2]
#   FAISS         contract = FAISS through contract_faiss.py on the same grid; full = run_faiss.sh's own
#                 grid (also fast-scan, noise re-check); skip = reuse $OUT/faiss_<ds>.csv [contract]
#   IVFSTREAM_ARGS  extra flags for `ivfstream bench`, e.g. "--ivf-metric cosine" []
#   COMPARE_ARGS    extra flags for compare.py, e.g. "--qps all --by-config" []
#   NICE          niceness of the runs [0]
#   OMP_WAIT_POLICY  passed through to FAISS; on a shared machine set PASSIVE (bench/README.md: GNU OpenMP's
#                 spinning made FAISS's 2-thread training 16x slower under load)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-$ROOT/../shared/bench}"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
export DATA="${DATA:-/tmp/annbench/data}"
export OUT="${OUT:-/tmp/annbench/results/bench-sh}"
DATASETS="${DATASETS:-fashion-mnist}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-release}"
JOBS="${JOBS:-2}"
FAISS="${FAISS:-contract}"
NICE="${NICE:-0}"
PY=/usr/bin/python3   # Debian's python: the one with python3-faiss (a python3 earlier on PATH may lack it)
export NPROBES="${NPROBES:-1,2,4,8,16,32,64}" REFINE="${REFINE:-0,4}" NQ_SINGLE="${NQ_SINGLE:-1000}" \
       NQ_FASHION="${NQ_FASHION:-1000}" NQ_CLUSTERED="${NQ_CLUSTERED:-1000}" REPS="${REPS:-2}"
case "$FAISS" in contract|full|skip) ;; *) echo "FAISS=$FAISS: must be contract, full or skip" >&2; exit 2;; esac

log() { echo "[bench.sh $(date -u +%H:%M:%S)] $*" >&2; }

# 1. data (and the FAISS packages) when missing
need_data=0
for ds in $DATASETS; do [ -f "$DATA/$ds/meta.json" ] || need_data=1; done
if [ "$need_data" = 1 ] || ! "$PY" -c "import faiss" 2>/dev/null; then
  log "preparing data sets in $DATA"
  "$BENCH_DIR/prepare_data.sh"
fi
for ds in $DATASETS; do
  [ -f "$DATA/$ds/meta.json" ] || { echo "DATASETS: '$ds' was not prepared in $DATA (known: fashion-mnist clustered-128 clustered-128-cos)" >&2; exit 2; }
done

# 2. Release build of the executable only
log "building ivfstream (Release) in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DIVFSTREAM_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" --target ivfstream -j "$JOBS" >/dev/null
PROG="$BUILD_DIR/apps/ivfstream"

# 3. FAISS then ivfstream, per data set, same grid and query counts
mkdir -p "$OUT"
csvs=()
for ds in $DATASETS; do
  start=$(date +%s)
  case "$FAISS" in
    contract) log "FAISS (contract_faiss.py) on $ds"
              DATASETS="$ds" nice -n "$NICE" "$BENCH_DIR/run_third.sh" faiss "$BENCH_DIR/contract_faiss.py" ;;
    full)     nq=$NQ_CLUSTERED; [ "$ds" = fashion-mnist ] && nq=$NQ_FASHION
              log "FAISS (run_faiss.sh, its own grid) on $ds"
              DATASETS="$ds" NQ_BATCH="$nq" nice -n "$NICE" "$BENCH_DIR/run_faiss.sh" ;;
    skip)     [ -f "$OUT/faiss_$ds.csv" ] || { echo "FAISS=skip but $OUT/faiss_$ds.csv is missing" >&2; exit 2; } ;;
  esac
  mid=$(date +%s)
  log "ivfstream on $ds"
  # shellcheck disable=SC2086
  DATASETS="$ds" nice -n "$NICE" "$BENCH_DIR/run_third.sh" ivfstream "$PROG" bench ${IVFSTREAM_ARGS:-}
  log "$ds: FAISS $((mid - start)) s, ivfstream $(( $(date +%s) - mid )) s"
  csvs+=("$OUT/faiss_$ds.csv" "$OUT/ivfstream_$ds.csv")
done

# 4. tables
# shellcheck disable=SC2086
"$PY" "$BENCH_DIR/compare.py" ${COMPARE_ARGS:-} "${csvs[@]}"
echo
"$PY" "$ROOT/bench/side_by_side.py" "${csvs[@]}"
