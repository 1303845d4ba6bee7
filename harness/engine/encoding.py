"""How an encoder is called, checked and collected: chosen once per encoder, dense or token matrices.

:func:`encoding_for` is the one place that asks whether an encoder is single-vector or
late-interaction. The ``Encoding`` it returns calls the encoder on a batch (``encode`` or
``encode_tokens``), refuses a wrong row count or a non-finite embedding
(:class:`~harness.engine.finite.NonFiniteEmbeddingError`), keeps the embeddings in a table of
the right kind, and wraps the finished table as :class:`~harness.engine.embeddings.Embeddings`.
The engine (:mod:`harness.engine.encode`, :mod:`harness.engine.evaluate`) only ever talks to
these interfaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from harness.engine.batching import estimated_length
from harness.engine.embeddings import DenseEmbeddings, Embeddings, TokenEmbeddings
from harness.engine.finite import NonFiniteEmbeddingError, first_non_finite
from harness.engine.timing import StageClock
from harness.engine.tokens import TokenStore
from harness.inputs import EncodeInput, Side
from harness.models.base import BatchPreparer, Encoder, StagedEncoder
from harness.models.late_interaction.protocol import MultiVectorEncoder, is_multivector
from harness.workers import Workers, prepared_batches

Finished = TypeVar("Finished")
"""What a finished table is: a ``[n, dim]`` matrix, or a ``TokenStore``."""
Finished_co = TypeVar("Finished_co", covariant=True)


class EmbeddingTable(Protocol[Finished_co]):
    """The embeddings of inputs ``0 .. count-1``, added in any order, then finished and read."""

    def add(self, index: int, embedding: np.ndarray) -> None:
        """Keep the embedding of input ``index`` (once per input)."""
        ...

    def finish(self) -> Finished_co:
        """Stop adding; every input must have its embedding. Returns the finished table."""
        ...

    def embedding(self, index: int) -> np.ndarray:
        """The embedding of input ``index`` (after :meth:`finish`)."""
        ...

    def nbytes(self) -> list[int]:
        """The size of each input's embedding, in bytes (after :meth:`finish`)."""
        ...

    def close(self) -> None:
        """Release the table (its file on disk, for token matrices)."""
        ...


