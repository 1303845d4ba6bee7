"""Two of our runs compared query by query: which differences are real.

Each task both runs have is paired when both scored the same queries in the same order (equal
query identities row by row, see :mod:`harness.leaderboard.per_query`) on the same main metric.
Its per-query values are recomputed from the prediction files and must reproduce the score file's
main score; then :mod:`harness.leaderboard.significance` gives the bootstrap interval and the
sign-flip p-value of B - A. The overall, per-modality and per-meta-task means are tested over the
paired tasks, stratified by task.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from harness.leaderboard.per_query import TaskQueries, read_task_queries
from harness.leaderboard.run_folder import RunFolder
from harness.leaderboard.significance import Draws, PairedTest, draw, mean_of_tasks, paired_test

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_ALPHA = 0.05
_REPRODUCED = 1e-9
"""Per-query means may differ from the score file's value by float noise only."""


@dataclass(frozen=True)
class PairedTask:
    """One task of both runs: main scores (from the run files), and the paired test when there is one."""

    task: str
    modality: str
    meta_task: str | None
    metric: str
    a: float
    b: float
    num_a: int
    num_b: int
    test: PairedTest | None
    note: str = ""
    """Why the task was not paired, or what a reader should know about its test."""

    @property
    def difference(self) -> float:
        """B minus A."""
        return self.b - self.a


@dataclass(frozen=True)
class PairedMean:
    """A mean over the paired tasks (overall, a modality or a meta-task), tested stratified by task."""

    name: str
    kind: str
    tasks: int
    a: float
    b: float
    test: PairedTest


@dataclass
class RunComparison:
    """Both runs task by task (largest |B - A| first), the tested means, and what only one run has."""

    a: str
    b: str
    tasks: list[PairedTask]
    means: list[PairedMean]
    only_a: list[str]
    only_b: list[str]
    resamples: int
    seed: int
    alpha: float
    notes: list[str] = field(default_factory=list)


def task_rng(seed: int, task: str) -> np.random.Generator:
    """The generator of one task: the seed and the task name, so other tasks never shift its draws."""
    key = int.from_bytes(hashlib.sha256(task.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng([seed, key])


def compare_runs(
    a: RunFolder,
    b: RunFolder,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = DEFAULT_ALPHA,
) -> RunComparison:
    """Pair, test and order every task both runs have (largest |B - A| first)."""
    rows: list[PairedTask] = []
    draws: dict[str, Draws] = {}
    for task, score_a in a.run.tasks.items():
        score_b = b.run.tasks.get(task)
        if score_b is None:
            continue
        task_draws, note = _paired_draws(a, b, task, resamples, seed)
        test = None
        if task_draws is not None:
            draws[task] = task_draws
            test = paired_test(task_draws, alpha)
        rows.append(
            PairedTask(
                task, score_a.modality, score_a.meta_task, score_a.main_metric, score_a.main_score,
                score_b.main_score, score_a.num_queries, score_b.num_queries, test, note,
            )
        )  # fmt: skip
    rows.sort(key=lambda r: (-abs(r.difference), r.task))
    notes = []
    unpaired = [r.task for r in rows if r.test is None]
    if unpaired:
        notes.append(f"means and their tests are over the {len(draws)} paired tasks; not paired: {', '.join(unpaired)}")
    if a.run.run.limit != b.run.run.limit:
        notes.append(f"row limits differ: A {a.run.run.limit}, B {b.run.run.limit} (None: every row)")
    compat = {a.run.run.metrics_compat, b.run.run.metrics_compat}
    if compat != {"harness"}:  # per-query values are recomputed with each grade paired to its document
        notes.append(
            f"--metrics_compat: A {a.run.run.metrics_compat}, B {b.run.run.metrics_compat}; the per-query "
            "values (intervals, tests) pair grades with their documents, so on graded tasks they may not "
            "reproduce a reference-paired score"
        )
    return RunComparison(
        a=a.table.label,
        b=b.table.label,
        tasks=rows,
        means=_means([r for r in rows if r.test is not None], draws, alpha),
        only_a=[t for t in a.run.tasks if t not in b.run.tasks],
        only_b=[t for t in b.run.tasks if t not in a.run.tasks],
        resamples=resamples,
        seed=seed,
        alpha=alpha,
        notes=notes,
    )


def _paired_draws(a: RunFolder, b: RunFolder, task: str, resamples: int, seed: int) -> tuple[Draws | None, str]:
    """The task's draws of B - A and a note; no draws (and the reason) when it cannot be paired."""
    score_a, score_b = a.run.tasks[task], b.run.tasks[task]
    metric = score_a.main_metric
    if metric != score_b.main_metric:
        return None, f"not paired: main metric {metric} vs {score_b.main_metric}"
    queries_a, queries_b = read_task_queries(a.path, task, metric), read_task_queries(b.path, task, metric)
    problem = _pairing_problem(queries_a, queries_b)
    if problem:
        return None, problem
    notes = [
        _unreproduced(side, queries, score.main_score, metric)
        for side, queries, score in (("A", queries_a, score_a), ("B", queries_b, score_b))
    ]
    differences = queries_b.values - queries_a.values
    return draw(differences, resamples, task_rng(seed, task)), "; ".join(n for n in notes if n)


def _pairing_problem(a: TaskQueries, b: TaskQueries) -> str:
    if len(a.values) != len(b.values):
        return f"not paired: {len(a.values)} vs {len(b.values)} queries"
    for index, (mine, theirs) in enumerate(zip(a.identities, b.identities, strict=True)):
        if mine != theirs:
            return f"not paired: query {index + 1} differs (labels or candidates), so the queries are not the same"
    return ""


def _unreproduced(side: str, queries: TaskQueries, score: float, metric: str) -> str:
    mean = float(np.mean(queries.values))
    if abs(mean - score) <= _REPRODUCED:
        return ""
    _, _, k = metric.rpartition("@")
    shallow = queries.shortest_prediction < int(k)
    why = f" (predictions keep {queries.shortest_prediction} ids, fewer than k={k})" if shallow else ""
    return f"{side}: per-query {metric} mean {mean:.6f} does not reproduce the score file's {score:.6f}{why}"


def _means(rows: list[PairedTask], draws: dict[str, Draws], alpha: float) -> list[PairedMean]:
    groups: dict[tuple[str, str], list[PairedTask]] = {}
    for row in rows:
        groups.setdefault(("modality", row.modality), []).append(row)
        if row.meta_task is not None:
            groups.setdefault(("meta_task", row.meta_task), []).append(row)
    by_kind = sorted(groups.items(), key=lambda item: (item[0][0] != "modality", item[0][1]))
    ordered = ([(("overall", "overall"), rows)] if rows else []) + by_kind
    return [
        PairedMean(
            name,
            kind,
            len(members),
            float(np.mean([r.a for r in members])),
            float(np.mean([r.b for r in members])),
            paired_test(mean_of_tasks([draws[r.task] for r in members]), alpha),
        )
        for (kind, name), members in ordered
    ]
