"""Tables found by walking a folder: MMEB-V3's memory layout (``dataset.discover``).

The reference (VLM2Vec ``memory_retrieval_dateset.py``) finds its sub-tasks at run time: every
query file under the dataset folder is one, read with the qrels file beside it and the nearest
corpus file (its own folder, else a folder above, up to the root); a sub-task lacking either is
skipped. All sub-tasks rank against one pooled corpus. Ids are prefixed with the folder they
come from, relative to the root: a query's with its sub-task's (``<subtask>::<id>``), a
document's with its corpus file's, none at the root. This module reproduces that walk and the
reference's field fallbacks, and returns one of the three tables as ordinary rows, so that
templates, qrels relevance and the corpus work as for any other task.

Bounded: the walk stays inside ``--data_basedir`` (a symlinked root is resolved and must stay
inside; symlinked folders below it are not walked, as ``Path.rglob`` does not walk them; a
symlinked file must resolve inside), it visits at most :data:`MAX_WALKED_ENTRIES` entries and
accepts at most :data:`MAX_QUERY_FILES` query files. Bad qrels lines and rows are one-line
errors naming ``file:line``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.paths import resolve_inside
from harness.errors import DataError
from harness.taskspec.schema import FolderDiscovery

MAX_WALKED_ENTRIES = 1_000_000
"""Most folder entries (files and folders) one walk visits before it refuses the root."""
MAX_QUERY_FILES = 10_000
"""Most query files (sub-tasks) one root may hold."""

DISCOVERED_COLUMN = "discovered"
"""The column added to every query and corpus row (see ``FolderDiscovery.table``)."""

# The reference's field fallbacks, first truthy value wins (its `a or b or c`).
QUERY_ID_FIELDS = ("_id", "id", "qid", "query_id", "query-id")
QUERY_TEXT_FIELDS = ("text", "query", "query_content", "short_query")
DOC_ID_FIELDS = ("_id", "id", "doc_id", "document_id", "corpus-id")
QRELS_QUERY_FIELDS = ("query_id", "query-id", "qid", "q_id", "id")
QRELS_DOC_FIELDS = ("corpus_id", "corpus-id", "doc_id", "document_id", "p_id")


@dataclass(frozen=True)
class SubTask:
    """One discovered sub-task: its query, qrels and corpus files and its two id prefixes."""

    subtask: str
    """Folder of the query file relative to the root ("" at the root)."""
    corpus_key: str
    """Folder of the corpus file relative to the root ("" at the root)."""
    queries: Path
    qrels: Path
    corpus: Path


@dataclass
class Discovered:
    """The walk's result: the sub-tasks in the reference's order, and the query files skipped."""

    root: Path
    subtasks: list[SubTask]
    skipped: list[str]
    """Query files (relative to the root) without a qrels or corpus file, as the reference skips them."""


def discover(spec: FolderDiscovery, data_basedir: Path) -> Discovered:
    """Walk ``spec.root`` under ``data_basedir`` and pair each query file with its qrels and corpus."""
    base = Path(os.path.realpath(data_basedir))
    root = _inside(base, resolve_inside(base, spec.root, "discover.root"), "discover.root")
    if not root.is_dir():
        raise DataError(f"discover.root '{spec.root}' is not a folder under {data_basedir}")
    found: dict[str, list[Path]] = {name: [] for name in spec.query_files}
    for folder, files in _walk(root):
        for name in files:
            if name in found:
                found[name].append(folder / name)
    query_files = [path for name in spec.query_files for path in sorted(found[name], key=lambda p: p.parts)]
    if len(query_files) > MAX_QUERY_FILES:
        raise DataError(f"discover.root '{spec.root}': {len(query_files):,} query files (limit {MAX_QUERY_FILES:,})")
    result = Discovered(root=root, subtasks=[], skipped=[])
    for query_file in query_files:
        folder = query_file.parent
        qrels = _first_file(base, [folder / name for name in spec.qrels_files])
        corpus = _nearest_corpus(base, root, folder, spec.corpus_files)
        if qrels is None or corpus is None:
            result.skipped.append(_relative(query_file, root))
            continue
        subtask, corpus_key = _relative(folder, root), _relative(corpus.parent, root)
        _inside(base, query_file, "query file")
        result.subtasks.append(SubTask(subtask, corpus_key, query_file, qrels, corpus))
    return result


def discovered_files(spec: FolderDiscovery, data_basedir: Path) -> list[Path]:
    """Every file a discovery reads (query, qrels and corpus files, the instructions), resolved."""
    found = discover(spec, data_basedir)
    files = [Path(os.path.realpath(p)) for sub in found.subtasks for p in (sub.queries, sub.qrels, sub.corpus)]
    if spec.instructions is not None:
        files.append(resolve_inside(Path(os.path.realpath(data_basedir)), spec.instructions, "discover.instructions"))
    return list(dict.fromkeys(files))


def prefixed(raw_id: str, prefix: str) -> str:
    """``<prefix>::<id>``, or the id alone for an empty prefix (files at the root)."""
    return f"{prefix}::{raw_id}" if prefix else raw_id


def first_truthy(row: dict[str, Any], fields: Sequence[str]) -> Any:
    """The first of ``fields`` with a truthy value in ``row``, else None (the reference's ``or`` chain)."""
    for name in fields:
        value = row.get(name)
        if value:
            return value
    return None


def resolve_instruction(instructions: dict[str, Any], key: str, subtask: str) -> str:
    """The instruction of ``subtask``: ``[key][last segment]``, ``[key][key]``, the only one at the root, or ""."""
    dataset = instructions.get(key, {})
    if not isinstance(dataset, dict):
        return ""
    last = subtask.split("/")[-1] if subtask else ""
    if last in dataset:
        return _text(dataset[last], f"instruction {key}/{last}")
    if key in dataset:
        return _text(dataset[key], f"instruction {key}/{key}")
    if not subtask and len(dataset) == 1:
        only = next(iter(dataset.values()))
        if isinstance(only, str):
            return only
    return ""


def load_instructions(spec: FolderDiscovery, data_basedir: Path) -> dict[str, Any]:
    """The instructions JSON file of ``spec`` (empty without one); a missing or bad file is an error."""
    if spec.instructions is None:
        return {}
    base = Path(os.path.realpath(data_basedir))
    path = _inside(base, resolve_inside(base, spec.instructions, "discover.instructions"), "discover.instructions")
    if not path.is_file():
        raise DataError(f"discover.instructions: {path} is not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of {{dataset: {{subtask: instruction}}}}")
    return data


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"discover.instructions: {what} must be text, got {type(value).__name__}")
    return value


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, file names) for ``root`` and every real folder below it, symlinked folders not entered."""
    seen = 0
    for folder, folders, files in os.walk(root, followlinks=False):
        seen += len(folders) + len(files)
        if seen > MAX_WALKED_ENTRIES:
            raise DataError(f"discover.root {root}: more than {MAX_WALKED_ENTRIES:,} entries below it")
        folders.sort()
        yield Path(folder), files


def _nearest_corpus(base: Path, root: Path, folder: Path, names: Sequence[str]) -> Path | None:
    """The corpus file in ``folder``, else in each folder above it up to ``root`` (the reference's search)."""
    cursor = folder
    while True:
        corpus = _first_file(base, [cursor / name for name in names])
        if corpus is not None or cursor == root or root not in cursor.parents:
            return corpus
        cursor = cursor.parent


def _first_file(base: Path, candidates: Sequence[Path]) -> Path | None:
    for path in candidates:
        if path.is_file():
            _inside(base, path, "data file")
            return path
    return None


def _inside(base: Path, path: Path, what: str) -> Path:
    """``path`` with its symlinks resolved, refused when that leaves ``base``."""
    try:
        real = Path(os.path.realpath(path, strict=True))
    except OSError as error:  # a symlink loop, a dangling link
        raise DataError(f"{what} {path} cannot be resolved: {error.strerror or error}") from None
    if real != base and base not in real.parents:
        raise DataError(f"{what} {path} resolves to {real}, outside --data_basedir {base}")
    if not (real.is_dir() or stat.S_ISREG(real.stat().st_mode)):
        raise DataError(f"{what} {path} is neither a folder nor a regular file")
    return real


def _relative(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return "" if relative == "." else relative
