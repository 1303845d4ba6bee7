"""Time the embedding cache store and measure its memory and disk use; prints one JSON line.

Figures: put throughput (float32 vectors of --dim, in batches of 16 and of 256: one put_many
each, as the engine calls it per encoded batch), get throughput of hits, disk bytes per
stored vector, and a lookup of --lookup_keys keys of which 1% are present in an index of
--index_entries entries (its time and the growth of peak RSS, measured in a fresh process).

Usage: python benchmarks/bench_cache_store.py [--dim 1536] [--index_entries 1000000]
       [--lookup_keys 1000000] [--folder DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.cache import EmbeddingCache

TINY_DIM = 8
"""Dimension of the vectors filling the large index (the lookup measures the index, not the bytes)."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--index_entries", type=int, default=1_000_000)
    parser.add_argument("--lookup_keys", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=None, help="where to build the caches (default: a temp folder)")
    parser.add_argument("--lookup_only", type=Path, help=argparse.SUPPRESS)  # the fresh process of the lookup
    args = parser.parse_args()
    if args.lookup_only is not None:
        print(json.dumps(lookup(args.lookup_only, args.index_entries, args.lookup_keys)))
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-cache-", dir=args.folder))
    try:
        figures = {"dim": args.dim, **throughput(scratch / "dense", args.dim)}
        figures.update(build_index(scratch / "large", args.index_entries))
        sizes = ["--index_entries", str(args.index_entries), "--lookup_keys", str(args.lookup_keys)]
        command = [sys.executable, __file__, "--lookup_only", str(scratch / "large"), *sizes]
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        figures.update(json.loads(child.stdout))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures))


def throughput(root: Path, dim: int) -> dict[str, float]:
    """Put in batches of 16 and 256, then get every vector back; bytes on disk per vector."""
    rng = np.random.default_rng(0)
    figures: dict[str, float] = {}
    with EmbeddingCache.open(root) as cache:
        stored = 0
        for batch, count in ((16, 4096), (256, 16384)):
            vectors = rng.standard_normal((count, dim), dtype=np.float32)
            keys = [f"{dim}-{batch}-{n:058d}" for n in range(count)]
            start = time.perf_counter()
            for first in range(0, count, batch):
                cache.put_many(list(zip(keys[first : first + batch], vectors[first : first + batch], strict=True)))
            figures[f"put_vectors_per_s_batch{batch}"] = round(count / (time.perf_counter() - start))
            stored += count
        keys = [f"{dim}-{batch}-{n:058d}" for batch, count in ((16, 4096), (256, 16384)) for n in range(count)]
        start = time.perf_counter()
        found = cache.get_many(keys)
        figures["get_hit_vectors_per_s"] = round(len(found) / (time.perf_counter() - start))
        assert len(found) == stored
        info = cache.info()
    figures["disk_bytes_per_vector"] = round(info.disk_bytes / info.entries, 1)
    figures["array_bytes_per_vector"] = dim * 4
    return figures


def build_index(root: Path, entries: int) -> dict[str, float]:
    """An index of ``entries`` tiny vectors, put through the public API in batches of 10,000."""
    start = time.perf_counter()
    with EmbeddingCache.open(root) as cache:
        vector = np.zeros(TINY_DIM, dtype=np.float32)
        for first in range(0, entries, 10_000):
            cache.put_many([(present_key(n), vector) for n in range(first, min(entries, first + 10_000))])
        index_bytes = (root / "index.sqlite").stat().st_size
    return {
        "index_entries": entries,
        "index_build_s": round(time.perf_counter() - start, 1),
        "index_bytes_per_entry": round(index_bytes / max(1, entries), 1),
    }


def lookup(root: Path, entries: int, count: int) -> dict[str, float]:
    """Look up ``count`` keys, 1% of them present; time and peak-RSS growth (in this fresh process)."""
    rng = np.random.default_rng(1)
    present = set(rng.choice(entries, size=count // 100, replace=False).tolist())
    slots = rng.permutation(count)  # slot i holds a present key when slots[i] < len(present)
    chosen = iter(sorted(present))
    keys = [present_key(next(chosen)) if slot < len(present) else absent_key(int(slot)) for slot in slots]
    del present, slots, chosen
    with EmbeddingCache.open(root) as cache:
        before = reset_peak_rss_mib()
        start = time.perf_counter()
        found = cache.get_many(keys)
        seconds = time.perf_counter() - start
        growth = peak_rss_mib() - before
    assert len(found) == count // 100
    key_list_mib = (sys.getsizeof(keys) + sum(sys.getsizeof(k) for k in keys)) / 2**20
    return {
        "lookup_keys": count,
        "lookup_present": len(found),
        "lookup_s": round(seconds, 2),
        "lookup_peak_rss_growth_mib": round(growth, 1),
        "lookup_key_list_mib": round(key_list_mib, 1),
    }


def present_key(n: int) -> str:
    return f"{n:064x}"


def absent_key(n: int) -> str:
    return f"absent-{n:057x}"


def reset_peak_rss_mib() -> float:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux ``clear_refs``); return it.

    Without the reset, a peak reached while building the key list would hide the lookup's own
    growth. Elsewhere the peak so far is returned (the growth is then a lower bound).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak RSS of this process in MiB (``VmHWM`` on Linux, else ``ru_maxrss``)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return kib / 1024


if __name__ == "__main__":
    main()
