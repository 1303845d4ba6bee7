"""``harness.evaluate``: the one way a run is assembled, behind every door.

``harness run``, the reference-compatible ``eval.py`` and the MMEB-V2 modality runner each parse
their own flags into these arguments and call :func:`evaluate`; so does Python code. It checks
the options, resolves the tasks, joins the process group under torchrun, claims the output
folder (before the model loads), builds the encoder and runs the engine. Publishing a
leaderboard entry is left to the caller (:func:`harness.leaderboard.publish_run`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from harness.data import DataSourceMode
from harness.distributed import (
    SINGLE_PROCESS,
    World,
    close_world,
    init_world,
    launched_by_torchrun,
    rank_device,
    world_joined,
)
from harness.encoder_metadata import encoder_metadata
from harness.engine.cache_keys import DirectDigests, encoder_identity
from harness.engine.embedding_cache import EmbeddingStore, RunCache
from harness.engine.evaluate import EvalOptions
from harness.engine.grade_pairing import MetricsCompat
from harness.engine.launch import launch_identity, open_store
from harness.engine.run import RunReporter, RunResult, claim_run_folder, keep_finished_run, run_tasks
from harness.errors import HarnessError
from harness.media.image import DEFAULT_MAX_IMAGE_PIXELS, image_pixel_budget
from harness.models import check_model_name, create_encoder, parse_model_args
from harness.results.output_folder import OutputFolder
from harness.taskspec import LoadedTask, Selection, TaskIndex
from harness.taskspec.run_overrides import with_audio_max_seconds
from harness.workers import Workers, cpu_main_threads, default_num_workers


class Reporter(RunReporter, AbstractContextManager[Any], Protocol):
    """What shows a run to a person: the engine's events, status lines, and a display that is
    started and stopped around the run (``with reporter:``); only the main process uses it."""

    def message(self, text: str) -> None:
        """Show one status line."""
        ...


TaskRequest = str | Path | LoadedTask
"""A task, group or tag name, a YAML path, or an already loaded (possibly changed) task."""

DEFAULT_RESULTS_DIR = Path("results")
"""Where a run writes when no output path is given: ``results/<checkpoint or model>``."""


def evaluate(
    model: str,
    model_args: Mapping[str, Any] | str | None = None,
    tasks: Sequence[TaskRequest] | str | Selection = (),
    *,
    data_basedir: Path | str = ".",
    output_path: Path | str | None = None,
    batch_size: int = 16,
    limit: int | None = None,
    data_source: DataSourceMode = "auto",
    predictions: Literal["topk", "full"] = "topk",
    top_k: int = 10,
    device: str = "auto",
    include_paths: Sequence[Path | str] = (),
    index: TaskIndex | None = None,
    overwrite: bool = False,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    audio_max_seconds: float | None = None,
    dist_timeout: float = 60.0,
    cache_dir: Path | str | None = None,
    use_cache: bool = True,
    num_workers: int | None = None,
    max_batch_tokens: int | None = None,
    metrics_compat: MetricsCompat = "harness",
    reporter: Reporter | None = None,
    command: Sequence[str] | None = None,
) -> RunResult:
    """Evaluate ``model`` (an adapter name, see ``harness models``) on ``tasks``; write and return the results.

    ``model_args`` are the adapter's arguments (a mapping or ``"key=value,..."``); ``tasks`` are
    names, YAML paths or loaded tasks (a comma-separated string works too). Under torchrun every
    rank calls this; rank 0 writes, the other ranks return a result with ``is_main`` False.
    ``dist_timeout`` is in minutes. Embeddings are cached under ``cache_dir`` (default: the user
    cache folder, see :func:`harness.cache.default_cache_dir`) unless ``use_cache`` is False. Bad
    input raises :class:`harness.errors.HarnessError` with a one-line message, before the model
    loads whenever it can be known then. ``num_workers`` preprocessing processes prepare batches
    ahead of the model (default :func:`harness.workers.default_num_workers` for the device the
    model loads on); ``max_batch_tokens`` caps a batch's padded tokens. ``metrics_compat``
    ``"reference"`` scores graded qrels with the reference's grade pairing (see
    :mod:`harness.engine.grade_pairing`). ``audio_max_seconds`` (the reference's
    ``--audio_max_seconds``) replaces ``audio.max_seconds`` in every selected task that reads audio
    (:func:`harness.taskspec.run_overrides.with_audio_max_seconds`) and is recorded in the run file.
    """
    _check_options(batch_size=batch_size, limit=limit, top_k=top_k, dist_timeout=dist_timeout)
    _check_throughput(num_workers=num_workers, max_batch_tokens=max_batch_tokens)
    _check_metrics_compat(metrics_compat)
    check_model_name(model)
    arguments = parse_model_args(model_args) if isinstance(model_args, str) else dict(model_args or {})
    index = index if index is not None else TaskIndex(include_paths=[Path(p) for p in include_paths])
    selection = with_audio_max_seconds(select_tasks(index, tasks), audio_max_seconds)
    options = EvalOptions(
        data_basedir=Path(data_basedir).resolve(),
        output_dir=Path(output_path) if output_path is not None else default_output_path(model, arguments),
        batch_size=batch_size,
        limit=limit,
        data_source=data_source,
        predictions=predictions,
        top_k=top_k,
        max_batch_tokens=max_batch_tokens,
        metrics_compat=metrics_compat,
        audio_max_seconds=audio_max_seconds,
    )
    run_command = list(sys.argv if command is None else command)
    with _world(device, dist_timeout) as (world, rank_device_name):
        folder = _claim(model, arguments, selection, options, run_command, world, overwrite=overwrite)
        try:
            shown = reporter if world.is_main else None
            with image_pixel_budget(max_image_pixels), shown if shown is not None else nullcontext():
                if shown is not None:
                    where = f" on {world.world_size} processes" if world.world_size > 1 else ""
                    settings = ", ".join(f"{k}={v}" for k, v in arguments.items()) or "defaults"
                    shown.message(f"model {model} ({settings}){where}")
                with open_store(cache_dir, use_cache) as store:
                    digests = store if store is not None else DirectDigests()
                    launch = launch_identity(model, arguments, device, digests) if world.is_main else None
                    kept = keep_finished_run(index, selection, options, run_command, world, folder, launch, shown)
                    if kept is not None:  # every task finished earlier: the model is not even loaded
                        return kept
                    encoder = create_encoder(model, arguments, rank_device_name)
                    facts = encoder_metadata(encoder)
                    options = replace(options, workers=_workers(num_workers, facts.device or rank_device_name))
                    identity = encoder_identity(facts, digests)
                    cache = _run_cache(store, identity, shown)
                    if folder is not None:
                        folder.set_identities(identity, launch)
                    return run_tasks(
                        index, selection, model, encoder, options, run_command, shown, world, folder, cache, identity
                    )
        finally:
            if folder is not None:
                folder.release()


def _run_cache(store: EmbeddingStore | None, identity: str | None, reporter: Reporter | None) -> RunCache | None:
    """The store keyed by the encoder's identity; None without a store or an identity (said once)."""
    if store is None:
        return None
    if identity is None:
        print(
            "note: embeddings are not cached: the encoder names neither a hub commit nor local weight files",
            file=sys.stderr,
        )
        return None
    if reporter is not None:
        reporter.message(f"embedding cache: {getattr(store, 'root', store)}")
    return RunCache(store, identity)


