"""The MMEB aggregation rules, written once: how task scores become group, meta-task, modality
and overall scores.

Every aggregate is an unweighted mean of main scores (fractions in [0, 1]):

- **overall**: the mean over all tasks, not over modalities (the MMEB "All" column);
- **modality**: the mean over the tasks of that modality;
- **meta-task**: the mean over the tasks labelled with it (the label comes from the meta-task
  group file that lists the task; see :meth:`harness.taskspec.TaskIndex.meta_task_of`);
- **group**: by the group's own rule, ``mean_of_tasks`` (its leaf tasks) or
  ``mean_of_children`` (its direct members' scores); None unless every needed score is there.

The run file (:mod:`harness.results.run_file`) and the leaderboard's checks
(:mod:`harness.leaderboard.checks`) both compute their aggregates here, so a stored aggregate is
always checked against the rule that produced it. No torch, no task files: callers pass plain
values.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

GroupAggregate = Literal["mean_of_tasks", "mean_of_children"]


@dataclass(frozen=True)
class TaskMain:
    """What aggregation needs of one task: its modality, meta-task and main score."""

    modality: str
    meta_task: str | None
    main_score: float


@dataclass(frozen=True)
class Means:
    """The task-level means of a set of tasks."""

    overall: float | None
    """Mean over all tasks (None for no task)."""
    modalities: dict[str, float]
    """Mean over each modality's tasks, keys sorted."""
    meta_tasks: dict[str, float]
    """Mean over each meta-task's tasks (tasks without one are left out), keys sorted."""


@dataclass(frozen=True)
class GroupRule:
    """How one group (or tag) is scored: its rule, its direct members and its leaf tasks."""

    aggregate: GroupAggregate
    members: tuple[str, ...]
    leaves: tuple[str, ...]


def mean_or_none(values: Iterable[float]) -> float | None:
    """Unweighted mean, or None for no values."""
    collected = list(values)
    return statistics.fmean(collected) if collected else None


def task_means(tasks: Mapping[str, TaskMain]) -> Means:
    """Overall, per-modality and per-meta-task means of ``tasks``."""
    return Means(
        overall=mean_or_none(task.main_score for task in tasks.values()),
        modalities=_means_by((task.modality, task.main_score) for task in tasks.values()),
        meta_tasks=_means_by((task.meta_task, task.main_score) for task in tasks.values()),
    )


def group_score(name: str, rules: Mapping[str, GroupRule], scores: Mapping[str, float]) -> float | None:
    """The score of group ``name`` by its rule; a name without a rule is a task (its own score).

    None unless every score the rule needs is present (a partial run has no group score).
    """
    rule = rules.get(name)
    if rule is None:
        return scores.get(name)
    if rule.aggregate == "mean_of_tasks":
        if any(leaf not in scores for leaf in rule.leaves):
            return None
        return mean_or_none(scores[leaf] for leaf in rule.leaves)
    children = [group_score(member, rules, scores) for member in rule.members]
    if any(child is None for child in children):
        return None
    return mean_or_none(child for child in children if child is not None)


def _means_by(pairs: Iterable[tuple[str | None, float]]) -> dict[str, float]:
    buckets: dict[str, list[float]] = {}
    for key, value in pairs:
        if key is not None:
            buckets.setdefault(key, []).append(value)
    return {key: statistics.fmean(values) for key, values in sorted(buckets.items())}
