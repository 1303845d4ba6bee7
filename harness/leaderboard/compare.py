"""Per-task differences between two entries."""

from __future__ import annotations

from dataclasses import dataclass

from harness.leaderboard.entry import LeaderboardEntry


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
