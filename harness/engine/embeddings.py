"""One side's embeddings (queries or candidates), which rank themselves against the other side.

Each input is encoded once, however often it occurs, so an ``Embeddings`` holds one embedding
per distinct input and, in ``rows``, the distinct input of each query or candidate. Two kinds:

- :class:`DenseEmbeddings`: a ``[n, dim]`` float32 matrix; scores are dot products
  (:mod:`harness.engine.rank`), the files are ``.npz`` matrices.
- :class:`TokenEmbeddings`: token matrices in a :class:`~harness.engine.tokens.TokenStore` on
  disk; scores are MaxSim (:mod:`harness.engine.maxsim`), the files the store's own ``.npz``.

Both sides of a task are always of one kind: the :class:`~harness.engine.encoding.Encoding`
chosen for the encoder makes both. Ranking, tie-breaking and memory bounds are those of the
modules delegated to.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import numpy as np

from harness.engine.maxsim import rank_global_maxsim, rank_local_maxsim
from harness.engine.rank import Rankings, rank_global, rank_local
from harness.engine.sanity import degenerate_warning
from harness.engine.tokens import TokenStore
from harness.inputs import Side
from harness.results.files import write_embeddings

if TYPE_CHECKING:
    from typing import Self


class Embeddings(Protocol):
    """The embeddings of one side's distinct inputs, and per query or candidate its row among them."""

    @property
    def rows(self) -> np.ndarray:
        """``rows[i]``: the distinct input of the ``i``-th query or candidate."""
        ...

    def rank_local(
        self,
        candidates: Self,
        candidate_ids: Sequence[str],
        candidate_lists: Sequence[Sequence[str]],
        depth: int | None,
        relevant: Sequence[Collection[str]] | None = None,
    ) -> Rankings:
        """Rank each query's own candidate list (ids may repeat); ties keep list order.

        ``candidate_ids[j]`` names the ``j``-th item of ``candidates``; keep the top ``depth``
        (all when None). With ``relevant`` (per query) also :attr:`Rankings.first_relevant`.
        """
        ...

    def rank_global(
        self,
        candidates: Self,
        candidate_ids: Sequence[str],
        depth: int | None,
        relevant: Sequence[Collection[str]] | None = None,
    ) -> Rankings:
        """Rank every candidate for every query, keeping the top ``depth``; ties keep candidate order.
        With ``relevant`` (per query) also :attr:`Rankings.first_relevant`."""
        ...

    def write(self, path: Path, ids: Sequence[str]) -> None:
        """Write one embedding per query or candidate, in order and named ``ids``, to ``path``."""
        ...

    def degenerate_warning(self, task: str, side: Side) -> str | None:
        """The warning when every distinct input got the same embedding (see :mod:`harness.engine.sanity`)."""
        ...

    def close(self) -> None:
        """Release what the embeddings hold (files on disk); they cannot be read afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


class _Closing:
    """``with embeddings:`` closes them at the end of the block."""

    def close(self) -> None:
        """Release what the embeddings hold."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class DenseEmbeddings(_Closing):
    """One float32 vector per distinct input (``matrix``, ``[n, dim]``); scores are dot products."""

    def __init__(self, matrix: np.ndarray, rows: np.ndarray) -> None:
        self.matrix = matrix
        self._rows = rows

    @property
    def rows(self) -> np.ndarray:
        """``rows[i]``: the row of ``matrix`` of the ``i``-th query or candidate."""
        return self._rows

    def vectors(self) -> np.ndarray:
        """One vector per query or candidate, ``[len(rows), dim]``."""
        return self.matrix[self._rows]

    def rank_local(
        self,
        candidates: DenseEmbeddings,
        candidate_ids: Sequence[str],
        candidate_lists: Sequence[Sequence[str]],
        depth: int | None,
        relevant: Sequence[Collection[str]] | None = None,
    ) -> Rankings:
        """Rank each query's own candidates by dot product (:func:`harness.engine.rank.rank_local`)."""
        positions = {candidate_id: i for i, candidate_id in enumerate(candidate_ids)}
        return rank_local(self.vectors(), candidates.vectors(), positions, candidate_lists, depth, relevant=relevant)

    def rank_global(
        self,
        candidates: DenseEmbeddings,
        candidate_ids: Sequence[str],
        depth: int | None,
        relevant: Sequence[Collection[str]] | None = None,
    ) -> Rankings:
        """Rank every candidate by dot product (:func:`harness.engine.rank.rank_global`)."""
        return rank_global(self.vectors(), candidates.vectors(), candidate_ids, depth, relevant=relevant)

    def write(self, path: Path, ids: Sequence[str]) -> None:
        """Write the ``.npz`` of :func:`harness.results.files.write_embeddings`."""
        write_embeddings(path, self.vectors(), ids)

    def degenerate_warning(self, task: str, side: Side) -> str | None:
        """Checks the distinct inputs' vectors."""
        return degenerate_warning(task, side, self.matrix)


class TokenEmbeddings(_Closing):
    """One token matrix per distinct input, kept on disk in ``store``; scores are MaxSim."""

    def __init__(self, store: TokenStore, rows: np.ndarray) -> None:
        self.store = store
        self._rows = rows

    @property
    def rows(self) -> np.ndarray:
        """``rows[i]``: the store row of the ``i``-th query or candidate."""
        return self._rows

    def rank_local(
        self,
        candidates: TokenEmbeddings,
        candidate_ids: Sequence[str],
        candidate_lists: Sequence[Sequence[str]],
        depth: int | None,
        relevant: Sequence[Collection[str]] | None = None,
    ) -> Rankings:
        """Rank each query's own candidates by MaxSim (:func:`harness.engine.maxsim.rank_local_maxsim`)."""
        stored = {candidate_id: int(row) for candidate_id, row in zip(candidate_ids, candidates.rows, strict=True)}
        return rank_local_maxsim(
            self.store, self._rows, candidates.store, stored, candidate_lists, depth, relevant=relevant
        )

    def rank_global(
        self,
        candidates: TokenEmbeddings,
        candidate_ids: Sequence[str],
        depth: int | None,
        relevant: Sequence[Collection[str]] | None = None,
    ) -> Rankings:
        """Rank every candidate by MaxSim (:func:`harness.engine.maxsim.rank_global_maxsim`)."""
        return rank_global_maxsim(
            self.store, self._rows, candidates.store, candidates.rows, candidate_ids, depth, relevant=relevant
        )

    def write(self, path: Path, ids: Sequence[str]) -> None:
        """Write the store's ``.npz`` (:meth:`harness.engine.tokens.TokenStore.write`)."""
        self.store.write(path, self._rows, ids)

    def degenerate_warning(self, task: str, side: Side) -> str | None:
        """Always None: the degenerate-embedding check covers dense vectors only; token matrices are not checked."""
        return None

    def close(self) -> None:
        """Delete the store's file."""
        self.store.close()
