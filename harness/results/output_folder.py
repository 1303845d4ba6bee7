"""The output folder of a run: every file kept inside it, the folder marked as one run's, and
finished tasks kept for a rerun.

A run claims its folder before the model loads. The claim checks that the folder can be
written, takes an exclusive lock (two runs never write one folder at once), and reads the
marker file ``harness_run.json`` that an earlier run left there:

- no marker and no result files: a fresh folder;
- a marker with the same fingerprint (the same model, model arguments, row limit, data and
  prediction depth): an earlier run of these settings, **resumed**: each task it finished is kept
  as long as that task's own fingerprint (its definition, the encoder's identity, its data files)
  is unchanged, and every other task is computed again, its files replaced;
- a marker with another fingerprint, or result files without a marker: another run's results,
  refused unless ``overwrite`` is given.

``overwrite`` replaces the folder's results as a whole: every file the old marker lists and every
file with a result file name (``{task}_score.json`` ...) is deleted before the new run writes
anything, so the folder never mixes two settings and never keeps another run's
``leaderboard_entry.json``. Files with other names (a user's notes) are left alone. The marker
lists the files written, each finished task's fingerprint, and the status (``running``,
``finished``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.locks import forget, keep_from_children
from harness.results.files import (
    ENTRY_FILE,
    RUN_FILE,
    OutputPathError,
    is_plain_relative,
    is_result_file,
    output_file,
    task_paths,
    write_json,
)
from harness.results.run_file import ModelInfo, RunFile, TaskScore

RUN_MARKER = "harness_run.json"
"""The marker file naming the run a folder belongs to."""
LOCK_FILE = ".harness_run.lock"
"""Held (``flock``) by the run writing the folder; the lock goes when the process does."""
MARKER_FORMAT_VERSION: Literal[1] = 1


def run_fingerprint(settings: Mapping[str, Any]) -> str:
    """A stable SHA-256 of everything that decides a run's numbers (canonical JSON)."""
    text = json.dumps(settings, sort_keys=True, ensure_ascii=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class RunMarker(BaseModel):
    """The contents of ``harness_run.json``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    format_version: Literal[1] = MARKER_FORMAT_VERSION
    """Version of this file's format."""
    run_id: str
    """Random id of the run that owns the folder."""
    fingerprint: str
    """SHA-256 of ``settings``: equal fingerprints mean the same model, arguments, row limit and data."""
    settings: dict[str, Any]
    """What the fingerprint covers (model, model arguments, row limit, data, prediction depth)."""
    status: Literal["running", "finished"]
    """``running`` until the last file is written (a run killed midway stays ``running``)."""
    started_at: str
    """When the run claimed the folder (ISO 8601, UTC)."""
    finished_at: str | None = None
    """When the run wrote its last file."""
    command: list[str] = Field(default_factory=list)
    """The command line of the run."""
    files: list[str] = Field(default_factory=list)
    """Result files the run has written so far (names inside the folder)."""
    tasks: dict[str, str] = Field(default_factory=dict)
    """Each finished task and its fingerprint: a rerun of these settings keeps the task while its
    fingerprint is unchanged. A task is removed here before it is computed again."""
    encoder_identity: str | None = None
    """The encoder identity the finished tasks' fingerprints were made with."""
    launch_identity: str | None = None
    """What decided that encoder before it was loaded (``harness.engine.launch``): a rerun with the
    same launch identity can check its finished tasks without loading the model."""


class OutputFolder:
    """A claimed output folder: the lock is held and the marker kept up to date."""

    def __init__(
        self,
        path: Path,
        marker: RunMarker,
        lock_fd: int | None,
        previous: Mapping[str, TaskScore] | None = None,
        previous_run: str | None = None,
    ) -> None:
        self.path = path
        self.marker = marker
        self._lock_fd = lock_fd
        self._previous: dict[str, TaskScore] = dict(previous or {})
        self._previous_run = previous_run
        self.previous_model: ModelInfo | None = None
        """The model of the earlier run file, when this run resumes one."""

    @property
    def run_id(self) -> str:
        """The run's id, also written into the run file."""
        return self.marker.run_id

    def file(self, name: str) -> Path:
        """The path of result file ``name`` inside the folder (see :func:`output_file`)."""
        return output_file(self.path, name)

    def finished_score(self, task: str, fingerprint: str) -> TaskScore | None:
        """The score of ``task`` when an earlier run of these settings finished it with the same
        ``fingerprint`` and its five files are still there; else None (compute it again)."""
        score = self._previous.get(task)
        if score is None or self.marker.tasks.get(task) != fingerprint:
            return None
        if not all(path.is_file() for path in task_paths(self.path, task).values()):
            return None
        return score.model_copy(
            update={"encoding": {}, "seconds": None, "kept_from": score.kept_from or self._previous_run}
        )

    def set_identities(self, encoder: str | None, launch: str | None) -> None:
        """Record the identities this run's task fingerprints are made with (once the model is loaded)."""
        if (encoder, launch) != (self.marker.encoder_identity, self.marker.launch_identity):
            self.marker = self.marker.model_copy(update={"encoder_identity": encoder, "launch_identity": launch})
            self._write_marker()

    def start_task(self, task: str) -> None:
        """Forget ``task``'s earlier result before its files are written again (a kill midway then
        leaves it unfinished, never half old and half new)."""
        if task in self.marker.tasks:
            self.marker = self.marker.model_copy(
                update={"tasks": {k: v for k, v in self.marker.tasks.items() if k != task}}
            )
            self._write_marker()

    def finish_task(self, task: str, fingerprint: str, paths: Iterable[Path]) -> None:
        """Record ``task`` as finished with ``fingerprint`` and the files it wrote."""
        names = [n for n in map(self._relative, paths) if n not in self.marker.files]
        update = {"files": [*self.marker.files, *names], "tasks": {**self.marker.tasks, task: fingerprint}}
        self.marker = self.marker.model_copy(update=update)
        self._write_marker()

    def record(self, paths: Iterable[Path]) -> None:
        """Add written files to the marker (rewritten atomically)."""
        names = [n for n in map(self._relative, paths) if n not in self.marker.files]
        if names:
            self.marker = self.marker.model_copy(update={"files": [*self.marker.files, *names]})
            self._write_marker()

    def _relative(self, path: Path) -> str:
        """A written file's name inside the folder (``text/BRIGHT/aops_score.json`` for a task name with segments)."""
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.path))).as_posix()

    def finish(self) -> None:
        """Mark the run finished and release the lock."""
        self.marker = self.marker.model_copy(update={"status": "finished", "finished_at": _now()})
        self._write_marker()
        self.release()

    def release(self) -> None:
        """Release the lock (the marker stays ``running`` unless :meth:`finish` was called)."""
        if self._lock_fd is not None:
            forget(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _write_marker(self) -> None:
        write_json(self.path / RUN_MARKER, self.marker.model_dump(mode="json"), indent=2)


def claim_output_folder(
    path: Path, settings: Mapping[str, Any], command: Iterable[str] = (), *, overwrite: bool = False
) -> OutputFolder:
    """Make ``path`` this run's folder (see the module docstring); :class:`OutputPathError` if it cannot be."""
    _create_writable(path)
    lock_fd = _lock(path)
    try:
        fingerprint = run_fingerprint(settings)
        previous = read_marker(path)
        leftovers = _result_files(path, previous)
        resumed = previous is not None and previous.fingerprint == fingerprint and not overwrite
        if leftovers and not overwrite and not resumed:
            raise OutputPathError(_foreign_message(path, previous, settings, leftovers))
        kept = previous if resumed else None
        for leftover in leftovers if kept is None else [ENTRY_FILE]:  # the entry is rebuilt at the end
            output_file(path, leftover).unlink(missing_ok=True)  # checked: never a file outside the folder
        marker = RunMarker(
            run_id=uuid.uuid4().hex,
            fingerprint=fingerprint,
            settings=json.loads(json.dumps(dict(settings), default=str)),
            status="running",
            started_at=_now(),
            command=list(command),
            files=[name for name in kept.files if name != ENTRY_FILE] if kept else [],
            tasks=dict(kept.tasks) if kept else {},
            encoder_identity=kept.encoder_identity if kept else None,
            launch_identity=kept.launch_identity if kept else None,
        )
        earlier = _previous_run_file(path) if kept else None
        folder = OutputFolder(path, marker, lock_fd, earlier.tasks if earlier else None, kept.run_id if kept else None)
        folder.previous_model = earlier.model if earlier else None
        folder._write_marker()
    except BaseException:
        os.close(lock_fd)
        raise
    return folder


def _previous_run_file(path: Path) -> RunFile | None:
    """The run file an earlier run left, or None when it cannot be read as one."""
    try:
        payload = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
        return RunFile.model_validate(payload)
    except (OSError, ValueError, ValidationError, RecursionError):
        return None


def read_marker(path: Path) -> RunMarker | None:
    """The marker in ``path``, or None when there is none or it cannot be read as one."""
    try:
        payload = json.loads((path / RUN_MARKER).read_text(encoding="utf-8"))
        return RunMarker.model_validate(payload)
    except (OSError, ValueError, ValidationError, RecursionError):
        return None


def _create_writable(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"output folder {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".harness-write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise OutputPathError(f"output folder {path} cannot be written: {error.strerror or error}") from None


def _lock(path: Path) -> int:
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutputPathError(
            f"output folder {path} is being written by another harness run right now; "
            "wait for it or choose another folder"
        ) from None
    keep_from_children(fd)  # a forked worker must not hold the folder after the run is gone
    return fd


def _result_files(path: Path, previous: RunMarker | None) -> list[str]:
    """Files of an earlier run: those its marker lists and any with a result file name."""
    names: set[str] = set()
    for folder, _dirs, files in os.walk(path, followlinks=False):  # results of segmented task names too
        relative = Path(os.path.relpath(folder, path))
        names.update((relative / name).as_posix().removeprefix("./") for name in files if is_result_file(name))
    if previous is not None:
        names.update(name for name in previous.files if is_plain_relative(name) and (path / name).is_file())
    return sorted(names)


def _foreign_message(path: Path, previous: RunMarker | None, settings: Mapping[str, Any], leftovers: list[str]) -> str:
    advice = "pass --overwrite to replace them, or choose another output folder"
    if previous is None:
        return f"output folder {path} holds result files of an unmarked run (e.g. {leftovers[0]}); {advice}"
    keys = {*previous.settings, *settings}
    differing = sorted(k for k in keys if previous.settings.get(k) != _plain(settings.get(k)))
    what = f"other {', '.join(differing)}" if differing else "other settings"
    return (
        f"output folder {path} holds results of another run ({what}; run {previous.run_id[:8]}, "
        f"started {previous.started_at}, {previous.status}); {advice}"
    )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
