"""Where a run's time goes, on the PERF-shaped fixture: one JSON line per configuration.

Builds the fixture (``benchmarks/perf_fixture.py``: three image tasks, 300 queries x 100
candidates each, 1,000 images of 64-448 x 64-336 px, seeded) and runs ``harness run`` on it in a
fresh interpreter per configuration (cold: no embedding cache), with the tiny test checkpoint
on the CPU unless told otherwise. For each configuration it prints:

- ``wall_s``: the whole process, imports and model load included; ``startup_s``: what the run
  file's stages do not account for (interpreter, imports, model load, task index, file scans);
- ``forward_rows``, ``unique_inputs``, ``padding_share`` (1 - real tokens / padded tokens);
- ``seconds``: the run file's per-stage seconds summed over tasks (``preprocess`` is summed over
  the processes that did it; ``wait`` is what the model's loop waited for it);
- ``model_busy_share``: forward / (forward + wait), the share of the encode loop the model was
  running (on a GPU, where the forward's time includes reading its result back, a proxy for the
  GPU-busy share of the encode phase);
- ``peak_rss_mib`` of the run's process, ``peak_worker_rss_mib`` of its largest worker, and
  ``peak_gpu_mib`` (torch's peak allocation; null without a GPU).

Configurations are ``--workers`` values (e.g. ``0,1``), run ``--repeats`` times in turn (paired),
median reported. ``--harness_path`` runs another checkout of the harness (e.g. a worktree of an
older commit, for before/after figures on the same machine); fields it does not record are null.

Usage: python benchmarks/bench_encode.py [--workers 0,1] [--repeats 1] [--batch_size 16]
       [--queries 300 --candidates 100 --images 1000] [--model_args ...] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from perf_fixture import build_fixture  # noqa: E402

TINY = REPO / "tests" / "data" / "golden" / "tiny-qwen2vl"
SCRIPT = (
    "import resource, sys; from harness.cli import main; status = main(sys.argv[1:]); "
    "torch = sys.modules.get('torch'); "
    "gpu = torch.cuda.max_memory_allocated() if torch is not None and torch.cuda.is_initialized() else -1; "
    "print('peak-rss-kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, gpu, file=sys.stderr); sys.exit(status)"
)
"""``harness run``, then the largest resident size of the run's process and of its workers, and the
peak GPU memory allocated (-1 without a GPU)."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="0,1", help="comma-separated --num_workers values to compare")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_batch_tokens", type=int, default=None)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--model_args", default=f"pretrained={TINY}")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--harness_path", type=Path, default=None, help="another checkout to run instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        tasks = build_fixture(work / "data", queries=args.queries, candidates=args.candidates, images=args.images)
        configurations = [int(w) for w in args.workers.split(",")]
        runs: dict[int, list[dict[str, Any]]] = {w: [] for w in configurations}
        for repeat in range(args.repeats):
            for workers in configurations:
                runs[workers].append(_run(work / f"out-{workers}-{repeat}", tasks, workers, args))
        for workers in configurations:
            print(json.dumps({"num_workers": workers, **_median(runs[workers])}))


def _run(out: Path, tasks: list[str], workers: int, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, "-c", SCRIPT, "run", "--model", "vlm2vec", "--model_args", args.model_args]
    argv += ["--tasks", ",".join(tasks), "--data_basedir", str(out.parent / "data"), "--output_path", str(out)]
    argv += ["--device", args.device, "--batch_size", str(args.batch_size), "--no_cache"]
    if args.max_batch_tokens is not None:
        argv += ["--max_batch_tokens", str(args.max_batch_tokens)]
    env = dict(os.environ)
    if args.harness_path is not None:
        env["PYTHONPATH"] = str(args.harness_path.resolve())
    else:
        argv += ["--num_workers", str(workers)]  # an older checkout may not know the flag
    start = time.perf_counter()
    # Run from the scratch folder: the current folder comes first on sys.path, before PYTHONPATH.
    done = subprocess.run(argv, env=env, cwd=out.parent, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr.strip().splitlines()[-3:]}")
    _, own, workers_kib, gpu_bytes = done.stderr.strip().splitlines()[-1].split()
    run_file = json.loads((out / "leaderboard.json").read_text())
    figures = _figures(run_file, wall, int(own) / 1024, int(workers_kib) / 1024)
    figures["peak_gpu_mib"] = round(int(gpu_bytes) / 2**20, 1) if int(gpu_bytes) >= 0 else None
    return figures


def _figures(run_file: dict[str, Any], wall: float, rss_mib: float, worker_rss_mib: float) -> dict[str, Any]:
    sides = [side for task in run_file["tasks"].values() for side in task.get("encoding", {}).values()]
    tokens = sum(side.get("tokens", 0) for side in sides)
    padded = sum(side.get("padded_tokens", 0) for side in sides)
    seconds: dict[str, float] | None = None
    if all(task.get("seconds") for task in run_file["tasks"].values()):
        seconds = {}
        for task in run_file["tasks"].values():
            for stage, value in task["seconds"].items():
                seconds[stage] = seconds.get(stage, 0.0) + value
    # The main process's stages add up to its share of the wall; preprocessing is in it as
    # "wait" (in workers: the part not hidden; in the loop: all of it), so it is left out.
    in_main = sum(v for k, v in seconds.items() if k != "preprocess") if seconds else None
    return {
        "wall_s": round(wall, 2),
        "startup_s": round(wall - in_main, 2) if in_main is not None else None,
        "forward_rows": sum(side["forward_rows"] for side in sides),
        "unique_inputs": sum(side["unique"] for side in sides),
        "padding_share": round(1 - tokens / padded, 4) if padded else None,
        "exact_lengths": all(side.get("exact_lengths", False) for side in sides) if sides else None,
        "seconds": {k: round(v, 2) for k, v in seconds.items()} if seconds else None,
        # The share of the encode loop the model was running (on a GPU: a proxy for GPU-busy).
        "model_busy_share": round(seconds["forward"] / (seconds["forward"] + seconds["wait"]), 3)
        if seconds and seconds["forward"] + seconds["wait"] > 0
        else None,
        "peak_rss_mib": round(rss_mib, 1),
        "peak_worker_rss_mib": round(worker_rss_mib, 1),
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall (its other figures with it), and every wall."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    chosen = ordered[len(ordered) // 2]
    walls = [r["wall_s"] for r in runs]
    return {**chosen, "walls_s": walls, "median_wall_s": statistics.median(walls)}


if __name__ == "__main__":
    main()
