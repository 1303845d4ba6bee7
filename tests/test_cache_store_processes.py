"""Several processes on one cache: concurrent writers of overlapping keys, a writer killed with
SIGKILL in the middle of ``put_many``, and prune refused while another process has it open."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from harness.cache import CacheBusyError, EmbeddingCache

WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from harness.cache import EmbeddingCache

root, go, seed, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def value(n):
    return np.random.default_rng(n).standard_normal(n % 7 * 16 + 16, dtype=np.float32)

order = np.random.default_rng(seed).permutation(count)
with EmbeddingCache.open(root) as cache:
    while not go.exists():
        time.sleep(0.005)
    for start in range(0, count, 17):
        batch = [int(n) for n in order[start : start + 17]]
        cache.put_many([(f"key-{n}", value(n)) for n in batch])
        found = cache.get_many([f"key-{n}" for n in batch])
        assert all(np.array_equal(found[f"key-{n}"], value(n)) for n in batch)
    print("ok", cache.writable)
"""

KILLED_WRITER = """
import sys
from pathlib import Path
import numpy as np
from harness.cache import EmbeddingCache

root, round_ = Path(sys.argv[1]), int(sys.argv[2])
base = np.random.default_rng(round_).standard_normal((256, 1536), dtype=np.float32)
with EmbeddingCache.open(root) as cache:
    batch = 0
    while True:
        cache.put_many([(f"{round_}-{batch}-{j}", base[j] + np.float32(batch)) for j in range(256)])
        print(batch, flush=True)
        batch += 1
"""


def value(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal(n % 7 * 16 + 16, dtype=np.float32)


def index_is_intact(root: Path) -> bool:
    with sqlite3.connect(root / "index.sqlite") as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_concurrent_writers_of_overlapping_keys_leave_every_value_exact(tmp_path):
    go, count = tmp_path / "go", 400
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / "cache"), str(go), str(seed), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(3)
    ]
    time.sleep(0.5)
    go.touch()
    outputs = [writer.communicate(timeout=120) for writer in writers]

    assert [out for out, _ in outputs] == ["ok True\n"] * 3, [err for _, err in outputs]
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        found = cache.get_many([f"key-{n}" for n in range(count)])
    assert len(found) == count and all(np.array_equal(found[f"key-{n}"], value(n)) for n in range(count))
    assert len(list((tmp_path / "cache" / "shards").glob("*.bin"))) == 3
    assert index_is_intact(tmp_path / "cache")


def test_a_writer_killed_in_the_middle_of_put_many_leaves_only_whole_committed_batches(tmp_path):
    root, rng = tmp_path / "cache", random.Random(0)
    reported: dict[int, int] = {}
    for round_ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(root), str(round_)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        lines = [writer.stdout.readline() for _ in range(2 + round_)]
        time.sleep(rng.uniform(0, 0.05))  # somewhere in a later put_many (each writes 1.5 MiB)
        writer.send_signal(signal.SIGKILL)
        rest, errors = writer.communicate(timeout=60)
        assert writer.returncode == -signal.SIGKILL, errors
        reported[round_] = len(lines + rest.split()) - 1

    with EmbeddingCache.open(root) as cache:
        for round_, last in reported.items():
            base = np.random.default_rng(round_).standard_normal((256, 1536), dtype=np.float32)
            for batch in range(last + 3):
                keys = [f"{round_}-{batch}-{j}" for j in range(256)]
                found = cache.get_many(keys)
                assert len(found) in (0, 256), f"round {round_} batch {batch}: {len(found)} of 256"
                assert batch > last or len(found) == 256, f"round {round_}: committed batch {batch} lost"
                assert all(
                    np.array_equal(found[k], base[j] + np.float32(batch)) for j, k in enumerate(keys) if k in found
                )
    assert index_is_intact(root)


def test_prune_is_refused_while_another_process_has_the_cache_open(tmp_path):
    EmbeddingCache.open(tmp_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from harness.cache import EmbeddingCache; c = EmbeddingCache.open(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    try:
        with EmbeddingCache.open(tmp_path) as cache, pytest.raises(CacheBusyError):
            cache.prune(timedelta(days=30))
    finally:
        holder.communicate("", timeout=30)

    with EmbeddingCache.open(tmp_path) as cache:
        cache.prune(timedelta(days=30))  # the lock went with the process


def test_opening_a_cache_that_is_being_pruned_waits_for_the_prune(tmp_path, capfd):
    EmbeddingCache.open(tmp_path).close()
    pruner = subprocess.Popen(  # holds the lock as prune does
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'rb'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('locked', flush=True); sys.stdin.read()",
            str(tmp_path / "lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert pruner.stdout is not None and pruner.stdout.readline() == "locked\n"
    opened: list[bool] = []
    opener = threading.Thread(target=lambda: (EmbeddingCache.open(tmp_path).close(), opened.append(True)))
    opener.start()
    opener.join(timeout=0.5)
    waited = opener.is_alive()
    pruner.communicate("", timeout=30)
    opener.join(timeout=30)

    assert waited and opened == [True]
    assert "is being pruned or cleared; waiting" in capfd.readouterr().err
