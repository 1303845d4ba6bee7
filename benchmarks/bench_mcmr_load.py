"""Data-loading time and memory of the MCMR task at its published size; prints one JSON line.

Builds a synthetic ``image-tasks/MCMR`` folder in a temporary directory: ``--candidates``
product rows (default 123,000, about MCMR's corpus) in the reference's format (title,
description and features lists, price, date, one image URL each), their image files (hard links
to one tiny PNG, so every path exists as the media check wants), and ``--queries`` queries. Then
loads the built-in MCMR task from it, as ``harness run`` does before the model (rows, templates,
media check), and reports wall seconds, the peak resident memory it added, the bytes of the
candidate file and of the rendered candidate texts, and the render cost per candidate.
Images stay paths: nothing is decoded at data time.

Usage: python benchmarks/bench_mcmr_load.py [--candidates 123000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

PNG = bytes.fromhex(  # a 1x1 white PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8ffff3f0005fe02fe"
    "a7d6a5ee0000000049454e44ae426082"
)
WORDS = [
    "light",
    "breathable",
    "mesh",
    "rubber",
    "sole",
    "ceramic",
    "lamp",
    "desk",
    "steel",
    "cotton",
    "blue",
    "red",
    "green",
    "compact",
    "durable",
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def build_fixture(base: Path, candidates: int, queries: int, seed: int) -> Path:
    """Write the synthetic MCMR folder under ``base``; return the candidate file."""
    rng = random.Random(seed)
    folder = base / "image-tasks" / "MCMR"
    images = folder / "images"
    images.mkdir(parents=True)
    source = images / "_source.png"
    source.write_bytes(PNG)
    with (folder / "candidates.jsonl").open("w", encoding="utf-8") as out:
        for i in range(candidates):
            name = f"img{i:06d}.png"
            try:
                os.link(source, images / name)
            except OSError:  # a file system without hard links
                (images / name).write_bytes(PNG)
            row = {
                "candidate_id": f"B{i:07d}",
                "images": [f"https://m.media-amazon.com/images/I/{name}?v=1"],
                "title": _text(rng, 12),
                "description": [_text(rng, 20), _text(rng, 15)],
                "features": [_text(rng, 6) for _ in range(5)],
                "price": round(rng.uniform(1, 200), 2),
                "Date First Available": "March 3, 2021",
            }
            out.write(json.dumps(row) + "\n")
    with (folder / "query.jsonl").open("w", encoding="utf-8") as out:
        for q in range(queries):
            row = {"qid": str(q), "query": _text(rng, 10), "pos_ids": [f"B{rng.randrange(candidates):07d}"]}
            out.write(json.dumps(row) + "\n")
    return folder / "candidates.jsonl"


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=123_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from harness.data.records import build_task_data
    from harness.data.sources import load_rows
    from harness.taskspec.index import TaskIndex

    spec = TaskIndex().tasks["MCMR"].spec
    with tempfile.TemporaryDirectory(prefix="bench_mcmr_") as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        candidate_file = build_fixture(base, args.candidates, args.queries, args.seed)
        build_seconds = time.perf_counter() - started
        rss_before = _peak_rss_mib()
        started = time.perf_counter()
        rows = load_rows(spec.dataset, base, "local")
        data = build_task_data(spec, rows, base / spec.media_root, data_basedir=base, data_source="local")
        load_seconds = time.perf_counter() - started
        rss_after = _peak_rss_mib()
        text_bytes = sum(len(c.text.encode("utf-8")) for c in data.candidates.values())
        figures = {
            "candidates": len(data.candidates),
            "queries": len(data.queries),
            "fixture_build_s": round(build_seconds, 1),
            "load_s": round(load_seconds, 2),
            "render_us_per_candidate": round(load_seconds / max(len(data.candidates), 1) * 1e6, 1),
            "peak_rss_before_mib": round(rss_before, 1),
            "peak_rss_added_mib": round(rss_after - rss_before, 1),
            "candidate_file_mib": round(candidate_file.stat().st_size / 2**20, 1),
            "candidate_text_mib": round(text_bytes / 2**20, 1),
            "images_are_paths": all(isinstance(c.image, Path) for c in data.candidates.values()),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
