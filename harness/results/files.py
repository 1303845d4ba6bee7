"""Per-task output files, in the reference's names and layout but without pickles.

``{task}_qry`` and ``{task}_tgt`` are NumPy ``.npz`` archives (no pickle: read them with
``np.load(path, allow_pickle=False)``) holding ``embeddings`` and ``ids``. The JSON files follow
the reference's keys. Every file is written to a temporary name and renamed, so a killed run
never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from harness.errors import HarnessError

RUN_FILE = "leaderboard.json"
"""The run file (schema 1.x), rewritten after every task."""
ENTRY_FILE = "leaderboard_entry.json"
"""The run as a leaderboard entry (schema 2.0), written when the run is a full benchmark."""
TASK_FILE_SUFFIXES = {
    "qry": "_qry",
    "tgt": "_tgt",
    "info": "_info.jsonl",
    "score": "_score.json",
    "pred": "_pred.jsonl",
}
"""The per-task files are named ``{task}`` followed by one of these."""
FILE_NAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9_-](?:[A-Za-z0-9._-]| (?=[A-Za-z0-9._-]))*$")
"""A result file name: letters, digits and ``._-`` (single inner spaces, as task names allow:
``Legal Document_score.json``), no separators, not hidden, at most 255 characters."""


class OutputPathError(HarnessError):
    """A result file would land outside the output folder, or the folder cannot be used."""


def is_plain_relative(name: str) -> bool:
    """Whether ``name`` is plain file names joined by ``/`` (a task name with segments, such as
    ``text/BRIGHT/aops_score.json``): no segment empty, ``.``, ``..`` or starting with ``.``."""
    parts = name.split("/")
    return len(name) <= 1024 and all(FILE_NAME.match(part) for part in parts)


def output_file(output_dir: Path, name: str) -> Path:
    """``output_dir / name``, refusing any ``name`` that is not plain file names joined by ``/``.

    Task names become file names, and task files come from strangers: ``../../x`` or ``/tmp/x``
    must never be written. Plain segments (no ``.``/``..``, no leading ``/``) joined to the folder
    cannot leave it; the joined path is checked once more all the same. A name with segments is
    a file in sub-folders (created when it is written), as the reference writes its keys.
    """
    if not is_plain_relative(name):
        raise OutputPathError(
            f"result file name {name[:80]!r} is not a plain file name (letters, digits and ._- only, single "
            f"inner spaces, in segments separated by '/', none starting with '.'), so it might not stay inside "
            f"{output_dir}"
        )
    base = Path(os.path.abspath(output_dir))
    target = Path(os.path.normpath(base / name))
    if base not in target.parents:
        raise OutputPathError(f"result file {name!r} would be written outside {output_dir}")
    if "/" in name:  # a sub-folder that is a symlink must not lead out of the folder
        real_base = os.path.realpath(base)
        real_parent = os.path.realpath(target.parent)
        if real_parent != real_base and not real_parent.startswith(real_base + os.sep):
            raise OutputPathError(f"result file {name!r} would be written outside {output_dir} (through a symlink)")
    return output_dir / name


def is_result_file(name: str) -> bool:
    """True for the names a run writes: the per-task files, the run file and the entry."""
    if name in (RUN_FILE, ENTRY_FILE):
        return True
    return any(name.endswith(suffix) and len(name) > len(suffix) for suffix in TASK_FILE_SUFFIXES.values())


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
    """The reference's per-task file names inside ``output_dir`` (each checked by :func:`output_file`)."""
    return {kind: output_file(output_dir, f"{task}{suffix}") for kind, suffix in TASK_FILE_SUFFIXES.items()}


def check_distinct_task_files(output_dir: Path, tasks: Sequence[str], reserved: Iterable[str] = ()) -> None:
    """Refuse a run whose tasks' result files would collide: two names equal but for case (one
    file on a case-insensitive file system, as macOS and Windows have by default), or a task's
    file that is another task's sub-folder (task ``a`` writes ``a_qry``, task ``a_qry/b`` needs a
    folder ``a_qry``), or a sub-folder named as one of the run's own files (``RUN_FILE``,
    ``ENTRY_FILE`` and ``reserved``). Each file is also checked by :func:`output_file`."""
    seen: dict[str, str] = {}
    for task in tasks:
        other = seen.setdefault(task.casefold(), task)
        if other != task:
            raise OutputPathError(
                f"tasks {other!r} and {task!r} differ only in case: their result files would be one file "
                "on a case-insensitive file system; rename one"
            )
    files: dict[str, str] = {name.casefold(): f"the run writes {name!r}" for name in (RUN_FILE, ENTRY_FILE, *reserved)}
    folders: dict[str, str] = {}
    for task in tasks:
        for path in task_paths(output_dir, task).values():
            relative = str(path.relative_to(output_dir))
            claimed = files.setdefault(relative.casefold(), f"task {task!r} writes {relative!r}")
            if not claimed.startswith(f"task {task!r}"):
                raise OutputPathError(f"{claimed} and task {task!r} writes {relative!r}: rename the task")
        parts = task.split("/")
        for end in range(1, len(parts)):
            folders.setdefault("/".join(parts[:end]).casefold(), task)
    for folder, task in folders.items():
        if folder in files:
            raise OutputPathError(f"{files[folder]}, a file where task {task!r} needs a sub-folder; rename the task")
