"""Time global ranking (chunked top-k) and metric scoring at MMEB-like sizes; prints figures.

Usage: python benchmarks/bench_ranking.py [--queries 1000] [--candidates 10000] [--dim 1536]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from harness.engine import rank_global, rank_local
from harness.metrics import score_rankings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--depth", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    candidates = rng.standard_normal((args.candidates, args.dim), dtype=np.float32)
    ids = [f"doc{i}" for i in range(args.candidates)]

    start = time.perf_counter()
    ranked = rank_global(queries, candidates, ids, depth=args.depth)
    global_s = time.perf_counter() - start

    relevance = [{ids[int(rng.integers(args.candidates))]: 1.0} for _ in range(args.queries)]
    start = time.perf_counter()
    score_rankings(ranked.ids, relevance)
    metric_s = time.perf_counter() - start

    lists = [tuple(ids[j] for j in rng.choice(args.candidates, 1000, replace=False)) for _ in range(args.queries)]
    rows = {name: i for i, name in enumerate(ids)}
    start = time.perf_counter()
    rank_local(queries, candidates, rows, lists, depth=args.depth)
    local_s = time.perf_counter() - start

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"global top-{args.depth}: {args.queries} x {args.candidates} (dim {args.dim}): {global_s:.2f} s")
    print(f"local, 1000 candidates per query: {local_s:.2f} s")
    print(f"metrics for {args.queries} queries: {metric_s * 1000:.1f} ms")
    print(f"peak RSS: {peak_mb:.0f} MB (inputs alone: {(queries.nbytes + candidates.nbytes) / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
