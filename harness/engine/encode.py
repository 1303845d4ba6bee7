"""Encode inputs once each, in size-sorted batches, with a progress hook; shard them over ranks.

Every process encodes whole batches of one size-sorted plan, dealt out by estimated cost over
the ranks of its ``World`` (a single process is rank 0 of 1 and encodes them all); the main
process collects the results. Since each batch is the one a single process would encode, the
embeddings are the same. What an encoder gives (vectors or token matrices) is the business of
its :class:`~harness.engine.encoding.Encoding`; this module only plans, shards and collects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from harness.distributed import SINGLE_PROCESS, World, assign_batches
from harness.engine.embedding_cache import EncodeCounts, RunCache
from harness.engine.encoding import DenseEncoding, EmbeddingTable, Encoding, encoding_for
from harness.engine.finite import NonFiniteEmbeddingError, first_non_finite
from harness.engine.tokens import TokenStore
from harness.inputs import EncodeInput, Side
from harness.models.base import Encoder
from harness.models.late_interaction.protocol import MultiVectorEncoder

__all__ = [
    "CHARS_PER_TOKEN",
    "FRAME_COST",
    "IMAGE_COST",
    "NonFiniteEmbeddingError",
    "ProgressHook",
    "batch_cost",
    "encode_distinct",
    "encode_inputs",
    "encode_unique",
    "first_non_finite",
    "input_cost",
    "plan_batches",
    "unique_inputs",
]


class ProgressHook(Protocol):
    """Told how many inputs are done after each batch, and how many came from the cache at once."""

    def __call__(self, count: int, *, cached: int = 0) -> None:
        """``count`` more inputs are done; ``cached`` of them were found in the embedding cache."""
        ...


Finished = TypeVar("Finished")

IMAGE_COST = 1024
"""Cost of one image in the shard plan, in text-token units (a mid-size page or photo)."""
FRAME_COST = 256
"""Cost of one video frame in the shard plan."""
CHARS_PER_TOKEN = 4


def unique_inputs(inputs: Sequence[EncodeInput]) -> tuple[list[EncodeInput], np.ndarray]:
    """The distinct inputs in first-seen order, and for each input its index among them."""
    positions: dict[EncodeInput, int] = {}
    inverse = np.empty(len(inputs), dtype=np.int64)
    for i, item in enumerate(inputs):
        inverse[i] = positions.setdefault(item, len(positions))
    return list(positions), inverse


def plan_batches(inputs: Sequence[EncodeInput], batch_size: int) -> list[list[int]]:
    """Batches of input indices grouping inputs of similar cost (media first, then by text length).

    Padding stays small; the embeddings are independent of batch composition (tested), so the
    order does not change any number.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = sorted(range(len(inputs)), key=lambda i: (not inputs[i].has_media(), -len(inputs[i].text), i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def input_cost(item: EncodeInput) -> float:
    """Estimated encoding work of one input, in text-token units (media are not opened)."""
    cost = len(item.text) / CHARS_PER_TOKEN
    if item.image is not None:
        cost += IMAGE_COST
    if item.video is not None:
        cost += FRAME_COST * len(item.video.frame_indices)
    return cost


def batch_cost(inputs: Sequence[EncodeInput], batch: Sequence[int]) -> float:
    """A padded batch costs its size times its costliest input."""
    return len(batch) * max(input_cost(inputs[i]) for i in batch)


def encode_distinct(
    encoding: Encoding[Finished],
    inputs: Sequence[EncodeInput],
    side: Side,
    batch_size: int,
    world: World = SINGLE_PROCESS,
    on_batch: ProgressHook | None = None,
    stage: str = "encoding",
    explain: Callable[[Exception], Exception] | None = None,
    *,
    cache: RunCache | None = None,
    counts: EncodeCounts | None = None,
) -> Finished | None:
    """Embed ``inputs`` (already unique) into ``encoding``'s finished table; ``None`` off the main process.

    This process encodes its share of the batch plan (with ``cache``: only the inputs the cache
    lacks, each batch committed to it once encoded); an error is first turned into a message for
    people by ``explain``, then ``world.check`` stops every process (a single process raises it as
    it is; ranks of a distributed run raise ``DistributedError`` naming the rank and ``stage``).
    ``counts`` receives the cache hits and forward rows of every process. The plan does not depend
    on the cache, so every rank of a rerun gets the same share as before (and finds its own work).
    """
    batches = plan_batches(inputs, batch_size)
    share = assign_batches([batch_cost(inputs, b) for b in batches], world.world_size)[world.rank]
    error: Exception | None = None
    local: tuple[list[int], EmbeddingTable[Finished]] | None = None
    mine = EncodeCounts()
    try:
        mine_batches = [batches[b] for b in share]
        local = _encode_share(encoding, inputs, mine_batches, batch_size, side, on_batch, cache, mine)
    except Exception as caught:  # reported to every rank by world.check, then raised there
        error = explain(caught) if explain is not None else caught
    world.check(stage, error)
    if counts is not None:
        counts.cache_hits, counts.forward_rows = world.total([mine.cache_hits, mine.forward_rows], stage)
    assert local is not None
    rows, table = local
    try:
        gathered = world.gather_to_main(rows, table.embedding, table.nbytes(), f"sending its embeddings after {stage}")
        if world.is_main:
            return _collect(encoding, gathered, len(inputs))
        _drain(gathered)
        return None
    finally:
        table.close()


def encode_unique(
    encoder: Encoder | MultiVectorEncoder,
    inputs: Sequence[EncodeInput],
    side: Side,
    batch_size: int,
    on_batch: ProgressHook | None = None,
    world: World = SINGLE_PROCESS,
    stage: str = "encoding",
    explain: Callable[[Exception], Exception] | None = None,
) -> np.ndarray | TokenStore | None:
    """Embed ``inputs`` (already unique) with the encoding of ``encoder`` (:func:`encode_distinct`).

    A ``[n, dim]`` float32 matrix for a single-vector encoder, a ``TokenStore`` (to be closed by
    the caller) for a late-interaction one; ``None`` off the main process.
    """
    encoding: Encoding[Any] = encoding_for(encoder)
    return encode_distinct(encoding, inputs, side, batch_size, world, on_batch, stage, explain)


def encode_inputs(
    encoder: Encoder,
    inputs: Sequence[EncodeInput],
    side: Side,
    batch_size: int,
    on_batch: ProgressHook | None = None,
) -> np.ndarray:
    """Embed ``inputs`` (already unique) as a ``[len(inputs), dim]`` float32 matrix, in one process."""
    matrix = encode_distinct(DenseEncoding(encoder), inputs, side, batch_size, SINGLE_PROCESS, on_batch)
    assert matrix is not None  # the one process is the main one
    return matrix


def _encode_share(
    encoding: Encoding[Finished],
    inputs: Sequence[EncodeInput],
    batches: Sequence[list[int]],
    batch_size: int,
    side: Side,
    on_batch: ProgressHook | None,
    cache: RunCache | None,
    counts: EncodeCounts,
) -> tuple[list[int], EmbeddingTable[Finished]]:
    """Fill a finished table of this process's rows (global indices ``rows``): cached embeddings
    first, then the rest encoded batch by batch (the plan's batches when nothing was cached)."""
    rows = [index for batch in batches for index in batch]
    table = encoding.table(len(rows))
    try:
        keys = cache.keys([inputs[i] for i in rows], side) if cache is not None else None
        todo = list(range(len(rows)))
        if cache is not None and keys is not None:
            todo = _fill_from_cache(table, keys, cache, on_batch, counts)
        position_of = {index: position for position, index in enumerate(rows)}
        for batch in batches if len(todo) == len(rows) else _chunks([rows[p] for p in todo], batch_size):
            embeddings = list(encoding.encode_batch(inputs, batch, side))
            positions = [position_of[index] for index in batch]
            for position, embedding in zip(positions, embeddings, strict=True):
                table.add(position, embedding)
            counts.forward_rows += len(batch)
            if cache is not None and keys is not None:  # committed now: a kill loses at most this batch
                cache.store.put_many([(keys[p], e) for p, e in zip(positions, embeddings, strict=True)])
            if on_batch is not None:
                on_batch(len(batch))
        table.finish()
    except BaseException:
        table.close()
        raise
    return rows, table


def _fill_from_cache(
    table: EmbeddingTable[Any],
    keys: list[str],
    cache: RunCache,
    on_batch: ProgressHook | None,
    counts: EncodeCounts,
) -> list[int]:
    """Put the cached embeddings in ``table`` (position ``i`` has key ``keys[i]``); return the
    positions still to encode."""
    found = cache.store.get_many(keys)
    todo = [position for position, key in enumerate(keys) if key not in found]
    for position, key in enumerate(keys):
        if key in found:
            table.add(position, found[key])
    counts.cache_hits += len(keys) - len(todo)
    if on_batch is not None and len(todo) < len(keys):
        on_batch(len(keys) - len(todo), cached=len(keys) - len(todo))
    return todo


def _chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def _collect(encoding: Encoding[Finished], gathered: Iterator[tuple[int, np.ndarray]], count: int) -> Finished:
    """Put the gathered ``(index, embedding)`` pairs of every process in one finished table."""
    table = encoding.table(count)
    try:
        for index, embedding in gathered:
            table.add(index, embedding)
        return table.finish()
    except BaseException:
        table.close()
        raise


def _drain(gathered: Iterator[tuple[int, np.ndarray]]) -> None:
    for _ in gathered:  # off rank 0 the generator only sends; run it to the end
        pass
