"""Rules an entry must satisfy beyond its schema: aggregates that match the per-task scores.

The aggregation rule is the harness's (``harness.results.aggregation``): unweighted means of
main scores, overall over all tasks, modality over its tasks, meta-task over its tasks.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness.errors import HarnessError
from harness.leaderboard.display import printable
from harness.leaderboard.entry import Aggregates, LeaderboardEntry
from harness.results.aggregation import TaskMain, task_means

_TOLERANCE = 1e-9
"""Stored aggregates may differ from recomputed ones by float noise only."""
_LONGEST_NAME_SHOWN = 60
"""Characters of a field name quoted in an error before it is cut (keys come from strangers)."""


class EntryError(HarnessError):
    """An entry breaks a rule; the message names the field.

    The message is passed through :func:`~harness.leaderboard.display.printable`, so a field
    name or value from an entry can neither break it over lines nor drive the terminal.
    """

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


ModelT = TypeVar("ModelT", bound=BaseModel)


def validated(model: type[ModelT], payload: Any, where: str = "", strict: bool = False) -> ModelT:
    """``payload`` as ``model``; the first schema problem becomes an ``EntryError`` naming its field.

    ``where`` prefixes the field's path; ``strict`` refuses every type coercion (a boolean or a
    string where a number belongs) for models whose fields do not already say so.
    """
    try:
        return model.model_validate(payload, strict=True if strict else None)
    except ValidationError as error:
        first = error.errors()[0]
        parts = ([where] if where else []) + [_shortened(str(part)) for part in first["loc"]]
        path = ".".join(parts)
        raise EntryError(f"{path or '(top level)'}: {first['msg']}") from None


def _shortened(name: str) -> str:
    return name if len(name) <= _LONGEST_NAME_SHOWN else name[:_LONGEST_NAME_SHOWN] + "…"


def compute_aggregates(entry: LeaderboardEntry) -> Aggregates:
    """Overall, per-modality and per-meta-task means recomputed from the per-task main scores."""
    tasks = {task: TaskMain(modality, r.meta_task, r.main_score) for task, (modality, r) in entry.tasks().items()}
    means = task_means(tasks)
    return Aggregates(overall=means.overall, modalities=means.modalities, meta_tasks=means.meta_tasks)


def check_entry(entry: LeaderboardEntry) -> None:
    """Raise :class:`EntryError` naming the first field that breaks a rule."""
    if not printable(entry.model.name).strip():
        raise EntryError("model.name: no visible character (only spaces, controls or invisible characters)")
    seen: dict[str, str] = {}
    for modality, tasks in entry.scores.items():
        if not tasks:
            raise EntryError(f"scores.{modality}: no tasks")
        for task, result in tasks.items():
            if task in seen:
                raise EntryError(f"scores.{modality}.{task}: task also listed under scores.{seen[task]}")
            seen[task] = modality
            _check_task(f"scores.{modality}.{task}", result.main_metric, result.main_score, result.metrics)
    if not seen:
        raise EntryError("scores: the entry has no tasks")
    _check_aggregates(entry.aggregates, compute_aggregates(entry))


def _check_task(where: str, main_metric: str, main_score: float, metrics: dict[str, float]) -> None:
    if main_metric not in metrics:
        raise EntryError(f"{where}.main_metric: '{main_metric}' is not among its metrics")
    if metrics[main_metric] != main_score:
        raise EntryError(
            f"{where}.main_score: {main_score!r} does not equal metrics['{main_metric}'] = {metrics[main_metric]!r}"
        )
    for name, value in metrics.items():
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise EntryError(f"{where}.metrics.{name}: {value!r} is not a fraction in [0, 1]")


def _check_aggregates(stored: Aggregates, expected: Aggregates) -> None:
    _check_value("aggregates.overall", stored.overall, expected.overall)
    for field in ("modalities", "meta_tasks"):
        have: dict[str, float] = getattr(stored, field)
        want: dict[str, float] = getattr(expected, field)
        if set(have) != set(want):
            raise EntryError(f"aggregates.{field}: keys {sorted(have)} do not match the tasks' {sorted(want)}")
        for key, value in have.items():
            _check_value(f"aggregates.{field}.{key}", value, want[key])


def _check_value(where: str, stored: float | None, expected: float | None) -> None:
    if stored is None or expected is None:
        if stored is not expected:
            raise EntryError(f"{where}: {stored!r} but the per-task scores give {expected!r}")
        return
    if not abs(stored - expected) <= _TOLERANCE:  # written so that NaN is refused too
        raise EntryError(f"{where}: {stored!r} does not match the mean of its per-task scores ({expected!r})")
