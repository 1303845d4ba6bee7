"""Each query's main-metric value, recomputed from a task's ``{task}_pred.jsonl`` with the
harness's own per-query metric functions (:mod:`harness.metrics.ranking`).

A prediction row is what the engine writes: ``prediction`` (candidate ids, best first),
``label`` (the relevant ids) and ``rel_scores`` (their grades, or null for binary relevance,
where every grade is 1). A query's identity is a digest of its labels, grades and candidate
pool (``cand_names`` in ``{task}_info.jsonl``): two runs whose identities agree row by row
scored the same queries in the same order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.leaderboard.checks import EntryError
from harness.leaderboard.run_folder import jsonl_objects
from harness.metrics.ranking import (
    Gain,
    average_precision_at_k,
    f1_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from harness.results.files import task_paths

MetricFunction = Callable[[Sequence[str], Mapping[str, float], int], float]
"""A per-query metric: ``(ranking, relevance, k) -> value``."""


def _ndcg(gain: Gain) -> MetricFunction:
    def ndcg(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
        return ndcg_at_k(ranking, relevance, k, gain)

    return ndcg


METRIC_FUNCTIONS: dict[str, MetricFunction] = {
    "hit": hit_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
    "f1": f1_at_k,
    "map": average_precision_at_k,
    "mrr": reciprocal_rank_at_k,
    "ndcg_linear": _ndcg("linear"),
    "ndcg_exponential": _ndcg("exponential"),
}
"""The metric name's part before ``@k`` (as in score files) -> its per-query function."""


@dataclass(frozen=True)
class TaskQueries:
    """One task's queries in file order: main-metric values and identities."""

    values: np.ndarray
    """(n,) the main metric of each query."""
    identities: list[bytes]
    """Per query: SHA-256 of its labels, grades and candidate pool."""
    shortest_prediction: int
    """The fewest ranked ids any query's prediction kept (a top-k file keeps max(top_k, k))."""


def metric_function(name: str) -> tuple[MetricFunction, int]:
    """The per-query function and k of a metric named like ``hit@1`` or ``ndcg_linear@5``."""
    family, sep, k_text = name.rpartition("@")
    if not sep or family not in METRIC_FUNCTIONS or not k_text.isdigit() or int(k_text) < 1:
        known = ", ".join(METRIC_FUNCTIONS)
        raise EntryError(f"main metric {name[:60]!r}: not a per-query metric <family>@<k> (families: {known})")
    return METRIC_FUNCTIONS[family], int(k_text)


def read_task_queries(folder: Path, task: str, metric: str) -> TaskQueries:
    """``metric`` for every query of ``task`` in run folder ``folder``, and each query's identity."""
    function, k = metric_function(metric)
    paths = task_paths(folder, task)
    values: list[float] = []
    keys: list[tuple[list[str], list[float] | None]] = []
    shortest: int | None = None
    for where, row in jsonl_objects(paths["pred"]):
        ranking, labels, grades = _prediction(where, row)
        relevance = dict(zip(labels, grades, strict=True)) if grades is not None else dict.fromkeys(labels, 1.0)
        values.append(function(ranking[:k], relevance, k))
        keys.append((labels, grades))
        shortest = len(ranking) if shortest is None else min(shortest, len(ranking))
    if not values:
        raise EntryError(f"{paths['pred']}: no prediction rows")
    pools = [_ids(where, row, "cand_names") for where, row in jsonl_objects(paths["info"])]
    if len(pools) != len(values):
        raise EntryError(f"{paths['info']}: {len(pools)} rows but {paths['pred'].name} has {len(values)}")
    identities = [
        hashlib.sha256(json.dumps([labels, grades, pool]).encode("utf-8")).digest()
        for (labels, grades), pool in zip(keys, pools, strict=True)
    ]
    values_array = np.asarray(values, dtype=np.float64)
    return TaskQueries(values=values_array, identities=identities, shortest_prediction=shortest or 0)


def _prediction(where: str, row: dict[str, Any]) -> tuple[list[str], list[str], list[float] | None]:
    ranking = _ids(where, row, "prediction")
    labels = _ids(where, row, "label")
    grades = row.get("rel_scores")
    if grades is None:
        return ranking, labels, None
    if not isinstance(grades, list) or not all(_is_number(g) for g in grades):
        raise EntryError(f"{where}: rel_scores: expected null or a list of numbers")
    if len(grades) != len(labels):
        raise EntryError(f"{where}: rel_scores: {len(grades)} grades for {len(labels)} labels")
    return ranking, labels, [float(g) for g in grades]


def _ids(where: str, row: dict[str, Any], key: str) -> list[str]:
    value = row.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise EntryError(f"{where}: {key}: expected a list of candidate ids (strings)")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
