"""Run a selection of tasks with one encoder and keep the leaderboard JSON up to date.

The leaderboard file is rewritten (atomically) after every task, so a run that stops midway
still leaves every finished task's files and a valid entry for them.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import harness
from harness.distributed import World
from harness.engine.evaluate import EncodingProgress, EvalOptions, evaluate_task
from harness.models.base import Encoder
from harness.models.metadata import encoder_metadata
from harness.results.files import ENTRY_FILE, RUN_FILE, task_paths, write_json
from harness.results.leaderboard import (
    GroupScore,
    HarnessInfo,
    LeaderboardEntry,
    ModelInfo,
    RunInfo,
    TaskScore,
    aggregate_meta_tasks,
    aggregate_modalities,
    group_score,
)
from harness.results.output_folder import OutputFolder, claim_output_folder
from harness.taskspec.index import LoadedTask, Selection, TaskIndex

LEADERBOARD_FILE = RUN_FILE


class RunReporter(Protocol):
    """Receives run events (the CLI shows them with rich)."""

    @property
    def encoding(self) -> EncodingProgress:
        """The hook factory for encoding progress bars."""
        ...

    def task_started(self, task: LoadedTask, position: int, total: int) -> None: ...

    def task_finished(self, task: LoadedTask, score: TaskScore) -> None: ...


@dataclass
class RunResult:
    """The results written and where."""

    entry: LeaderboardEntry
    path: Path
    """The run's results file (``leaderboard.json``), rewritten after every task."""
    entry_path: Path | None = None
    """The leaderboard entry (``leaderboard_entry.json``), when one could be written."""
    entry_note: str | None = None
    """Why no leaderboard entry was written (a partial run, no single benchmark group, ...)."""


def run_tasks(
    index: TaskIndex,
    selection: Selection,
    model_name: str,
    encoder: Encoder,
    options: EvalOptions,
    command: Sequence[str],
    reporter: RunReporter | None = None,
    world: World | None = None,
    folder: OutputFolder | None = None,
) -> RunResult:
    """Evaluate every selected task in order, writing results as each one finishes.

    ``folder`` is the output folder as claimed by :func:`harness.results.claim_output_folder`
    (on rank 0); every file written is recorded in its marker, and it is marked finished at the
    end. In a distributed run every rank calls this; only rank 0 scores tasks and writes files
    (the entry returned on other ranks has no tasks).
    """
    entry = LeaderboardEntry(
        model=ModelInfo(name=model_name, adapter_metadata=encoder_metadata(encoder).model_dump(mode="json")),
        harness=harness_info(),
        run=RunInfo(
            command=list(command),
            batch_size=options.batch_size,
            limit=options.limit,
            data_source=options.data_source,
            data_basedir=str(options.data_basedir),
            started_at=_now(),
            world_size=world.world_size if world is not None else 1,
            run_id=folder.run_id if folder is not None else None,
        ),
    )
    path = options.output_dir / RUN_FILE
    for position, loaded in enumerate(selection.tasks, start=1):
        if reporter is not None:
            reporter.task_started(loaded, position, len(selection.tasks))
        score = evaluate_task(loaded, encoder, options, reporter.encoding if reporter is not None else None, world)
        if score is None:  # not rank 0
            continue
        entry.tasks[loaded.spec.task] = score
        update_aggregates(entry, index, selection)
        write_json(path, entry.model_dump(mode="json"), indent=2)
        if folder is not None:
            folder.record([*task_paths(options.output_dir, loaded.spec.task).values(), path])
        if reporter is not None:
            reporter.task_finished(loaded, score)
    entry.run.finished_at = _now()
    if world is not None and not world.is_main:
        return RunResult(entry=entry, path=path)
    write_json(path, entry.model_dump(mode="json"), indent=2)
    entry_path, note = write_leaderboard_entry(entry, options.output_dir / ENTRY_FILE)
    if folder is not None:
        folder.record([path] if entry_path is None else [path, entry_path])
        folder.finish()
    return RunResult(entry=entry, path=path, entry_path=entry_path, entry_note=note)


