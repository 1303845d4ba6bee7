"""Property: whatever happens to the shards and the index, the cache returns the exact array put
under a key or a miss, never a different array, and raises nothing but its own errors.

Random sequences of puts (random keys from a small pool, random shapes), lookups, prunes,
reopenings and damage: bytes flipped or cut off in the shard files, bytes flipped in the index.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cache import CacheError, EmbeddingCache
from harness.cache import clock as clock_module

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = [f"{n:064x}" for n in range(12)]

shapes = st.one_of(
    st.tuples(st.integers(0, 40)),
    st.tuples(st.integers(0, 6), st.integers(0, 9)),
    st.just(()),
)
puts = st.tuples(st.just("put"), st.lists(st.tuples(st.sampled_from(KEYS), shapes, st.integers(0, 2**16)), max_size=6))
gets = st.tuples(st.just("get"), st.lists(st.sampled_from(KEYS), max_size=12))
damage = st.tuples(st.sampled_from(["flip_shard", "cut_shard", "flip_index"]), st.integers(0, 2**32))
prunes = st.tuples(st.just("prune"), st.integers(0, 3))
other = st.tuples(st.sampled_from(["reopen", "advance"]), st.integers(0, 3))
operations = st.lists(st.one_of(puts, gets, damage, prunes, other), min_size=1, max_size=25)


class Model:
    """What the cache may return: a ``sure`` key must be found with that array; any key found
    must equal one of the arrays ever put under it."""

    def __init__(self) -> None:
        self.sure: dict[str, np.ndarray] = {}
        self.allowed: dict[str, list[np.ndarray]] = {}
        self.certain = True
        """False once the index was damaged: from then on anything may vanish at any time."""

    def put(self, key: str, value: np.ndarray, *, first_in_batch: bool) -> None:
        self.allowed.setdefault(key, []).append(value)
        if key not in self.sure and first_in_batch and self.certain:
            self.sure[key] = value

    def check(self, keys: list[str], found: dict[str, np.ndarray]) -> None:
        assert set(found) <= set(keys)
        for key, value in found.items():
            assert value.dtype == np.float32
            assert any(_same(value, put) for put in self.allowed[key]), f"{key[-2:]}: an array never put"
        for key in set(keys) & set(self.sure):
            assert key in found and _same(found[key], self.sure[key]), f"{key[-2:]}: lost or changed"

    def resync(self, found: dict[str, np.ndarray]) -> None:
        """After damage or a prune: what a lookup of every key found is what is there (each one
        checked), and a key not found is absent, so the next put of it is stored."""
        self.check(list(found), found)
        self.sure = dict(found) if self.certain else {}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@contextmanager
def scratch_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-cache-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def flip(path: Path, seed: int) -> None:
    size = path.stat().st_size
    if size:
        with open(path, "r+b") as handle:
            offset = seed % size
            handle.seek(offset)
            byte = handle.read(1)[0]
            handle.seek(offset)
            handle.write(bytes([byte ^ (1 << (seed >> 29) % 8)]))


def shard_files(root: Path) -> list[Path]:
    return sorted((root / "shards").glob("*.bin"))


class Run:
    """One example: a cache, its model, and the operations applied to both."""

    def __init__(self, root: Path, monkeypatch) -> None:
        self.root, self.now = root, 1_800_000_000
        monkeypatch.setattr(clock_module, "now", lambda: self.now)
        self.model = Model()
        self.cache = EmbeddingCache.open(root)

    def apply(self, operation: tuple) -> None:
        kind, arg = operation
        if kind == "put":
            items = [
                (k, np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)) for k, shape, seed in arg
            ]
            self.cache.put_many(items)
            for index, (key, value) in enumerate(items):
                self.model.put(key, value, first_in_batch=all(k != key for k, _ in items[:index]))
        elif kind == "get":
            self.model.check(arg, self.cache.get_many(arg))
        elif kind == "advance":
            self.now += arg * 3600
        elif kind == "reopen":
            self.reopen()
        else:
            if kind == "prune":
                self.prune(arg)
            else:
                self.damage(kind, arg)
            self.model.resync(self.cache.get_many(KEYS))
        if not self.model.certain:
            self.model.sure.clear()

    def reopen(self) -> None:
        self.cache.close()
        self.cache = EmbeddingCache.open(self.root)

    def prune(self, hours: int) -> None:
        self.cache.close()  # prune needs the cache alone
        with EmbeddingCache.open(self.root) as pruner:
            pruner.prune(timedelta(hours=hours))
        self.cache = EmbeddingCache.open(self.root)

    def damage(self, kind: str, seed: int) -> None:
        shards = shard_files(self.root)
        if kind == "flip_index":
            self.cache.close()
            flip(self.root / "index.sqlite", seed)
            self.model.certain = False
            self.cache = EmbeddingCache.open(self.root)
        elif shards and kind == "flip_shard":
            flip(shards[seed % len(shards)], seed)
        elif shards:
            shard = shards[seed % len(shards)]
            os.truncate(shard, random.Random(seed).randrange(shard.stat().st_size + 1))


@FUZZ
@given(ops=operations)
def test_the_cache_returns_the_array_put_or_a_miss_whatever_the_damage(monkeypatch, ops):
    with scratch_folder() as root:
        run = None
        try:
            run = Run(root / "cache", monkeypatch)
            for operation in ops:
                run.apply(operation)
            run.apply(("get", KEYS))
        except CacheError as error:  # allowed (a damaged index header may look foreign), but one line
            assert "\n" not in str(error)
        finally:
            if run is not None:
                run.cache.close()
