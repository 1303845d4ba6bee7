"""One side of a score comparison: per-task main scores, whatever file they came from.

A run folder, a run file (schema 1.0), an entry (schema 2.0) and an imported reference score
file all become a :class:`ScoreTable`, so the comparison itself never asks where the numbers
came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.leaderboard.entry import LeaderboardEntry
from harness.results.run_file import RunFile


@dataclass(frozen=True)
class TaskScores:
    """One task on one side: where it belongs, its main metric and every metric reported."""

    modality: str
    meta_task: str | None
    main_metric: str
    main_score: float
    metrics: Mapping[str, float]
    num_queries: int | None
    """Queries scored (``num_data`` in the reference's files), when known."""


@dataclass(frozen=True)
class ScoreTable:
    """The tasks of one side of a comparison."""

    label: str
    """How the side is named in titles: the model and where the numbers come from."""
    tasks: dict[str, TaskScores]
    limit: int | None = None
    """Rows per task were capped at this number (``--limit``) when set: not full-dataset scores."""
    notes: list[str] = field(default_factory=list)
    """What a reader should know about these numbers (an unfinished run ...)."""


def table_from_entry(entry: LeaderboardEntry, source: str) -> ScoreTable:
    """The tasks of a validated entry; ``source`` says which file or folder entry it is."""
    tasks = {
        task: TaskScores(
            modality=modality,
            meta_task=result.meta_task,
            main_metric=result.main_metric,
            main_score=result.main_score,
            metrics=dict(result.metrics),
            num_queries=result.num_queries,
        )
        for task, (modality, result) in entry.tasks().items()
    }
    label = f"{entry.model.name} ({entry.benchmark.key()}, {entry.provenance.kind}: {source})"
    return ScoreTable(label=label, tasks=tasks)


def table_from_run(run: RunFile, source: str) -> ScoreTable:
    """The tasks of a validated run file (a partial run included, its row limit kept)."""
    tasks = {
        task: TaskScores(
            modality=score.modality,
            meta_task=score.meta_task,
            main_metric=score.main_metric,
            main_score=score.main_score,
            metrics=dict(score.metrics),
            num_queries=score.num_queries,
        )
        for task, score in run.tasks.items()
    }
    checkpoint = run.model.adapter_metadata.pretrained or run.model.name
    return ScoreTable(label=f"{checkpoint} (run: {source})", tasks=tasks, limit=run.run.limit)
