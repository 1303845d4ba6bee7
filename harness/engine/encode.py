"""Encode inputs once each, in size-sorted batches, with a progress hook; shard them over ranks.

A single process encodes every batch of the plan. In a distributed run (``harness.distributed``)
each rank encodes whole batches of the same plan, dealt out by estimated cost, and rank 0
collects the results; since each batch is the one a single process would encode, the
embeddings are the same. Single-vector encoders give a ``[n, dim]`` matrix, late-interaction
encoders a ``TokenStore`` of token matrices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from harness.distributed import World, assign_batches
from harness.engine.tokens import TokenStore
from harness.errors import ModelError
from harness.inputs import EncodeInput, Side
from harness.models.base import Encoder
from harness.models.late_interaction.protocol import is_multivector

ProgressHook = Callable[[int], None]
"""Called with the number of inputs finished after each batch."""

Embeddings = np.ndarray | TokenStore
"""One row per input: a dense ``[n, dim]`` matrix, or token matrices for late interaction."""

IMAGE_COST = 1024
"""Cost of one image in the shard plan, in text-token units (a mid-size page or photo)."""
FRAME_COST = 256
"""Cost of one video frame in the shard plan."""
CHARS_PER_TOKEN = 4


class NonFiniteEmbeddingError(ModelError):
    """An encoder returned NaN or infinite values; ``index`` is the first offending input."""

    def __init__(self, index: int) -> None:
        super().__init__(f"the embedding of input {index} is not finite (NaN or infinite)")
        self.index = index


def first_non_finite(rows: Sequence[np.ndarray] | np.ndarray) -> int | None:
    """Position of the first array in ``rows`` holding NaN or infinity, or None."""
    for position, row in enumerate(rows):
        if not np.isfinite(row).all():
            return position
    return None


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


def encode_inputs(
    encoder: Encoder,
    inputs: Sequence[EncodeInput],
    side: Side,
    batch_size: int,
    on_batch: ProgressHook | None = None,
) -> np.ndarray:
    """Embed ``inputs`` (already unique) as a ``[len(inputs), dim]`` float32 matrix, in one process."""
    result: np.ndarray | None = None
    for batch, embeddings in _dense_batches(encoder, inputs, plan_batches(inputs, batch_size), side, on_batch):
        if result is None:
            result = np.empty((len(inputs), *embeddings.shape[1:]), dtype=np.float32)
        result[batch] = embeddings
    if result is None:
        return np.empty((0, 0), dtype=np.float32)
    return result


def encode_unique(
    encoder: Encoder,
    inputs: Sequence[EncodeInput],
    side: Side,
    batch_size: int,
    on_batch: ProgressHook | None = None,
    world: World | None = None,
    stage: str = "encoding",
    explain: Callable[[Exception], Exception] | None = None,
) -> Embeddings | None:
    """Embed ``inputs`` (already unique), sharded over ``world`` when given; ``None`` off rank 0.

    In a distributed run an error on any rank is raised on every rank as ``DistributedError``
    naming the rank and ``stage``, after ``explain`` has turned it into a message for people.
    """
    multivector = is_multivector(encoder)
    if world is None:
        if not multivector:
            return encode_inputs(encoder, inputs, side, batch_size, on_batch)
        store = TokenStore(len(inputs))
        for batch, matrices in _token_batches(encoder, inputs, plan_batches(inputs, batch_size), side, on_batch):
            for index, matrix in zip(batch, matrices, strict=True):
                store.append(index, matrix)
        return store.finish()
    batches = plan_batches(inputs, batch_size)
    share = assign_batches([batch_cost(inputs, b) for b in batches], world.world_size)[world.rank]
    mine = [batches[b] for b in share]
    error: BaseException | None = None
    local: _LocalShare | None = None
    try:
        local = _encode_share(encoder, inputs, mine, side, on_batch, multivector)
    except Exception as caught:  # reported to every rank by world.check, then raised there
        error = explain(caught) if explain is not None else caught
    world.check(stage, error)
    assert local is not None
    try:
        gathered = world.gather_to_main(local.rows, local.load, local.nbytes, f"sending its embeddings after {stage}")
        if world.is_main:
            return _collect(gathered, len(inputs), multivector)
        _drain(gathered)
        return None
    finally:
        local.close()


class _LocalShare:
    """One rank's encoded share: global rows and a way to read each array."""

    def __init__(self, rows: list[int], dense: np.ndarray | None, store: TokenStore | None) -> None:
        self.rows = rows
        self.dense = dense
        self.store = store

    @property
    def nbytes(self) -> list[int]:
        if self.store is not None:
            return [int(n) * self.store.dim * 4 for n in self.store.lengths]
        assert self.dense is not None
        return [self.dense[0].nbytes] * len(self.rows) if len(self.rows) else []

    def load(self, position: int) -> np.ndarray:
        if self.store is not None:
            return self.store.matrix(position)
        assert self.dense is not None
        return self.dense[position]

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _encode_share(
    encoder: Any,
    inputs: Sequence[EncodeInput],
    batches: list[list[int]],
    side: Side,
    on_batch: ProgressHook | None,
    multivector: bool,
) -> _LocalShare:
    rows = [index for batch in batches for index in batch]
    local = {index: position for position, index in enumerate(rows)}
    if multivector:
        store = TokenStore(len(rows))
        for batch, matrices in _token_batches(encoder, inputs, batches, side, on_batch):
            for index, matrix in zip(batch, matrices, strict=True):
                store.append(local[index], matrix)
        return _LocalShare(rows, None, store.finish())
    parts = [embeddings for _, embeddings in _dense_batches(encoder, inputs, batches, side, on_batch)]
    dense = np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.float32)
    return _LocalShare(rows, dense, None)


