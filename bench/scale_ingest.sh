#!/usr/bin/env bash
# Ingest rate of 1, 2, 3 `ivfstream serve` nodes sharing the vectors topic through one consumer group
# (kafka.group_ingest, issue 6), on one broker process (embedded_broker_tool) on 127.0.0.1.
# For each node count: fresh broker, start the nodes, let the group settle, produce N vectors with
# `ivfstream load`, time until the nodes' live vectors sum to N (read from their --stats-file).
# The nodes run as one scale-out cluster ([peers]): the node with the lowest peer port trains on its
# share and publishes the codebooks on the codebooks topic; the others install them (they buffer their
# share until then). PEERS=0 runs the nodes without peers (each trains its own codebooks, the old setup).
# Usage: bench/scale_ingest.sh BUILD_DIR [N] [FVECS]
set -euo pipefail
B=${1:?build dir}; N=${2:-60000}; DATA=${3:-/tmp/annbench/data/clustered-128/base.fvecs}
IVF=$B/apps/ivfstream; TOOL=$B/tests/connectors/embedded_broker_tool
W=$(mktemp -d /tmp/scale-bench.XXXX)
COMMON=(--set kafka.topic_partitions=12 --set index.dimension=128 --set index.num_partitions=64
        --set index.num_sub_vectors=16 --set engine.train_after=5000 --set engine.partition_actors=2)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
PORT0=$((20000 + RANDOM % 20000))
for nodes in 1 2 3; do
  list=""; for i in $(seq "$nodes"); do list="$list${list:+,}127.0.0.1:$((PORT0 + 10 * nodes + i))"; done
  "$TOOL" "${COMMON[@]}" --bootstrap-file "$W/bootstrap" > /dev/null 2>"$W/broker.log" & pids+=($!)
  for _ in $(seq 100); do [ -s "$W/bootstrap" ] && break; sleep 0.1; done
  BS=$(head -1 "$W/bootstrap")
  for i in $(seq "$nodes"); do
    rm -rf "$W/n$i"; mkdir -p "$W/n$i"
    PEER=(); [ "${PEERS:-1}" = 1 ] && PEER=(--set peers.enabled=true --set peers.port=$((PORT0 + 10 * nodes + i)) --set peers.nodes="$list")
    "$IVF" serve "${COMMON[@]}" "${PEER[@]}" --brokers "$BS" --set kafka.group_ingest=true --set kafka.session_timeout_ms=3000 \
      --set engine.data_dir="$W/n$i/data" --stats-interval 0 --stats-file "$W/n$i/stats" > "$W/n$i/out" 2>"$W/n$i/err" &
    pids+=($!)
  done
  sleep 8  # group joins (~3 s each on the mock coordinator)
  t0=$(date +%s.%N)
  "$IVF" load "${COMMON[@]}" --brokers "$BS" --max-rows "$N" "$DATA" > "$W/load.out" 2>&1
  while :; do
    sum=0
    for i in $(seq "$nodes"); do v=$(grep '^vectors=' "$W/n$i/stats" 2>/dev/null | cut -d= -f2); sum=$((sum + ${v:-0})); done
    # searchable = indexed with the shared codebooks (a follower buffers until it installed them)
    [ "$sum" -ge "$N" ] && break
    sleep 0.05
  done
  t1=$(date +%s.%N)
  per=""; for i in $(seq "$nodes"); do per="$per $(grep '^vectors=' "$W/n$i/stats" | cut -d= -f2)"; done
  awk -v n="$N" -v a="$t0" -v b="$t1" -v k="$nodes" -v per="$per" \
    'BEGIN { printf "nodes=%d vectors=%d seconds=%.2f rate=%.0f vectors/s per-node:%s\n", k, n, b - a, n / (b - a), per }'
  cleanup; pids=(); rm -f "$W/bootstrap"
done
rm -rf "$W"
