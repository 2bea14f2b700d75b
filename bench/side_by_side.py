#!/usr/bin/env python3
"""Per-nprobe side-by-side table of a system against the FAISS baseline, from harness CSVs
(../shared/bench/README.md contract). Standard library only.

usage: side_by_side.py [--baseline faiss] [--system ivfstream] results/*.csv

For every (dataset, nlist, m, nbits, refine) present for both systems (run 1 rows; FAISS's
L2-on-unit-vectors variant excluded) it prints recall@10 of both and their difference, and the QPS of
both with the ratio ours / baseline (single query 1 thread, batch 1 thread, batch 2 threads), then
one build table: train_s, add µs/vector and serialized bytes/vector.
"""
import argparse
import csv
import sys
from collections import defaultdict


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def load(paths):
    rows = defaultdict(dict)  # (dataset, system, nlist, m, nbits, refine) -> nprobe -> row
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                if str(r.get("run", "1")).strip() not in ("", "1") or "L2unit" in r.get("index", ""):
                    continue
                if num(r.get("nprobe")) is None or num(r.get("recall10")) is None:
                    continue
                key = (r["dataset"], r["system"], int(r["nlist"]), int(r["m"]), int(r["nbits"]),
                       int(r.get("refine") or 0))
                rows[key][int(r["nprobe"])] = r
    return rows


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--baseline", default="faiss")
    ap.add_argument("--system", default="ivfstream")
    args = ap.parse_args()
    rows = load(args.csv)
    pairs = sorted({(k[0],) + k[2:] for k in rows if k[1] == args.system
                    and (k[0], args.baseline) + k[2:] in rows})
    if not pairs:
        print(f"no configuration measured by both {args.system} and {args.baseline}", file=sys.stderr)
        return 1
    b, s = args.baseline, args.system
    print(f"| data set | config | nprobe | R@10 {b} | R@10 {s} | diff | single {b} | single {s} | ratio "
          f"| batch1t {b} | batch1t {s} | ratio | batch2t {b} | batch2t {s} | ratio |")
    print("|" + "---|" * 15)
    for ds, nlist, m, nbits, refine in pairs:
        ours, base = rows[(ds, s, nlist, m, nbits, refine)], rows[(ds, b, nlist, m, nbits, refine)]
        cfg = f"IVF{nlist} PQ{m}x{nbits}" + (f" refine {refine}" if refine else "")
        for nprobe in sorted(set(ours) & set(base)):
            o, f = ours[nprobe], base[nprobe]
            ro, rf = num(o["recall10"]), num(f["recall10"])
            cells = [ds, cfg, str(nprobe), fmt(rf, ".4f"), fmt(ro, ".4f"), f"{ro - rf:+.4f}"]
            for col in ("qps_single_1t", "qps_batch_1t", "qps_batch_2t"):
                qf, qo = num(f.get(col)), num(o.get(col))
                cells += [fmt(qf, ",.0f"), fmt(qo, ",.0f"), ratio(qo, qf)]
            print("| " + " | ".join(cells) + " |")
    print()
    print(f"| data set | config | train_s {b} | train_s {s} | add us/vec {b} | add us/vec {s} "
          f"| bytes/vec {b} | bytes/vec {s} |")
    print("|" + "---|" * 8)
    for ds, nlist, m, nbits, refine in pairs:
        o = next(iter(rows[(ds, s, nlist, m, nbits, refine)].values()))
        f = next(iter(rows[(ds, b, nlist, m, nbits, refine)].values()))
        cfg = f"IVF{nlist} PQ{m}x{nbits}" + (f" refine {refine}" if refine else "")
        us = [None if num(r["add_vps"]) in (None, 0) else 1e6 / num(r["add_vps"]) for r in (f, o)]
        print(f"| {ds} | {cfg} | {fmt(num(f['train_s']), '.2f')} | {fmt(num(o['train_s']), '.2f')} "
              f"| {fmt(us[0], '.1f')} | {fmt(us[1], '.1f')} | {fmt(num(f['bytes_per_vec']), '.2f')} "
              f"| {fmt(num(o['bytes_per_vec']), '.2f')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
