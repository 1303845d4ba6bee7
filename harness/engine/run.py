"""Run a selection of tasks with one encoder and keep the leaderboard JSON up to date.

The leaderboard file is rewritten (atomically) after every task, so a run that stops midway
still leaves every finished task's files and a valid entry for them.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from harness.data import data_signature
from harness.distributed import SINGLE_PROCESS, World
from harness.encoder_metadata import EncoderMetadata, encoder_metadata
from harness.engine.embedding_cache import RunCache
from harness.engine.evaluate import EncodingProgress, EvalOptions, evaluate_task
from harness.errors import HarnessError
from harness.models.base import AnyEncoder
from harness.results.aggregation import GroupRule, group_score, task_means
from harness.results.files import RUN_FILE, check_distinct_task_files, task_paths, write_json
from harness.results.output_folder import RUN_MARKER, OutputFolder, claim_output_folder
from harness.results.run_file import GroupScore, HarnessInfo, ModelInfo, RunFile, RunInfo, TaskScore, task_mains
from harness.taskspec.index import LoadedTask, Selection, TaskIndex
from harness.version import VERSION

LEADERBOARD_FILE = RUN_FILE


class RunReporter(Protocol):
    """Receives run events (the CLI shows them with rich)."""

    @property
    def encoding(self) -> EncodingProgress:
        """The hook factory for encoding progress bars."""
        ...

    def task_started(self, task: LoadedTask, position: int, total: int) -> None:
        """Task number ``position`` of ``total`` starts."""
        ...

    def task_kept(self, task: LoadedTask, position: int, total: int, score: TaskScore) -> None:
        """Task number ``position`` was finished by an earlier run of these settings and is kept."""
        ...

    def task_finished(self, task: LoadedTask, score: TaskScore) -> None:
        """A task was evaluated and its files written."""
        ...


@dataclass
class RunResult:
    """What a run wrote and where (on ranks other than 0 of a distributed run, nothing)."""

    run_file: RunFile
    """The run file as last written: every finished task, the groups and the means."""
    path: Path
    """Where the run file is (``leaderboard.json`` in the output folder), rewritten after every task."""
    output_dir: Path
    """The output folder."""
    is_main: bool = True
    """False on the ranks of a distributed run that only encode (they write no file)."""


def run_tasks(
    index: TaskIndex,
    selection: Selection,
    model_name: str,
    encoder: AnyEncoder,
    options: EvalOptions,
    command: Sequence[str],
    reporter: RunReporter | None = None,
    world: World = SINGLE_PROCESS,
    folder: OutputFolder | None = None,
    cache: RunCache | None = None,
    identity: str | None = None,
) -> RunResult:
    """Evaluate every selected task in order, writing results as each one finishes.

    ``folder`` is the output folder as claimed by :func:`harness.results.claim_output_folder`
    (on rank 0); every file written is recorded in its marker, and it is marked finished at the
    end. A task that an earlier run of the same settings finished, with an unchanged fingerprint
    (:func:`task_fingerprint`, needing the encoder's ``identity``), is kept, not computed again.
    With ``cache``, embeddings are looked up and stored. In a distributed run every rank calls
    this; only rank 0 scores tasks and writes files (the entry returned on other ranks has no
    tasks).
    """
    model = ModelInfo(name=model_name, adapter_metadata=encoder_metadata(encoder))
    entry = _new_run_file(model, options, command, world, folder)
    path = options.output_dir / RUN_FILE
    for position, loaded in enumerate(selection.tasks, start=1):
        name = loaded.spec.task
        fingerprint = task_fingerprint(loaded, options, identity) if world.is_main else None
        finished = folder.finished_score(name, fingerprint) if folder is not None and fingerprint else None
        # The main process decides for all: a task it keeps is encoded by no rank.
        if world.total([int(finished is not None)], f"checking whether task '{name}' is finished")[0]:
            if finished is not None:
                entry.tasks[name] = finished
                update_aggregates(entry, index, selection)
                write_json(path, entry.model_dump(mode="json"), indent=2)
                if reporter is not None:
                    reporter.task_kept(loaded, position, len(selection.tasks), finished)
            continue
        if reporter is not None:
            reporter.task_started(loaded, position, len(selection.tasks))
        if folder is not None:
            folder.start_task(name)
        score = evaluate_task(
            loaded, encoder, options, reporter.encoding if reporter is not None else None, world, cache
        )
        if score is None:  # not rank 0
            continue
        entry.tasks[name] = score
        update_aggregates(entry, index, selection)
        write_json(path, entry.model_dump(mode="json"), indent=2)
        if folder is not None:
            folder.finish_task(name, fingerprint or "", [*task_paths(options.output_dir, name).values(), path])
        if reporter is not None:
            reporter.task_finished(loaded, score)
    entry.run.finished_at = _now()
    if not world.is_main:
        return RunResult(run_file=entry, path=path, output_dir=options.output_dir, is_main=False)
    write_json(path, entry.model_dump(mode="json"), indent=2)
    if folder is not None:
        folder.record([path])
        folder.finish()
    return RunResult(run_file=entry, path=path, output_dir=options.output_dir)


def keep_finished_run(
    index: TaskIndex,
    selection: Selection,
    options: EvalOptions,
    command: Sequence[str],
    world: World,
    folder: OutputFolder | None,
    launch: str | None,
    reporter: RunReporter | None = None,
) -> RunResult | None:
    """The run, without loading the model, when every selected task is finished already: the
    folder's earlier run had this ``launch`` identity (so its encoder identity still holds) and
    every task's fingerprint is unchanged. None (load the model) otherwise; every rank agrees."""
    kept: dict[str, TaskScore] | None = None
    resumable = folder is not None and folder.previous_model is not None and launch is not None
    if resumable and folder is not None and launch == folder.marker.launch_identity:
        identity = folder.marker.encoder_identity
        scores = {t.spec.task: _kept(folder, t, options, identity) for t in selection.tasks}
        kept = {name: score for name, score in scores.items() if score is not None}
        kept = kept if len(kept) == len(scores) else None
    if not world.total([int(kept is not None)], "checking whether every task is finished")[0]:
        return None
    entry = _new_run_file(folder.previous_model if folder else None, options, command, world, folder)
    path = options.output_dir / RUN_FILE
    if kept is not None and folder is not None:
        for position, loaded in enumerate(selection.tasks, start=1):
            entry.tasks[loaded.spec.task] = kept[loaded.spec.task]
            if reporter is not None:
                reporter.task_kept(loaded, position, len(selection.tasks), kept[loaded.spec.task])
        update_aggregates(entry, index, selection)
        entry.run.finished_at = _now()
        write_json(path, entry.model_dump(mode="json"), indent=2)
        folder.finish()
    return RunResult(run_file=entry, path=path, output_dir=options.output_dir, is_main=world.is_main)


def _kept(folder: OutputFolder, loaded: LoadedTask, options: EvalOptions, identity: str | None) -> TaskScore | None:
    fingerprint = task_fingerprint(loaded, options, identity)
    return folder.finished_score(loaded.spec.task, fingerprint) if fingerprint else None


def _new_run_file(
    model: ModelInfo | None, options: EvalOptions, command: Sequence[str], world: World, folder: OutputFolder | None
) -> RunFile:
    return RunFile(
        model=model or ModelInfo(name="(not loaded)", adapter_metadata=EncoderMetadata()),
        harness=harness_info(),
        run=RunInfo(
            command=list(command),
            batch_size=options.batch_size,
            limit=options.limit,
            data_source=options.data_source,
            data_basedir=str(options.data_basedir),
            started_at=_now(),
            world_size=world.world_size,
            run_id=folder.run_id if folder is not None else None,
            max_batch_tokens=options.max_batch_tokens,
            num_workers=options.workers.num_workers,
            model_threads=options.workers.main_threads,
            metrics_compat=options.metrics_compat,
            audio_max_seconds=options.audio_max_seconds,
        ),
    )


def task_fingerprint(loaded: LoadedTask, options: EvalOptions, identity: str | None) -> str | None:
    """What decides a finished task's files within one output folder's settings: the task's full
    definition and meta-task, the encoder's identity (weights included) and the task's data files
    (:func:`harness.data.data_signature`). None when the encoder cannot be identified."""
    if identity is None:
        return None
    try:
        data = data_signature(loaded.spec, options.data_basedir)
    except HarnessError:  # the task's own evaluation will say what is wrong
        return None
    payload = {
        "task": loaded.spec.model_dump(mode="json"),
        "meta_task": loaded.meta_task,
        "encoder": identity,
        "data": data,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def run_settings(
    model_name: str, model_args: dict[str, Any], selection: Selection, options: EvalOptions
) -> dict[str, Any]:
    """The settings an output folder belongs to: its fingerprint is a hash of this.

    Model and arguments as given, the row limit, the data and the prediction depth; not the batch
    size or the number of processes, which change no number, and not the task list: each task has
    a fingerprint of its own (:func:`task_fingerprint`), so a rerun keeps finished tasks and runs
    added or changed ones in the same folder.
    """
    settings: dict[str, Any] = {
        "model": model_name,
        "model_args": {key: model_args[key] for key in sorted(model_args)},
        "limit": options.limit,
        "data_source": options.data_source,
        "data_basedir": str(options.data_basedir),
        "predictions": options.predictions,
        "top_k": options.top_k,
    }
    if options.metrics_compat != "harness":  # only when set, so that earlier folders keep their fingerprint
        settings["metrics_compat"] = options.metrics_compat
    return settings


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
    check_distinct_task_files(options.output_dir, [loaded.spec.task for loaded in selection.tasks], [RUN_MARKER])
    settings = run_settings(model_name, model_args, selection, options)
    return claim_output_folder(options.output_dir, settings, command, overwrite=overwrite)


def update_aggregates(run_file: RunFile, index: TaskIndex, selection: Selection) -> None:
    """Recompute modality means, the overall mean and each selected group's score in place."""
    means = task_means(task_mains(run_file.tasks))
    run_file.modalities, run_file.meta_tasks, run_file.overall = means.modalities, means.meta_tasks, means.overall
    rules = group_rules(index, [group.spec.group for group in selection.groups])
    scores = {name: score.main_score for name, score in run_file.tasks.items()}
    for group in selection.groups:
        name = group.spec.group
        run_file.groups[name] = GroupScore(
            version=group.spec.version,
            aggregate=group.spec.aggregate,
            score=group_score(name, rules, scores),
            tasks=list(rules[name].leaves),
            complete=all(leaf in run_file.tasks for leaf in rules[name].leaves),
        )


def group_rules(index: TaskIndex, names: Sequence[str]) -> dict[str, GroupRule]:
    """The aggregation rule of every group and tag under ``names`` (tasks have none)."""
    rules: dict[str, GroupRule] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in rules or name in index.tasks:
            continue
        leaves = tuple(index.expand(name))
        if name in index.groups:
            spec = index.groups[name].spec
            rules[name] = GroupRule(spec.aggregate, tuple(spec.task), leaves)
            pending.extend(spec.task)
        else:  # a tag: the mean of its tasks
            rules[name] = GroupRule("mean_of_tasks", leaves, leaves)
    return rules


def harness_info() -> HarnessInfo:
    """Harness version, git commit of its checkout (if any) and key package versions."""
    packages: dict[str, str] = {}
    for name in ("torch", "transformers", "numpy", "pillow", "datasets"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return HarnessInfo(version=VERSION, git_commit=_git_commit(), python=platform.python_version(), packages=packages)


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
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
