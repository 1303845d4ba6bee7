"""Cold run, warm rerun, recompute-from-cache and kill -9 trials of one command; prints one JSON line.

Runs ``harness run`` in subprocesses (each a fresh interpreter, as a user would) on the bundled
demo (a tiny trained Qwen2-VL, three tasks of 48 rows; or ``--tasks``/``--model_args``/
``--data_basedir`` of your own), each with its own output folder and a cache folder of its own:

- ``cold``: empty cache, and the same with ``--no_cache`` (paired, ``--repeats`` times) for the
  cache's overhead on a cold run;
- ``warm``: the same command again (finished tasks kept);
- ``recompute``: ``--overwrite`` (every task recomputed, every embedding from the cache);
- ``kill``: ``--trials`` runs (batch size 1) killed with SIGKILL at a random time between 60 % and
  95 % of an uninterrupted run's wall, each followed by its rerun; the rerun's forward rows are
  compared with what the killed run had not committed.

Usage: python benchmarks/bench_cache.py [--repeats 2] [--trials 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        figures = _cold_warm(work, args)
        figures["kill"] = [_kill_trial(work / f"kill{i}", args, rng) for i in range(args.trials)]
    print(json.dumps(figures))


def _cold_warm(work: Path, args: argparse.Namespace) -> dict[str, object]:
    cold, plain = [], []
    for repeat in range(args.repeats):  # paired: with and without the cache, one after the other
        plain.append(_run(work / f"plain{repeat}", work / f"cache-plain{repeat}", args, "--no_cache")[0])
        cold.append(_run(work / f"cold{repeat}", work / f"cache{repeat}", args)[0])
    warm, warm_rows = _run(work / "cold0", work / "cache0", args)
    recompute, recompute_rows = _run(work / "cold0", work / "cache0", args, "--overwrite")
    cold_s = statistics.median(cold)
    return {
        "cold_s": round(cold_s, 2),
        "cold_no_cache_s": round(statistics.median(plain), 2),
        "cache_overhead": round(cold_s / statistics.median(plain) - 1, 4),
        "warm_s": round(warm, 2),
        "warm_ratio": round(warm / cold_s, 3),
        "warm_forward_rows": warm_rows,
        "recompute_s": round(recompute, 2),
        "recompute_ratio": round(recompute / cold_s, 3),
        "recompute_forward_rows": recompute_rows,
    }


def _kill_trial(folder: Path, args: argparse.Namespace, rng: random.Random) -> dict[str, object]:
    cache = folder.parent / f"{folder.name}-cache"
    kill_args = argparse.Namespace(**{**vars(args), "batch_size": 1})  # many batches: a kill lands mid-encode
    reference = folder.parent / f"{folder.name}-reference"
    wall, total = _run(reference, folder.parent / f"{folder.name}-ref-cache", kill_args)
    delay = rng.uniform(0.6, 0.95) * wall  # past start-up (imports, model load), before the end
    process = subprocess.Popen(
        _argv(folder, cache, kill_args), env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed = _entries(cache)
    _, rerun_rows = _run(folder, cache, kill_args)
    return {
        "killed_after_s": round(delay, 1),
        "killed": killed,
        "rows_total": total,
        "committed_before_kill": committed,
        "rerun_forward_rows": rerun_rows,
        # Only what was not committed is encoded again: the batches in flight when it was killed.
        "rerun_encodes_only_uncommitted": rerun_rows == total - committed,
    }


def _entries(cache: Path) -> int:
    from harness.cache import EmbeddingCache

    if not (cache / "index.sqlite").exists():
        return 0
    with EmbeddingCache.open(cache, read_only=True) as store:
        return store.info().entries


def _run(folder: Path, cache: Path, args: argparse.Namespace, *extra: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([*_argv(folder, cache, args), *extra], env=_env(cache), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    run_file = json.loads((folder / "leaderboard.json").read_text())
    rows = sum(side["forward_rows"] for task in run_file["tasks"].values() for side in task["encoding"].values())
    return wall, rows


def _argv(folder: Path, cache: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-c",
        SCRIPT,
        "run",
        "--output_path",
        str(folder),
        "--cache_dir",
        str(cache),
        "--device",
        "cpu",
        "--batch_size",
        str(args.batch_size),
    ]


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "HARNESS_CACHE_DIR": str(cache)}


if __name__ == "__main__":
    main()
