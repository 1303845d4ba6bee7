"""Turn a ``harness run`` results file (schema 1.x) into a leaderboard entry (schema 2.0).

The run file keeps tasks flat with a modality field; the entry nests them by modality and
names its benchmark. The run's own aggregates are checked against its tasks first, so a
tampered results file is refused rather than silently recomputed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.leaderboard.checks import EntryError, compute_aggregates, validated
from harness.leaderboard.entry import Aggregates, Benchmark, LeaderboardEntry, ModelCard, Provenance, TaskResult
from harness.leaderboard.json_input import check_values
from harness.results.aggregation import task_means
from harness.results.run_file import RunFile, TaskScore, task_mains

_TOLERANCE = 1e-9
"""Stored aggregates may differ from recomputed ones by float noise only."""

RUN_SCHEMA_VERSIONS = ("1.0",)
"""Results-file versions written by ``harness run`` that this module migrates."""


def migrate_run_entry(
    payload: dict[str, Any], benchmark: Benchmark | None = None, model_name: str | None = None
) -> LeaderboardEntry:
    """A 2.0 entry from a run's results payload; the benchmark is inferred from its groups if not given.

    The run file is validated strictly (no NaN or infinity, no boolean or string where a number
    belongs), as entries are.
    """
    check_values(payload)
    run = validated(RunFile, payload, strict=True)
    _check_run_aggregates(run)
    if run.run.limit is not None:
        raise EntryError(f"run.limit: the run was partial (--limit {run.run.limit}); only full runs can be added")
    if run.run.metrics_compat != "harness":
        raise EntryError(
            f"run.metrics_compat: the run scored graded qrels with the reference's grade pairing "
            f"(--metrics_compat {run.run.metrics_compat}); entries hold the harness's scores, so rerun without it"
        )
    for task, score in run.tasks.items():
        if score.degenerate_sides:
            sides = " and ".join(score.degenerate_sides)
            raise EntryError(
                f"tasks.{task}.degenerate_sides: the {sides} embeddings do not depend on the input, "
                "so the scores say nothing about the model"
            )
    scores: dict[str, dict[str, TaskResult]] = {}
    for task, score in run.tasks.items():
        scores.setdefault(score.modality, {})[task] = _task_result(task, score)
    meta = run.model.adapter_metadata
    card = {
        "name": model_name or default_model_name(run.model.name, meta.pretrained),
        "revision": meta.resolved_revision or meta.revision,
        "adapter": meta.adapter or run.model.name,
        "settings": meta.settings or {},
        "dtype": meta.dtype,
        "num_parameters": meta.num_parameters,
    }
    provenance = {
        "kind": "harness_run",
        "date": run.run.finished_at or run.created_at,
        "harness_version": run.harness.version,
        "harness_commit": run.harness.git_commit,
        "python": run.harness.python,
        "packages": run.harness.packages,
        "hardware": " / ".join(str(part) for part in (meta.device, meta.device_name) if part) or None,
        "command": run.run.command,
        "data_source": run.run.data_source,
    }
    entry = validated(
        LeaderboardEntry,
        {
            "benchmark": benchmark or infer_benchmark(run),
            "model": validated(ModelCard, card, where="model.adapter_metadata"),
            "provenance": validated(Provenance, provenance, where="run"),
            "scores": scores,
            "aggregates": Aggregates(overall=None, modalities={}, meta_tasks={}),
        },
    )
    entry.aggregates = compute_aggregates(entry)
    return entry


def _task_result(task: str, score: TaskScore) -> TaskResult:
    fields = {
        "task_version": score.version,
        "meta_task": score.meta_task,
        "main_metric": score.main_metric,
        "main_score": score.main_score,
        "metrics": score.metrics,
        "num_queries": score.num_queries,
        "dataset_revision": score.dataset.get("revision"),
        "dataset": score.dataset,
    }
    return validated(TaskResult, fields, where=f"tasks.{task}")


def _check_run_aggregates(run: RunFile) -> None:
    means = task_means(task_mains(run.tasks))
    expected: dict[str, Any] = {
        "overall": means.overall,
        "modalities": means.modalities,
        "meta_tasks": means.meta_tasks,
    }
    for field, want in expected.items():
        have = getattr(run, field)
        if isinstance(want, dict):
            bad = [k for k in set(want) | set(have) if k not in want or k not in have or not _close(have[k], want[k])]
            if bad:
                key = sorted(bad)[0]
                stored, expected_value = have.get(key), want.get(key)
                raise EntryError(
                    f"{field}.{key}: {stored!r} does not match the mean of its per-task scores ({expected_value!r})"
                )
        elif (have is None) != (want is None) or (have is not None and not _close(have, want)):
            raise EntryError(f"{field}: {have!r} does not match the mean of its per-task scores ({want!r})")


def _close(have: float, want: float) -> bool:
    return abs(have - want) <= _TOLERANCE  # False for NaN, so NaN never matches


def infer_benchmark(run: RunFile) -> Benchmark:
    """The complete group of the run that covers exactly its tasks, as ``group@version``."""
    tasks = set(run.tasks)
    matches = [(name, g.version) for name, g in run.groups.items() if g.complete and set(g.tasks) == tasks]
    if len(matches) != 1:
        found = ", ".join(f"{n}@{v}" for n, v in matches) or "no group covers exactly the run's tasks"
        raise EntryError(f"benchmark: cannot tell which benchmark this run is ({found}); pass --benchmark NAME@VERSION")
    name, version = matches[0]
    return validated(Benchmark, {"name": name, "version": version}, where=f"groups.{name}")


def default_model_name(registry_name: str, pretrained: str | None) -> str:
    """The checkpoint as given (a hub id), or the last two parts of a local path."""
    if not pretrained:
        return registry_name
    path = Path(pretrained)
    if path.is_absolute() or pretrained.startswith(".") or len(path.parts) > 2:
        return "/".join(path.parts[-2:])
    return pretrained