def _collect(gathered: Iterator[tuple[int, np.ndarray]], count: int, multivector: bool) -> Embeddings:
    if multivector:
        store = TokenStore(count)
        for index, matrix in gathered:
            store.append(index, matrix)
        return store.finish()
    result: np.ndarray | None = None
    filled = np.zeros(count, dtype=bool)
    for index, row in gathered:
        if result is None:
            result = np.empty((count, *row.shape), dtype=np.float32)
        result[index] = row
        filled[index] = True
    if not filled.all():
        raise RuntimeError(f"{int((~filled).sum())} of {count} embeddings were not gathered")
    return result if result is not None else np.empty((0, 0), dtype=np.float32)


def _drain(gathered: Iterator[tuple[int, np.ndarray]]) -> None:
    for _ in gathered:  # off rank 0 the generator only sends; run it to the end
        pass


def _dense_batches(
    encoder: Encoder,
    inputs: Sequence[EncodeInput],
    batches: Sequence[list[int]],
    side: Side,
    on_batch: ProgressHook | None,
) -> Iterator[tuple[list[int], np.ndarray]]:
    for batch in batches:
        embeddings = np.asarray(encoder.encode([inputs[i] for i in batch], side), dtype=np.float32)
        if embeddings.shape[0] != len(batch):
            raise RuntimeError(f"encoder returned {embeddings.shape[0]} rows for a batch of {len(batch)}")
        bad = None if np.isfinite(embeddings).all() else first_non_finite(embeddings)
        if bad is not None:  # a broken model must never be scored: NaN ties rank the first candidate top
            raise NonFiniteEmbeddingError(batch[bad])
        yield batch, embeddings
        if on_batch is not None:
            on_batch(len(batch))


def _token_batches(
    encoder: Any,
    inputs: Sequence[EncodeInput],
    batches: Sequence[list[int]],
    side: Side,
    on_batch: ProgressHook | None,
) -> Iterator[tuple[list[int], list[np.ndarray]]]:
    for batch in batches:
        matrices = list(encoder.encode_tokens([inputs[i] for i in batch], side))
        if len(matrices) != len(batch):
            raise RuntimeError(f"encoder returned {len(matrices)} token matrices for a batch of {len(batch)}")
        bad = first_non_finite(matrices)
        if bad is not None:
            raise NonFiniteEmbeddingError(batch[bad])
        yield batch, matrices
        if on_batch is not None:
            on_batch(len(batch))
