#!/usr/bin/python3
"""FAISS peer for `ivfstream bench --opq`: the harness contract (../shared/bench/README.md) with
index_factory("OPQ{m},IVF{nlist},PQ{m}x{nbits}") instead of IndexIVFPQ, so OPQ recall/QPS can be
compared on the same data and grid. Without --opq it builds "IVF{nlist},PQ{m}x{nbits}" (plain), so
one script gives both FAISS rows. Run with /usr/bin/python3 (Debian's python3-faiss).

usage: faiss_opq.py [--opq] --base B.fvecs --queries Q.fvecs --gt G.ivecs --metric l2|ip
                    --nlist 256 --m 16 --nbits 8 --nprobe 1,2,4,8,16 [--k 10] [--nq-batch 0]
                    [--reps 1] [--dataset NAME] [--system NAME]
stdout: CSV header + one row per nprobe (refine 0, single-query QPS not measured: empty);
stderr: diagnostics.
"""
import argparse
import csv
import os
import sys
import time

import faiss

sys.path.insert(0, "/work/shared/bench")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
from annio import read_fvecs, read_ivecs  # noqa: E402
from faiss_bench import COLUMNS, recall_at, qps_batch, ivf_of  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opq", action="store_true")
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--metric", choices=["l2", "ip"], required=True)
    ap.add_argument("--nlist", type=int, required=True)
    ap.add_argument("--m", type=int, required=True)
    ap.add_argument("--nbits", type=int, required=True)
    ap.add_argument("--nprobe", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--nq-batch", type=int, default=0)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--dataset", default="")
    ap.add_argument("--system", default="faiss")
    args = ap.parse_args()

    xb, xq, gt = read_fvecs(args.base), read_fvecs(args.queries), read_ivecs(args.gt)
    if args.nq_batch:
        xq, gt = xq[:args.nq_batch], gt[:args.nq_batch]
    n, d = xb.shape
    ds = args.dataset or os.path.basename(os.path.dirname(os.path.abspath(args.base)))
    desc = f"IVF{args.nlist},PQ{args.m}x{args.nbits}"
    if args.opq:
        desc = f"OPQ{args.m}," + desc
    fmetric = faiss.METRIC_L2 if args.metric == "l2" else faiss.METRIC_INNER_PRODUCT
    index = faiss.index_factory(d, desc, fmetric)
    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    index.train(xb)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(xb)
    add_s = time.perf_counter() - t0
    nbytes = len(faiss.serialize_index(index))
    print(f"built {desc}: train {train_s:.2f}s add {add_s:.2f}s", file=sys.stderr)
    w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
    w.writeheader()
    ivf = ivf_of(index)
    for nprobe in [int(x) for x in args.nprobe.split(",")]:
        ivf.nprobe = nprobe
        qb1, _, cb1, I = qps_batch(index, xq, args.k, 1, args.reps)
        w.writerow(dict(
            dataset=ds, system=args.system, index=("OPQ-IVFPQ" if args.opq else "IVFPQ"), metric=args.metric,
            nlist=args.nlist, m=args.m, nbits=args.nbits, refine=0, nprobe=nprobe, k=args.k,
            recall10=f"{recall_at(I, gt, 10):.4f}", qps_single_1t="", qps_batch_1t=f"{qb1:.1f}",
            qps_batch_2t="", cpu_qps_single_1t="", cpu_qps_batch_1t=f"{cb1:.1f}", train_s=f"{train_s:.2f}",
            add_vps=f"{n / add_s:.0f}", index_bytes=nbytes, bytes_per_vec=f"{nbytes / n:.2f}", nq_single=0,
            nq_batch=xq.shape[0], run=1, notes=f"index_factory {desc}; best of {args.reps}"))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
