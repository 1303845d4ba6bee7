"""A run's output folder read back for a comparison: the run file, checked against each task's
score file, and the per-task JSON Lines files read line by line within limits.

The folder is what ``harness run`` (or ``eval.py``) writes: ``leaderboard.json`` (the run file,
schema 1.0, rewritten after every task, so a partial run has one too) and per task
``{task}_score.json``, ``{task}_pred.jsonl`` and ``{task}_info.jsonl``. Folders come from
strangers: every file goes through the bounded readers of :mod:`harness.leaderboard.json_input`,
and every problem is one :class:`EntryError` line naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.leaderboard.checks import EntryError, validated
from harness.leaderboard.files import entry_from_payload, read_payload
from harness.leaderboard.json_input import parse_json_bytes
from harness.leaderboard.migrate import RUN_SCHEMA_VERSIONS
from harness.leaderboard.score_table import ScoreTable, table_from_entry, table_from_run
from harness.results.files import RUN_FILE, task_paths
from harness.results.run_file import RunFile, TaskScore

MAX_JSONL_FILE_BYTES = 1 << 30
"""Largest ``_pred.jsonl`` / ``_info.jsonl`` read (1 GiB; a 1,000-query top-10 file is about 300 KB)."""
MAX_JSONL_LINE_BYTES = 16 << 20
"""Longest line of those files (16 MiB; room for a full ranking of ~500,000 candidate ids)."""
MAX_QUERIES = 1_000_000
"""Most rows read from one of those files."""


@dataclass(frozen=True)
class RunFolder:
    """A run output folder whose run file and score files agree."""

    path: Path
    run: RunFile
    table: ScoreTable


def read_run_file(path: Path) -> RunFile:
    """The run file (schema 1.0) in ``path``, validated strictly (no NaN, no string for a number)."""
    payload = read_payload(path)
    version = payload.get("schema_version")
    if version not in RUN_SCHEMA_VERSIONS:
        shown = repr(version)[:40]
        raise EntryError(
            f"{path}: schema_version {shown}: expected a harness run file (schema {', '.join(RUN_SCHEMA_VERSIONS)})"
        )
    try:
        return validated(RunFile, payload, strict=True)
    except EntryError as error:
        raise EntryError(f"{path}: {error}") from None


def read_run_folder(path: Path) -> RunFolder:
    """The run in folder ``path``; each task's ``_score.json`` must hold the run file's main score."""
    if not path.is_dir():
        raise EntryError(f"{path}: not a folder (expected a run output folder holding {RUN_FILE})")
    run_path = path / RUN_FILE
    if not run_path.is_file():
        raise EntryError(f"{path}: no {RUN_FILE} (the run file `harness run` writes); not a run output folder")
    run = read_run_file(run_path)
    if not run.tasks:
        raise EntryError(f"{run_path}: the run has no finished task")
    for task, score in run.tasks.items():
        _check_score_file(path, task, score)
    return RunFolder(path=path, run=run, table=table_from_run(run, str(path)))


def read_scores(path: Path) -> ScoreTable:
    """Our side of a score comparison: a run folder, a run file (a partial run too) or an entry file."""
    if path.is_dir():
        return read_run_folder(path).table
    payload = read_payload(path)
    if payload.get("schema_version") in RUN_SCHEMA_VERSIONS:
        return table_from_run(read_run_file(path), str(path))
    try:
        entry = entry_from_payload(payload)
    except EntryError as error:
        raise EntryError(f"{path}: {error}") from None
    return table_from_entry(entry, str(path))


def _check_score_file(folder: Path, task: str, score: TaskScore) -> None:
    path = task_paths(folder, task)["score"]  # refuses a task name that is not a plain file name
    payload = read_payload(path)
    value = payload.get(score.main_metric)
    if value != score.main_score or isinstance(value, bool):
        raise EntryError(f"{path}: {score.main_metric} is {value!r} but {RUN_FILE} has {score.main_score!r}")
    num_data = payload.get("num_data")
    if num_data is not None and num_data != score.num_queries:
        raise EntryError(f"{path}: num_data is {num_data!r} but {RUN_FILE} has num_queries {score.num_queries}")


def jsonl_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each non-blank line of ``path`` as ``("path:line", object)``, within the limits above."""
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except OSError as error:
        raise EntryError(f"{path}: cannot read ({error.strerror or error})") from None
    if size > MAX_JSONL_FILE_BYTES:
        handle.close()
        raise EntryError(f"{path}: larger than the {MAX_JSONL_FILE_BYTES >> 20} MiB a per-query file may be")
    with handle:
        line_number = rows = 0
        while raw := handle.readline(MAX_JSONL_LINE_BYTES + 1):
            line_number += 1
            where = f"{path}:{line_number}"
            if len(raw) > MAX_JSONL_LINE_BYTES:
                raise EntryError(f"{where}: line longer than {MAX_JSONL_LINE_BYTES >> 20} MiB")
            if not raw.strip():
                continue
            rows += 1
            if rows > MAX_QUERIES:
                raise EntryError(f"{path}: more than {MAX_QUERIES:,} rows")
            value = parse_json_bytes(raw, where)
            if not isinstance(value, dict):
                raise EntryError(f"{where}: expected a JSON object, got {type(value).__name__}")
            yield where, value
