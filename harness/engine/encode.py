"""Encode inputs once each, in size-sorted batches, with a progress hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.inputs import EncodeInput, Side
from harness.models.base import Encoder

ProgressHook = Callable[[int], None]
"""Called with the number of inputs finished after each batch."""


def unique_inputs(inputs: Sequence[EncodeInput]) -> tuple[list[EncodeInput], np.ndarray]:
    """The distinct inputs in first-seen order, and for each input its index among them."""
    positions: dict[EncodeInput, int] = {}
    inverse = np.empty(len(inputs), dtype=np.int64)
    for i, item in enumerate(inputs):
        inverse[i] = positions.setdefault(item, len(positions))
    return list(positions), inverse


def encode_inputs(
    encoder: Encoder,
    inputs: Sequence[EncodeInput],
    side: Side,
    batch_size: int,
    on_batch: ProgressHook | None = None,
) -> np.ndarray:
    """Embed ``inputs`` (already unique) as a ``[len(inputs), dim]`` float32 matrix.

    Batches group inputs of similar cost (media first, then by text length) so that padding
    stays small; the embeddings are independent of batch composition (tested), so the order
    does not change any number.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = sorted(range(len(inputs)), key=lambda i: (not inputs[i].has_media(), -len(inputs[i].text), i))
    result: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        embeddings = np.asarray(encoder.encode([inputs[i] for i in batch], side), dtype=np.float32)
        if embeddings.shape[0] != len(batch):
            raise RuntimeError(f"encoder returned {embeddings.shape[0]} rows for a batch of {len(batch)}")
        if result is None:
            result = np.empty((len(inputs), *embeddings.shape[1:]), dtype=np.float32)
        result[batch] = embeddings
        if on_batch is not None:
            on_batch(len(batch))
    if result is None:
        return np.empty((0, 0), dtype=np.float32)
    return result
