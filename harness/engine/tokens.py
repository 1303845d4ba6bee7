"""Multi-vector embeddings (one token matrix per input) kept on disk, read a slice at a time.

A late-interaction model gives each input a ``[num_tokens, dim]`` matrix; a corpus of document
pages at ~700 tokens × 128 dims is ~350 KB per page, so a large corpus does not fit in memory.
``TokenStore`` appends each matrix to a float32 file as it is encoded and maps the file
read-only afterwards: ranking reads only the rows of the chunk it scores, and the operating
system's page cache, not the process, holds the rest. Padding tokens are never stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from harness.results.files import atomic_writer


class TokenStore:
    """Ragged float32 token matrices for inputs ``0 .. count-1``, stored in one file on disk."""

    def __init__(self, count: int, directory: Path | None = None) -> None:
        """Create an empty store for ``count`` inputs in a temporary folder (under ``directory``)."""
        self._folder = tempfile.TemporaryDirectory(prefix="harness-tokens-", dir=directory)
        self.path = Path(self._folder.name) / "tokens.f32"
        self._file = self.path.open("wb")
        self.count = count
        self.dim = 0
        self.starts = np.full(count, -1, dtype=np.int64)
        """Row of each input's first token in the file, in the order the inputs were appended."""
        self.lengths = np.zeros(count, dtype=np.int64)
        self._rows = 0
        self._tokens: np.ndarray | None = None

    def append(self, index: int, tokens: np.ndarray) -> None:
        """Store the ``[num_tokens, dim]`` matrix of input ``index`` (once per input)."""
        if self._tokens is not None:
            raise RuntimeError("the token store is already finished")
        matrix = np.ascontiguousarray(tokens, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] < 1:
            raise ValueError(f"input {index}: expected a [num_tokens >= 1, dim] matrix, got shape {matrix.shape}")
        if self.dim == 0:
            self.dim = matrix.shape[1]
        if matrix.shape[1] != self.dim:
            raise ValueError(f"input {index}: token dim {matrix.shape[1]} differs from the store's {self.dim}")
        if self.starts[index] >= 0:
            raise ValueError(f"input {index} was stored twice")
        self._file.write(matrix.tobytes())
        self.starts[index] = self._rows
        self.lengths[index] = matrix.shape[0]
        self._rows += matrix.shape[0]

    def finish(self) -> TokenStore:
        """Close the file and map it read-only; every input must have been stored."""
        if self._tokens is not None:
            return self
        self._file.close()
        missing = np.flatnonzero(self.starts < 0)
        if len(missing):
            raise RuntimeError(f"{len(missing)} of {self.count} inputs have no token matrix (first: {missing[0]})")
        if self._rows == 0:
            self._tokens = np.zeros((0, self.dim), dtype=np.float32)
        else:
            self._tokens = np.memmap(self.path, dtype=np.float32, mode="r", shape=(self._rows, self.dim))
        return self

    def matrix(self, index: int) -> np.ndarray:
        """The token matrix of input ``index``."""
        tokens = self._mapped()
        start = int(self.starts[index])
        return np.asarray(tokens[start : start + int(self.lengths[index])])

    def gather(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The matrices of ``indices`` stacked into one ``[sum of lengths, dim]`` array, and their lengths."""
        rows = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[rows]
        if len(rows) == 0:
            return np.zeros((0, self.dim), dtype=np.float32), lengths
        tokens = self._mapped()
        positions = np.concatenate([np.arange(s, s + n) for s, n in zip(self.starts[rows], lengths, strict=True)])
        return np.asarray(tokens[positions]), lengths

    def chunks(self, indices: Sequence[int] | np.ndarray, max_tokens: int) -> Iterator[np.ndarray]:
        """Split ``indices`` (in order) into runs of at most ``max_tokens`` tokens (one input at least)."""
        rows = np.asarray(indices, dtype=np.int64)
        ends = np.cumsum(self.lengths[rows])
        start, done = 0, 0
        while start < len(rows):
            stop = max(start + 1, int(np.searchsorted(ends, done + max_tokens, side="right")))
            yield rows[start:stop]
            start, done = stop, int(ends[stop - 1])

    def write(self, path: Path, rows: Sequence[int] | np.ndarray, ids: Sequence[str]) -> None:
        """Write rows ``rows`` (in order, named ``ids``) as an ``.npz`` of ``embeddings`` ``[tokens, dim]``,
        ``offsets`` (row ``i`` is ``embeddings[offsets[i]:offsets[i+1]]``) and ``ids``, streaming from disk."""
        order = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[order]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="harness-tokens-", dir=path.parent) as folder:
            ordered = np.lib.format.open_memmap(
                Path(folder) / "ordered.npy", mode="w+", dtype=np.float32, shape=(int(offsets[-1]), self.dim)
            )
            for i, row in enumerate(order):
                ordered[offsets[i] : offsets[i + 1]] = self.matrix(int(row))
            ordered.flush()
            with atomic_writer(path, "wb") as handle:
                # np.savez streams a mapped array in 16 MiB pieces, so the file is never in memory.
                np.savez(handle, embeddings=ordered, offsets=offsets, ids=np.asarray(list(ids), dtype=str))
            del ordered

    def close(self) -> None:
        """Delete the file."""
        self._file.close()
        self._tokens = None
        self._folder.cleanup()

    def _mapped(self) -> np.ndarray:
        if self._tokens is None:
            raise RuntimeError("finish() the token store before reading it")
        return self._tokens


def read_token_embeddings(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """Read a file written by :meth:`TokenStore.write`: one token matrix per id, and the ids."""
    with np.load(path, allow_pickle=False) as archive:
        tokens, offsets = archive["embeddings"], archive["offsets"]
        ids = [str(i) for i in archive["ids"]]
    return [tokens[offsets[i] : offsets[i + 1]] for i in range(len(ids))], ids