def run_settings(
    model_name: str, model_args: dict[str, Any], selection: Selection, options: EvalOptions
) -> dict[str, Any]:
    """What decides a run's numbers: the output folder's fingerprint is a hash of this.

    Model and arguments as given, each task's full definition (hashed), the row limit, the data
    and the prediction depth; not the batch size or the number of processes, which change no
    number.
    """
    return {
        "model": model_name,
        "model_args": {key: model_args[key] for key in sorted(model_args)},
        "tasks": {
            loaded.spec.task: hashlib.sha256(loaded.spec.model_dump_json().encode("utf-8")).hexdigest()[:16]
            for loaded in selection.tasks
        },
        "limit": options.limit,
        "data_source": options.data_source,
        "data_basedir": str(options.data_basedir),
        "predictions": options.predictions,
        "top_k": options.top_k,
    }


def claim_run_folder(
    model_name: str,
    model_args: dict[str, Any],
    selection: Selection,
    options: EvalOptions,
    command: Sequence[str],
    *,
    overwrite: bool = False,
) -> OutputFolder:
    """Check every result file name and claim ``options.output_dir`` for this run, before any work.

    Raises :class:`harness.results.files.OutputPathError` for a task name that is no plain file
    name, a folder that cannot be written, or another run's results (unless ``overwrite``).
    """
    for loaded in selection.tasks:
        task_paths(options.output_dir, loaded.spec.task)
    settings = run_settings(model_name, model_args, selection, options)
    return claim_output_folder(options.output_dir, settings, command, overwrite=overwrite)


def write_leaderboard_entry(entry: LeaderboardEntry, target: Path) -> tuple[Path | None, str | None]:
    """Write the finished run as a validated leaderboard entry; ``(None, reason)`` when it is not one.

    An entry is one model on one complete benchmark group, from a full run (no ``--limit``). A
    stale entry file from an earlier run in the same folder is removed when none is written.
    """
    from harness.leaderboard import EntryError, migrate_run_entry, write_entry

    try:
        write_entry(target, migrate_run_entry(entry.model_dump(mode="json")))
    except EntryError as error:
        target.unlink(missing_ok=True)
        return None, str(error)
    return target, None


def update_aggregates(entry: LeaderboardEntry, index: TaskIndex, selection: Selection) -> None:
    """Recompute modality means, the overall mean and each selected group's score in place."""
    entry.modalities, entry.overall = aggregate_modalities(entry.tasks)
    entry.meta_tasks = aggregate_meta_tasks(entry.tasks)
    for group in selection.groups:
        leaves = index.expand(group.spec.group)
        entry.groups[group.spec.group] = GroupScore(
            version=group.spec.version,
            aggregate=group.spec.aggregate,
            score=_group_value(index, group.spec.group, entry.tasks),
            tasks=leaves,
            complete=all(name in entry.tasks for name in leaves),
        )


def _group_value(index: TaskIndex, name: str, tasks: dict[str, TaskScore]) -> float | None:
    if name in index.tasks:
        return tasks[name].main_score if name in tasks else None
    if name not in index.groups:  # a tag: the mean of its tasks
        return group_score("mean_of_tasks", index.expand(name), [], tasks)
    spec = index.groups[name].spec
    children = [_group_value(index, member, tasks) for member in spec.task]
    return group_score(spec.aggregate, index.expand(name), children, tasks)


def harness_info() -> HarnessInfo:
    """Harness version, git commit of its checkout (if any) and key package versions."""
    packages: dict[str, str] = {}
    for name in ("torch", "transformers", "numpy", "pillow", "datasets"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return HarnessInfo(
        version=harness.__version__, git_commit=_git_commit(), python=platform.python_version(), packages=packages
    )


def _git_commit() -> str | None:
    root = Path(harness.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def summary_rows(entry: LeaderboardEntry) -> list[dict[str, Any]]:
    """Rows for the end-of-run table: tasks, then groups, modalities and overall."""
    rows: list[dict[str, Any]] = [
        {"name": name, "kind": "task", "metric": s.main_metric, "score": s.main_score, "n": s.num_queries}
        for name, s in entry.tasks.items()
    ]
    rows += [
        {"name": name, "kind": "group", "metric": g.aggregate, "score": g.score, "n": len(g.tasks)}
        for name, g in entry.groups.items()
    ]
    rows += [
        {"name": meta, "kind": "meta-task", "metric": "mean of tasks", "score": value, "n": None}
        for meta, value in entry.meta_tasks.items()
        if meta not in entry.groups
    ]
    rows += [
        {"name": modality, "kind": "modality", "metric": "mean of tasks", "score": value, "n": None}
        for modality, value in entry.modalities.items()
    ]
    rows.append(
        {"name": "overall", "kind": "overall", "metric": "mean of tasks", "score": entry.overall, "n": len(entry.tasks)}
    )
    return rows