class Encoding(Protocol[Finished]):
    """One kind of embedding: the batch call and its checks, the table, the ``Embeddings`` made of it."""

    def encode_batch(self, inputs: Sequence[EncodeInput], batch: Sequence[int], side: Side) -> Iterable[np.ndarray]:
        """The embeddings of ``inputs[i]`` for ``i`` in ``batch``, in order, all finite.

        Raises :class:`NonFiniteEmbeddingError` naming the first input (its index in ``inputs``)
        whose embedding holds NaN or infinity, and ``RuntimeError`` for a wrong count.
        """
        ...

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> tuple[list[int], bool]:
        """Each input's sequence length, and whether the lengths are exact (the encoder's preparer
        counted them) or estimated (:func:`~harness.engine.batching.estimated_length`)."""
        ...

    def encode_batches(
        self,
        inputs: Sequence[EncodeInput],
        batches: Sequence[list[int]],
        side: Side,
        workers: Workers,
        clock: StageClock,
    ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        """Each batch and its checked embeddings (as :meth:`encode_batch`), in order; an encoder with a
        preparer has its batches prepared by ``workers`` ahead of the model."""
        ...

    def table(self, count: int) -> EmbeddingTable[Finished]:
        """An empty table for ``count`` inputs."""
        ...

    def embeddings(self, table: Finished, rows: np.ndarray) -> Embeddings:
        """The ``Embeddings`` of a finished table, with ``rows[i]`` the input of the ``i``-th item."""
        ...


class _BatchOf:
    """``prepare`` of a preparer for input indices (picklable: it may be sent to a worker)."""

    def __init__(self, preparer: BatchPreparer, inputs: Sequence[EncodeInput], side: Side) -> None:
        self.preparer = preparer
        self.inputs = inputs
        self.side = side

    def __call__(self, batch: Sequence[int]) -> Any:
        return self.preparer.prepare([self.inputs[i] for i in batch], self.side)


def encoding_for(encoder: Encoder | MultiVectorEncoder) -> Encoding[Any]:
    """Token matrices for a late-interaction encoder (it has ``encode_tokens``), else dense vectors."""
    if is_multivector(encoder):
        return TokenEncoding(cast(MultiVectorEncoder, encoder))
    return DenseEncoding(cast(Encoder, encoder))


def _lengths(encoder: object, inputs: Sequence[EncodeInput]) -> tuple[list[int], bool]:
    if isinstance(encoder, StagedEncoder):
        lengths = [int(n) for n in encoder.preparer().sequence_lengths(inputs)]
        if len(lengths) != len(inputs):
            raise RuntimeError(f"the preparer gave {len(lengths)} sequence lengths for {len(inputs)} inputs")
        return lengths, True
    return [estimated_length(item) for item in inputs], False


def _batches_in_process(
    encode_batch: Any, inputs: Sequence[EncodeInput], batches: Sequence[list[int]], side: Side, clock: StageClock
) -> Iterator[tuple[list[int], Any]]:
    for batch in batches:
        with clock.measure("forward"):  # preprocessing included: the encoder does both in one call
            embeddings = encode_batch(inputs, batch, side)
        yield batch, list(embeddings)


class DenseEncoding:
    """Single-vector encoders: ``encode`` gives a ``[batch, dim]`` matrix; scores are dot products."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> tuple[list[int], bool]:
        """Exact lengths from a staged encoder's preparer, estimates otherwise."""
        return _lengths(self.encoder, inputs)

    def encode_batches(
        self,
        inputs: Sequence[EncodeInput],
        batches: Sequence[list[int]],
        side: Side,
        workers: Workers,
        clock: StageClock,
    ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        """The batches' rows; a staged encoder's batches are prepared by ``workers`` (when any input
        has an image or a video; text alone is tokenised here), then embedded."""
        if not isinstance(self.encoder, StagedEncoder):
            yield from _batches_in_process(self.encode_batch, inputs, batches, side, clock)
            return
        encoder = self.encoder
        prepare = _BatchOf(encoder.preparer(), inputs, side)
        if not any(inputs[i].has_media() for batch in batches for i in batch):
            workers = Workers()  # tokenising alone is cheap: no worker to start, no thread given up
        ready = prepared_batches(
            prepare, batches, workers.num_workers, pin_memory=workers.pin_memory, main_threads=workers.main_threads
        )
        try:
            while True:
                with clock.measure("wait"):
                    prepared = next(ready, None)
                if prepared is None:
                    return
                clock.add("preprocess", prepared.seconds)
                with clock.measure("forward"):
                    embeddings = self._checked(encoder.encode_prepared(prepared.data), prepared.batch)
                yield prepared.batch, list(embeddings)
        finally:  # a failed forward stops the workers and gives the threads back now
            ready.close()

    def encode_batch(self, inputs: Sequence[EncodeInput], batch: Sequence[int], side: Side) -> np.ndarray:
        """One float32 row per input of ``batch``."""
        return self._checked(self.encoder.encode([inputs[i] for i in batch], side), batch)

    def _checked(self, result: Any, batch: Sequence[int]) -> np.ndarray:
        embeddings = np.asarray(result, dtype=np.float32)
        if embeddings.shape[0] != len(batch):
            raise RuntimeError(f"encoder returned {embeddings.shape[0]} rows for a batch of {len(batch)}")
        bad = None if np.isfinite(embeddings).all() else first_non_finite(embeddings)
        if bad is not None:  # a broken model must never be scored: NaN ties rank the first candidate top
            raise NonFiniteEmbeddingError(batch[bad])
        return embeddings

    def table(self, count: int) -> DenseTable:
        """A float32 matrix of ``count`` rows."""
        return DenseTable(count)

    def embeddings(self, table: np.ndarray, rows: np.ndarray) -> DenseEmbeddings:
        """Dense embeddings of the matrix."""
        return DenseEmbeddings(table, rows)


class TokenEncoding:
    """Late-interaction encoders: ``encode_tokens`` gives one ``[tokens, dim]`` matrix per input; MaxSim."""

    def __init__(self, encoder: MultiVectorEncoder) -> None:
        self.encoder = encoder

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> tuple[list[int], bool]:
        """Estimated lengths (no late-interaction adapter has a preparer yet)."""
        return _lengths(self.encoder, inputs)

    def encode_batches(
        self,
        inputs: Sequence[EncodeInput],
        batches: Sequence[list[int]],
        side: Side,
        workers: Workers,
        clock: StageClock,
    ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        """The batches' token matrices, each batch prepared and embedded in one ``encode_tokens`` call."""
        yield from _batches_in_process(self.encode_batch, inputs, batches, side, clock)

    def encode_batch(self, inputs: Sequence[EncodeInput], batch: Sequence[int], side: Side) -> list[np.ndarray]:
        """One token matrix per input of ``batch``."""
        matrices = list(self.encoder.encode_tokens([inputs[i] for i in batch], side))
        if len(matrices) != len(batch):
            raise RuntimeError(f"encoder returned {len(matrices)} token matrices for a batch of {len(batch)}")
        bad = first_non_finite(matrices)
        if bad is not None:
            raise NonFiniteEmbeddingError(batch[bad])
        return matrices

    def table(self, count: int) -> TokenTable:
        """A token store (a temporary file) for ``count`` inputs."""
        return TokenTable(count)

    def embeddings(self, table: TokenStore, rows: np.ndarray) -> TokenEmbeddings:
        """Token-matrix embeddings of the store."""
        return TokenEmbeddings(table, rows)


class DenseTable:
    """Vectors in one ``[count, dim]`` float32 matrix, allocated when the first vector comes."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._matrix: np.ndarray | None = None
        self._filled = np.zeros(count, dtype=bool)
        self._finished: np.ndarray | None = None

    def add(self, index: int, embedding: np.ndarray) -> None:
        """Put the vector of input ``index`` in its row."""
        if self._matrix is None:
            self._matrix = np.empty((self._count, *embedding.shape), dtype=np.float32)
        self._matrix[index] = embedding
        self._filled[index] = True

    def finish(self) -> np.ndarray:
        """The matrix (``[0, 0]`` for no inputs)."""
        if self._finished is None:
            missing = np.flatnonzero(~self._filled)
            if len(missing):
                raise RuntimeError(f"{len(missing)} of {self._count} inputs have no embedding (first: {missing[0]})")
            self._finished = self._matrix if self._matrix is not None else np.empty((0, 0), dtype=np.float32)
        return self._finished

    def embedding(self, index: int) -> np.ndarray:
        """Row ``index`` of the matrix."""
        return self._read()[index]

    def nbytes(self) -> list[int]:
        """Every row has the same size."""
        return [self._read()[0].nbytes] * self._count if self._count else []

    def close(self) -> None:
        """Nothing to release: the matrix is in memory."""

    def _read(self) -> np.ndarray:
        if self._finished is None:
            raise RuntimeError("finish() the table before reading it")
        return self._finished


class TokenTable:
    """Token matrices appended to a :class:`TokenStore` as they come."""

    def __init__(self, count: int) -> None:
        self._store = TokenStore(count)

    def add(self, index: int, embedding: np.ndarray) -> None:
        """Append the token matrix of input ``index``."""
        self._store.append(index, embedding)

    def finish(self) -> TokenStore:
        """The store, mapped read-only."""
        return self._store.finish()

    def embedding(self, index: int) -> np.ndarray:
        """The token matrix of input ``index``."""
        return self._store.matrix(index)

    def nbytes(self) -> list[int]:
        """Tokens × dim float32 values per input."""
        return [int(n) * self._store.dim * 4 for n in self._store.lengths]

    def close(self) -> None:
        """Delete the store's file."""
        self._store.close()
