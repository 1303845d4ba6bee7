"""Encode inputs once each, in size-sorted batches, with a progress hook; shard them over ranks.

Every process encodes whole batches of one size-sorted plan, dealt out by estimated cost over
the ranks of its ``World`` (a single process is rank 0 of 1 and encodes them all); the main
process collects the results. Since each batch is the one a single process would encode, the
embeddings are the same. What an encoder gives (vectors or token matrices) is the business of
its :class:`~harness.engine.encoding.Encoding`; this module only plans, shards and collects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from harness.distributed import SINGLE_PROCESS, World, assign_batches
from harness.engine.batching import batch_cost, plan_batches
from harness.engine.embedding_cache import EncodeCounts, RunCache
from harness.engine.encoding import DenseEncoding, EmbeddingTable, Encoding, Workers, encoding_for
from harness.engine.finite import NonFiniteEmbeddingError, first_non_finite
from harness.engine.timing import StageClock
from harness.engine.tokens import TokenStore
from harness.inputs import EncodeInput, Side
from harness.models.base import Encoder
from harness.models.late_interaction.protocol import MultiVectorEncoder

__all__ = [
    "BatchOptions",
    "NonFiniteEmbeddingError",
    "ProgressHook",
    "encode_distinct",
    "encode_inputs",
    "encode_unique",
    "first_non_finite",
    "unique_inputs",
]


class ProgressHook(Protocol):
    """Told how many inputs are done after each batch, and how many came from the cache at once."""

    def __call__(self, count: int, *, cached: int = 0) -> None:
        """``count`` more inputs are done; ``cached`` of them were found in the embedding cache."""
        ...


Finished = TypeVar("Finished")


def unique_inputs(inputs: Sequence[EncodeInput]) -> tuple[list[EncodeInput], np.ndarray]:
    """The distinct inputs in first-seen order, and for each input its index among them."""
    positions: dict[EncodeInput, int] = {}
    inverse = np.empty(len(inputs), dtype=np.int64)
    for i, item in enumerate(inputs):
        inverse[i] = positions.setdefault(item, len(positions))
    return list(positions), inverse


@dataclass(frozen=True)
class BatchOptions:
    """How a side's inputs are batched and prepared."""

    batch_size: int
    max_batch_tokens: int | None = None
    """Cap on a batch's padded tokens (its size times its longest input); None: ``batch_size`` alone."""
    workers: Workers = field(default_factory=Workers)


def encode_distinct(
    encoding: Encoding[Finished],
    inputs: Sequence[EncodeInput],
    side: Side,
    batching: int | BatchOptions,
    world: World = SINGLE_PROCESS,
    on_batch: ProgressHook | None = None,
    stage: str = "encoding",
    explain: Callable[[Exception], Exception] | None = None,
    *,
    cache: RunCache | None = None,
    counts: EncodeCounts | None = None,
    clock: StageClock | None = None,
) -> Finished | None:
    """Embed ``inputs`` (already unique) into ``encoding``'s finished table; ``None`` off the main process.

    ``batching`` is a batch size or :class:`BatchOptions` (token cap, preprocessing workers). The
    plan (:func:`~harness.engine.batching.plan_batches`) sorts the inputs by sequence length. This
    process encodes its share of it (with ``cache``: only the inputs the cache lacks, each batch
    committed to it once encoded), timing each stage on ``clock``; an error is first turned into a message for
    people by ``explain``, then ``world.check`` stops every process (a single process raises it as
    it is; ranks of a distributed run raise ``DistributedError`` naming the rank and ``stage``).
    ``counts`` receives the cache hits and forward rows of every process. The plan does not depend
    on the cache, so every rank of a rerun gets the same share as before (and finds its own work).
    """
    options = batching if isinstance(batching, BatchOptions) else BatchOptions(batching)
    clock = clock if clock is not None else StageClock()
    error: Exception | None = None
    local: tuple[list[int], EmbeddingTable[Finished]] | None = None
    mine = EncodeCounts()
    try:
        with clock.measure("plan"):
            lengths, mine.exact_lengths = encoding.sequence_lengths(inputs)
            batches = plan_batches(lengths, options.batch_size, options.max_batch_tokens)
            share = assign_batches([batch_cost(lengths, b) for b in batches], world.world_size)[world.rank]
        mine_batches = [batches[b] for b in share]
        local = _encode_share(encoding, inputs, lengths, mine_batches, options, side, on_batch, cache, mine, clock)
    except Exception as caught:  # reported to every rank by world.check, then raised there
        error = explain(caught) if explain is not None else caught
    world.check(stage, error)
    if counts is not None:
        summed = world.total([mine.cache_hits, mine.forward_rows, mine.tokens, mine.padded_tokens], stage)
        counts.cache_hits, counts.forward_rows, counts.tokens, counts.padded_tokens = summed
        counts.exact_lengths = mine.exact_lengths
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
    return encode_distinct(encoding, inputs, side, BatchOptions(batch_size), world, on_batch, stage, explain)


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
    lengths: Sequence[int],
    batches: Sequence[list[int]],
    options: BatchOptions,
    side: Side,
    on_batch: ProgressHook | None,
    cache: RunCache | None,
    counts: EncodeCounts,
    clock: StageClock,
) -> tuple[list[int], EmbeddingTable[Finished]]:
    """Fill a finished table of this process's rows (global indices ``rows``): cached embeddings
    first, then the rest encoded batch by batch (the plan's batches when nothing was cached, else
    the misses planned again)."""
    rows = [index for batch in batches for index in batch]
    table = encoding.table(len(rows))
    try:
        keys = None
        todo = list(range(len(rows)))
        if cache is not None:
            with clock.measure("cache"):
                keys = cache.keys([inputs[i] for i in rows], side)
                todo = _fill_from_cache(table, keys, cache, on_batch, counts)
        position_of = {index: position for position, index in enumerate(rows)}
        if len(todo) < len(rows):  # the misses, in length order, batched again
            missing = [rows[p] for p in todo]
            replanned = plan_batches([lengths[i] for i in missing], options.batch_size, options.max_batch_tokens)
            batches = [[missing[i] for i in batch] for batch in replanned]
        for batch, embeddings in encoding.encode_batches(inputs, batches, side, options.workers, clock):
            positions = [position_of[index] for index in batch]
            for position, embedding in zip(positions, embeddings, strict=True):
                table.add(position, embedding)
            counts.forward_rows += len(batch)
            counts.add_batch(lengths, batch)
            if cache is not None and keys is not None:  # committed now: a kill loses at most this batch
                with clock.measure("cache"):
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
