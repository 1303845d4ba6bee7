"""Per-task differences: between two entries, and between our scores and published ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.leaderboard.entry import LeaderboardEntry
from harness.leaderboard.score_table import ScoreTable, TaskScores
from harness.results.aggregation import TaskMain, task_means


@dataclass(frozen=True)
class Delta:
    """One task (or aggregate) in both entries: scores and B − A."""

    name: str
    kind: str  # "task", "meta_task", "modality" or "overall"
    a: float
    b: float
    note: str = ""

    @property
    def delta(self) -> float:
        """B minus A."""
        return self.b - self.a


@dataclass
class Comparison:
    """Deltas on shared tasks and aggregates, and the tasks only one side has."""

    deltas: list[Delta]
    only_a: list[str]
    only_b: list[str]


def compare_entries(a: LeaderboardEntry, b: LeaderboardEntry) -> Comparison:
    """Shared tasks in A's order, then shared meta-tasks, modalities and overall."""
    tasks_a, tasks_b = a.tasks(), b.tasks()
    deltas: list[Delta] = []
    for task, (_modality, result_a) in tasks_a.items():
        if task not in tasks_b:
            continue
        result_b = tasks_b[task][1]
        note = ""
        if result_a.task_version != result_b.task_version:
            note = f"task version {result_a.task_version} vs {result_b.task_version}"
        if result_a.main_metric != result_b.main_metric:
            note = f"main metric {result_a.main_metric} vs {result_b.main_metric}"
        deltas.append(Delta(task, "task", result_a.main_score, result_b.main_score, note))
    for kind, have_a, have_b in (
        ("meta_task", a.aggregates.meta_tasks, b.aggregates.meta_tasks),
        ("modality", a.aggregates.modalities, b.aggregates.modalities),
    ):
        deltas += [Delta(name, kind, value, have_b[name]) for name, value in have_a.items() if name in have_b]
    if a.aggregates.overall is not None and b.aggregates.overall is not None:
        deltas.append(Delta("overall", "overall", a.aggregates.overall, b.aggregates.overall))
    return Comparison(
        deltas=deltas,
        only_a=[t for t in tasks_a if t not in tasks_b],
        only_b=[t for t in tasks_b if t not in tasks_a],
    )


@dataclass(frozen=True)
class TaskGap:
    """One task on both sides of a score comparison: ours, theirs and the gap (ours - theirs)."""

    task: str
    modality: str
    meta_task: str | None
    metric: str
    ours: float
    theirs: float
    num_ours: int | None
    num_theirs: int | None
    note: str = ""
    """What differs besides the score (query counts, main metric), or empty."""

    @property
    def gap(self) -> float:
        """Ours minus theirs."""
        return self.ours - self.theirs


@dataclass(frozen=True)
class MeanGap:
    """A like-for-like mean over the tasks both sides have (overall, a modality or a meta-task)."""

    name: str
    kind: str  # "overall", "modality" or "meta_task"
    tasks: int
    ours: float
    theirs: float

    @property
    def gap(self) -> float:
        """Ours minus theirs."""
        return self.ours - self.theirs


@dataclass
class ScoreComparison:
    """Per-task gaps (largest |gap| first), means over the shared tasks, and what only one side has."""

    ours: str
    theirs: str
    tasks: list[TaskGap]
    means: list[MeanGap]
    only_ours: list[str]
    only_theirs: list[str]
    notes: list[str]


def compare_tables(ours: ScoreTable, theirs: ScoreTable) -> ScoreComparison:
    """Our main score of every task against theirs, on our main metric; means over the shared tasks only.

    A task whose other side lacks our main metric is listed as only ours, with a note. Modalities and
    meta-tasks are ours (a note names a task the other side files elsewhere).
    """
    gaps: list[TaskGap] = []
    notes = [*ours.notes, *theirs.notes]
    for side in (ours, theirs):
        if side.limit is not None:
            notes.append(
                f"{side.label}: rows were limited to {side.limit} per task (--limit), so its scores are not "
                "comparable to full-dataset numbers; shown all the same"
            )
    missing_metric: list[str] = []
    for task, mine in ours.tasks.items():
        other = theirs.tasks.get(task)
        if other is None:
            continue
        value = other.metrics.get(mine.main_metric)
        if value is None:
            missing_metric.append(task)
            notes.append(f"{task}: the other side has no {mine.main_metric} (its main metric is {other.main_metric})")
            continue
        gaps.append(
            TaskGap(
                task,
                mine.modality,
                mine.meta_task,
                mine.main_metric,
                mine.main_score,
                value,
                mine.num_queries,
                other.num_queries,
                _task_note(mine, other),
            )
        )
    gaps.sort(key=lambda g: (-abs(g.gap), g.task))
    return ScoreComparison(
        ours=ours.label,
        theirs=theirs.label,
        tasks=gaps,
        means=shared_means(gaps),
        only_ours=[t for t in ours.tasks if t not in theirs.tasks or t in missing_metric],
        only_theirs=[t for t in theirs.tasks if t not in ours.tasks],
        notes=notes,
    )


def _task_note(mine: TaskScores, other: TaskScores) -> str:
    parts = []
    if mine.num_queries is not None and other.num_queries is not None and mine.num_queries != other.num_queries:
        parts.append(f"num_data {mine.num_queries} vs {other.num_queries}")
    if mine.main_metric != other.main_metric:
        parts.append(f"their main metric is {other.main_metric}")
    if mine.modality != other.modality or mine.meta_task != other.meta_task:
        parts.append(f"theirs under {other.modality}/{other.meta_task}")
    return "; ".join(parts)


def shared_means(gaps: Sequence[TaskGap]) -> list[MeanGap]:
    """Overall, per-modality and per-meta-task means of both sides over exactly the tasks in ``gaps``."""
    ours = task_means({g.task: TaskMain(g.modality, g.meta_task, g.ours) for g in gaps})
    theirs = task_means({g.task: TaskMain(g.modality, g.meta_task, g.theirs) for g in gaps})
    counts: dict[tuple[str, str], int] = {}
    for g in gaps:
        counts[("modality", g.modality)] = counts.get(("modality", g.modality), 0) + 1
        if g.meta_task is not None:
            counts[("meta_task", g.meta_task)] = counts.get(("meta_task", g.meta_task), 0) + 1
    means: list[MeanGap] = []
    if ours.overall is not None and theirs.overall is not None:
        means.append(MeanGap("overall", "overall", len(gaps), ours.overall, theirs.overall))
    for kind, have, want in (
        ("modality", ours.modalities, theirs.modalities),
        ("meta_task", ours.meta_tasks, theirs.meta_tasks),
    ):
        means += [MeanGap(name, kind, counts[(kind, name)], value, want[name]) for name, value in have.items()]
    return means