def select_tasks(index: TaskIndex, tasks: Sequence[TaskRequest] | str | Selection) -> Selection:
    """The leaf tasks (in run order) and groups that ``tasks`` names; an empty request is an error."""
    if isinstance(tasks, Selection):
        selection = tasks
    else:
        requested = [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else list(tasks)
        names = [str(t) for t in requested if not isinstance(t, LoadedTask) and str(t).strip()]
        loaded = [t for t in requested if isinstance(t, LoadedTask)]
        selection = index.select(names)
        selection.tasks += [t for t in loaded if t.spec.task not in {s.spec.task for s in selection.tasks}]
    if not selection.tasks:
        raise HarnessError(f"no task selected (tasks: {tasks!r}); name tasks, groups or task files, e.g. mmeb_v2_image")
    return selection


def default_output_path(model: str, model_args: Mapping[str, Any]) -> Path:
    """``results/<name>``: a local checkpoint's folder name, or the hub id with ``/`` as ``_``."""
    name = str(model_args.get("pretrained", model))
    base = Path(name).name if Path(name).exists() else name
    return DEFAULT_RESULTS_DIR / re.sub(r"[^A-Za-z0-9._-]+", "_", base)


def _workers(num_workers: int | None, device: str) -> Workers:
    """Preprocessing workers for a model on ``device``: as asked, or the default; pinned memory on a
    GPU; on a CPU, the model's threads leave the workers their cores."""
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if launched_by_torchrun() else 1
    count = num_workers if num_workers is not None else default_num_workers(device, local_processes=local_processes)
    if device.startswith("cuda"):
        return Workers(num_workers=count, pin_memory=True)
    threads = cpu_main_threads(count, local_processes=local_processes) if count else None
    return Workers(num_workers=count, main_threads=threads)


def _check_metrics_compat(metrics_compat: str) -> None:
    if metrics_compat not in get_args(MetricsCompat):
        raise HarnessError(
            f"metrics_compat must be one of {', '.join(get_args(MetricsCompat))} (got {metrics_compat!r})"
        )


def _check_throughput(*, num_workers: int | None, max_batch_tokens: int | None) -> None:
    if num_workers is not None and num_workers < 0:
        raise HarnessError(f"num_workers must be >= 0 (got {num_workers})")
    if max_batch_tokens is not None and max_batch_tokens < 1:
        raise HarnessError(f"max_batch_tokens must be >= 1 (got {max_batch_tokens})")


def _check_options(*, batch_size: int, limit: int | None, top_k: int, dist_timeout: float) -> None:
    if batch_size < 1:
        raise HarnessError(f"batch_size must be >= 1 (got {batch_size})")
    if limit is not None and limit < 1:
        raise HarnessError(f"limit must be >= 1 (got {limit})")
    if top_k < 1:
        raise HarnessError(f"top_k must be >= 1 (got {top_k})")
    if dist_timeout <= 0:
        raise HarnessError(f"dist_timeout must be > 0 minutes (got {dist_timeout})")


@contextmanager
def _world(device: str, timeout_minutes: float) -> Iterator[tuple[World, str]]:
    """The process group under torchrun (joined here unless a caller joined it), else the one-process
    world; and this process's device."""
    if not launched_by_torchrun():
        yield SINGLE_PROCESS, device
        return
    rank_device_name = rank_device(device, int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["WORLD_SIZE"]))
    owns = not world_joined()
    world = init_world(rank_device_name, timeout_minutes)
    if not owns:  # an outer runner (the modality runner) joined it and leaves it
        yield world, rank_device_name
        return
    try:
        yield world, rank_device_name
    except BaseException:
        close_world(world, wait_for_all=False)
        raise
    close_world(world, wait_for_all=True)


def _claim(
    model: str,
    model_args: dict[str, Any],
    selection: Selection,
    options: EvalOptions,
    command: Sequence[str],
    world: World,
    *,
    overwrite: bool,
) -> OutputFolder | None:
    """Claim the output folder on the writing process; every process learns the outcome (one
    process: its own error is raised as it is)."""
    folder: OutputFolder | None = None
    error: HarnessError | None = None
    if world.is_main:
        try:
            folder = claim_run_folder(model, model_args, selection, options, command, overwrite=overwrite)
        except HarnessError as caught:
            error = caught
    world.check("preparing the output folder", error)
    return folder
