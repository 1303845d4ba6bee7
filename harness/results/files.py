"""Per-task output files, in the reference's names and layout but without pickles.

``{task}_qry`` and ``{task}_tgt`` are NumPy ``.npz`` archives (no pickle: read them with
``np.load(path, allow_pickle=False)``) holding ``embeddings`` and ``ids``. The JSON files follow
the reference's keys. Every file is written to a temporary name and renamed, so a killed run
never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any, indent: int | None = 4) -> None:
    """Write ``payload`` as JSON atomically."""
    with atomic_writer(path) as handle:
        json.dump(payload, handle, indent=indent, ensure_ascii=False)
        handle.write("\n")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write one JSON object per line atomically."""
    with atomic_writer(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_embeddings(path: Path, embeddings: np.ndarray, ids: Sequence[str]) -> None:
    """Write an ``.npz`` archive with ``embeddings`` (float32) and ``ids`` (unicode strings)."""
    with atomic_writer(path, "wb") as handle:
        _save_npz(handle, embeddings, ids)


def _save_npz(handle: IO[bytes], embeddings: np.ndarray, ids: Sequence[str]) -> None:
    np.savez(handle, embeddings=np.asarray(embeddings, dtype=np.float32), ids=np.asarray(list(ids), dtype=str))


def read_embeddings(path: Path) -> tuple[np.ndarray, list[str]]:
    """Read a ``{task}_qry`` / ``{task}_tgt`` archive written by :func:`write_embeddings`."""
    with np.load(path, allow_pickle=False) as archive:
        return archive["embeddings"], [str(i) for i in archive["ids"]]


def task_paths(output_dir: Path, task: str) -> dict[str, Path]:
    """The reference's per-task file names inside ``output_dir``."""
    return {
        "qry": output_dir / f"{task}_qry",
        "tgt": output_dir / f"{task}_tgt",
        "info": output_dir / f"{task}_info.jsonl",
        "score": output_dir / f"{task}_score.json",
        "pred": output_dir / f"{task}_pred.jsonl",
    }
