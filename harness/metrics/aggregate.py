"""Task-level scores: plain means of the per-query metrics, keyed ``<metric>@<k>``.

Calling the per-query functions in ``ranking`` for every (metric, k, query) is too slow
for large tasks, so each query's top list is turned once into a padded row of
membership flags and gains, and every metric is then computed for all queries at once
with numpy. The arithmetic is kept in the same order as the per-query functions (same
divisions, left-to-right running sums, discounts from ``math.log2``) so the two agree to
the last bit; the tests cross-check them on random rankings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from harness.metrics.ranking import DEFAULT_K, METRIC_FAMILIES

_GAINS = ("linear", "exponential")

Definitions = Literal["vlm2vec-6e1e1d4", "vlm2vec-44f991d"]
"""The reference commits whose metric definitions are reproduced."""
DEFINITIONS: tuple[str, ...] = get_args(Definitions)


@dataclass(frozen=True)
class _Table:
    """Per-query running totals; column ``col(k)`` covers the first ``k`` ranked ids."""

    width: int  # columns kept: the longest top or ideal list, at most max(k)
    n_relevant: np.ndarray  # (n,) |R| per query
    distinct_hits: np.ndarray  # (n, width) relevant ids counted once, as set-based metrics do
    ap_sums: np.ndarray  # (n, width) average-precision numerators, duplicates counted again
    first_hit: np.ndarray  # (n,) 1-based rank of the first relevant id; 0 when none
    dcg: dict[str, np.ndarray]  # gain form -> (n, width)
    idcg: dict[str, np.ndarray]  # gain form -> (n, width)

    def col(self, k: int) -> int:
        # Past the longest list the running totals no longer change.
        return min(k, self.width) - 1


def _pad(rows: Sequence[Sequence[float]], width: int) -> np.ndarray:
    # Zero padding leaves running sums unchanged: x + 0.0 == x exactly.
    padded = [list(row) + [0.0] * (width - len(row)) for row in rows]
    return np.array(padded, dtype=np.float64).reshape(len(rows), width)


def _gain_rows(grades: list[list[float]], width: int) -> dict[str, np.ndarray]:
    # Gains and discounts come from Python arithmetic, as in ranking._dcg, rather than
    # numpy's vectorised pow/log2 whose last bit may differ.
    discounts = np.array([math.log2(i + 2) for i in range(width)])
    linear = _pad(grades, width)
    exponential = _pad([[2**g - 1 for g in row] for row in grades], width)
    return {
        "linear": np.cumsum(linear / discounts, axis=1),
        "exponential": np.cumsum(exponential / discounts, axis=1),
    }


def _first_relevant(top: Sequence[str], relevance: Mapping[str, float]) -> list[bool]:
    # Set-based metrics count a duplicated relevant id once: flag its first occurrence only.
    seen: set[str] = set()
    flags = []
    for doc in top:
        flags.append(doc in relevance and doc not in seen)
        seen.add(doc)
    return flags


def _tabulate(tops: list[Sequence[str]], relevances: Sequence[Mapping[str, float]], depth: int) -> _Table:
    member_rows, first_rows, grade_rows, ideal_rows = [], [], [], []
    for top, relevance in zip(tops, relevances, strict=True):
        member_rows.append([doc in relevance for doc in top])
        # Duplicated ids are rare; skip the slower walk when there are none.
        unique = len(set(top)) == len(top)
        first_rows.append(member_rows[-1] if unique else _first_relevant(top, relevance))
        grade_rows.append([relevance.get(doc, 0) for doc in top])
        ideal_rows.append(sorted(relevance.values(), reverse=True)[:depth])
    # Sizing by the longest list, not max(k), keeps a huge k from allocating huge tables.
    width = max([1, *map(len, member_rows), *map(len, ideal_rows)])
    member = _pad(member_rows, width)
    running_hits = np.cumsum(member, axis=1)
    positions = np.arange(1, width + 1, dtype=np.float64)
    first_hit = np.where(member.any(axis=1), member.argmax(axis=1) + 1, 0)
    return _Table(
        width=width,
        n_relevant=np.array([len(r) for r in relevances], dtype=np.int64),
        distinct_hits=np.cumsum(_pad(first_rows, width), axis=1),
        ap_sums=np.cumsum(member * running_hits / positions, axis=1),
        first_hit=first_hit,
        dcg=_gain_rows(grade_rows, width),
        idcg=_gain_rows(ideal_rows, width),
    )


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray, where: np.ndarray) -> np.ndarray:
    # Zero wherever the reference returns 0.0 early, without divide-by-zero warnings.
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=where)


def _hits(t: _Table, k: int) -> np.ndarray:
    return t.distinct_hits[:, t.col(k)]


def _hit(t: _Table, k: int) -> np.ndarray:
    return ((t.n_relevant > 0) & (_hits(t, k) > 0)).astype(np.float64)


def _precision(t: _Table, k: int) -> np.ndarray:
    return np.where(t.n_relevant > 0, _hits(t, k) / k, 0.0)


def _recall(t: _Table, k: int) -> np.ndarray:
    # The reference counts "nothing relevant" as fully recalled.
    has = t.n_relevant > 0
    return np.where(has, _safe_divide(_hits(t, k), t.n_relevant, has), 1.0)


def _f1(t: _Table, k: int) -> np.ndarray:
    p, r = _precision(t, k), _recall(t, k)
    return _safe_divide(2 * (p * r), p + r, p + r != 0)


def _average_precision(t: _Table, k: int) -> np.ndarray:
    scored = (t.n_relevant > 0) & (_hits(t, k) > 0)
    return _safe_divide(t.ap_sums[:, t.col(k)], np.minimum(t.n_relevant, k), scored)


def _reciprocal_rank(t: _Table, k: int) -> np.ndarray:
    found = (t.first_hit > 0) & (t.first_hit <= k)
    return _safe_divide(np.ones(len(t.first_hit)), t.first_hit, found)


def _ndcg(gain: str) -> Callable[[_Table, int], np.ndarray]:
    def ndcg(t: _Table, k: int) -> np.ndarray:
        idcg = t.idcg[gain][:, t.col(k)]
        return _safe_divide(t.dcg[gain][:, t.col(k)], idcg, (t.n_relevant > 0) & (idcg > 0))

    return ndcg


# Each family expands to one or more named columns; "ndcg" reports both gain forms.
_COLUMNS: dict[str, tuple[tuple[str, Callable[[_Table, int], np.ndarray]], ...]] = {
    "hit": (("hit", _hit),),
    "ndcg": tuple((f"ndcg_{gain}", _ndcg(gain)) for gain in _GAINS),
    "precision": (("precision", _precision),),
    "recall": (("recall", _recall),),
    "f1": (("f1", _f1),),
    "map": (("map", _average_precision),),
    "mrr": (("mrr", _reciprocal_rank),),
}


def _check_families(metrics: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too; iterating its letters would be a confusing error.
    if isinstance(metrics, str):
        raise ValueError(f"metrics must be a sequence of family names, not the string {metrics!r}")
    unknown = [m for m in metrics if m not in _COLUMNS]
    if unknown:
        raise ValueError(f"unknown metric families {unknown}; expected some of {METRIC_FAMILIES}")
    if not metrics:
        raise ValueError("metrics must name at least one metric family")
    return list(dict.fromkeys(metrics))


def _check_k_values(k_values: Sequence[int]) -> list[int]:
    bad = [k for k in k_values if isinstance(k, bool) or not isinstance(k, int) or k < 1]
    if bad:
        raise ValueError(f"k values must be integers >= 1, got {bad}")
    if not k_values:
        raise ValueError("k_values must contain at least one k")
    return sorted(set(k_values))


def _check_queries(rankings: Sequence[Sequence[str]], relevances: Sequence[Mapping[str, float]]) -> None:
    if len(rankings) != len(relevances):
        raise ValueError(
            f"got {len(rankings)} rankings but {len(relevances)} relevance mappings; need one of each per query"
        )
    for index, relevance in enumerate(relevances):
        if not isinstance(relevance, Mapping):
            raise ValueError(
                f"relevance for query {index} must be a mapping {{id: grade}}, got {type(relevance).__name__}"
            )


def score_rankings(
    rankings: Sequence[Sequence[str]],
    relevances: Sequence[Mapping[str, float]],
    metrics: Sequence[str] = METRIC_FAMILIES,
    k_values: Sequence[int] = DEFAULT_K,
    definitions: Definitions = "vlm2vec-6e1e1d4",
    first_relevant: Sequence[int] | None = None,
) -> dict[str, float]:
    """Mean of each requested metric over queries, as ``{"<name>@<k>": float}``.

    Families appear in the order requested, each with its k values ascending. ``definitions``
    names the reference commit whose metric definitions apply (:data:`DEFINITIONS`): with
    ``vlm2vec-44f991d`` (MMEB-V3) recall is 0.0 for a query without relevant items, and MRR is
    one uncut ``mrr`` from ``first_relevant`` (each query's 1-based rank of its first relevant
    candidate in the whole ranking, 0 for none; from ``rankings`` when they are not given, which
    then must be whole rankings).
    """
    families = _check_families(metrics)
    ks = _check_k_values(k_values)
    _check_queries(rankings, relevances)
    if definitions not in DEFINITIONS:
        raise ValueError(f"unknown metric definitions {definitions!r}; expected one of {', '.join(DEFINITIONS)}")
    depth = ks[-1]  # only the first max(k) ids of a ranking can matter
    table = _tabulate([list(r[:depth]) for r in rankings], relevances, depth)
    scores: dict[str, float] = {}
    for family in families:
        if family == "mrr" and definitions == "vlm2vec-44f991d":
            ranks = first_relevant if first_relevant is not None else _first_ranks(rankings, relevances)
            if len(ranks) != len(rankings):
                raise ValueError(f"got {len(ranks)} first-relevant ranks for {len(rankings)} rankings")
            reciprocal = [1.0 / rank if rank > 0 else 0.0 for rank in ranks]
            scores["mrr"] = float(np.mean(reciprocal)) if len(rankings) else 0.0
            continue
        for name, metric in _COLUMNS[family]:
            if family == "recall" and definitions == "vlm2vec-44f991d":
                metric = _recall_none_is_zero
            for k in ks:
                # np.mean over a 1-D column (pairwise summation) is how the reference averages.
                scores[f"{name}@{k}"] = float(np.mean(metric(table, k))) if len(rankings) else 0.0
    return scores


def _first_ranks(rankings: Sequence[Sequence[str]], relevances: Sequence[Mapping[str, float]]) -> list[int]:
    """Per query the 1-based rank of its first relevant id in ``rankings`` (0: none)."""
    return [
        next((i + 1 for i, doc in enumerate(r) if doc in rel), 0) for r, rel in zip(rankings, relevances, strict=True)
    ]


def _recall_none_is_zero(t: _Table, k: int) -> np.ndarray:
    # vlm2vec-44f991d: a query without relevant items recalls 0.0 (was 1.0).
    has = t.n_relevant > 0
    return _safe_divide(_hits(t, k), t.n_relevant, has)
