"""The embedding cache as the engine uses it: look up a share's inputs, encode only the misses,
commit every batch as soon as it is encoded.

The store (:mod:`harness.cache`) keeps vectors by key, durably and safely across processes; this
module decides the keys (:mod:`harness.engine.cache_keys`) and counts what came from where. A
batch is committed right after it is encoded, so a run killed at any point loses at most the
batches in flight, and its rerun encodes only what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness.engine.batching import batch_cost
from harness.engine.cache_keys import FileDigests, input_keys
from harness.errors import MediaError
from harness.inputs import EncodeInput, Side


class EmbeddingStore(FileDigests, Protocol):
    """What the engine needs of a cache store (``harness.cache.EmbeddingCache`` is one)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored arrays of the keys present (exact, checksum-verified); misses are absent."""
        ...

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Store arrays durably (or, for a store that can no longer write, drop them after one warning)."""
        ...


@dataclass(frozen=True)
class RunCache:
    """A store and the identity of the encoder whose embeddings it is asked for."""

    store: EmbeddingStore
    identity: str
    """:func:`harness.engine.cache_keys.encoder_identity` of the run's encoder."""

    def keys(self, inputs: Sequence[EncodeInput], side: Side) -> list[str]:
        """The key of each input's embedding; an unreadable media file is a ``MediaError`` naming it."""
        try:
            return input_keys(self.identity, side, inputs, self.store)
        except OSError as error:
            name = str(error.filename) if error.filename else "a media file"
            raise MediaError(f"cannot read {name} to key the embedding cache: {error.strerror}", name) from None


@dataclass
class EncodeCounts:
    """What one side of a task took to encode (summed over the ranks of a distributed run)."""

    inputs: int = 0
    """Queries or candidates of the side, duplicates included."""
    unique: int = 0
    """Distinct inputs among them (each encoded, or looked up, once)."""
    cache_hits: int = 0
    """Distinct inputs whose embedding came from the cache."""
    forward_rows: int = 0
    """Distinct inputs the model encoded."""
    tokens: int = 0
    """Sequence lengths of the encoded inputs, summed (exact or estimated: ``exact_lengths``)."""
    padded_tokens: int = 0
    """The same with each batch padded to its longest input: what the model ran on."""
    exact_lengths: bool = False
    """Whether the lengths are the encoder's own counts, not estimates."""

    def add_batch(self, lengths: Sequence[int], batch: Sequence[int]) -> None:
        """Count the tokens of one encoded batch (inputs ``batch`` with these ``lengths``)."""
        self.tokens += sum(lengths[i] for i in batch)
        self.padded_tokens += batch_cost(lengths, batch)
