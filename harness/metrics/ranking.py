"""Per-query ranking metrics, reproducing VLM2Vec's ``RankingMetrics`` definitions.

Each function takes one query's ``ranking`` (candidate ids, best first) and its
``relevance`` mapping ``{candidate_id: grade}`` with grade > 0; the relevant set R is the
mapping's keys. Only ``ranking[:k]`` is ever read, so callers may pass top-k lists.

Deliberate fidelity to the reference, including its quirks:

* precision@k divides by ``k`` even when fewer than ``k`` candidates exist;
* recall@k is 1.0 when R is empty (the reference's convention: zero of zero relevant
  items were recalled); every other metric is 0.0 when R is empty;
* hit/precision/recall de-duplicate the top-k through ``set()``, whereas average
  precision and nDCG walk the list, so an id ranked twice counts twice there (nDCG can
  then exceed 1.0);
* average precision is normalised by ``min(|R|, k)``, not by ``|R|`` as trec_eval does.

The one reference bug we do not reproduce: with graded relevance the reference pairs
grades with labels *after* de-duplicating the labels through ``set()``, which can attach
a grade to the wrong label. Grades travel here as an ``{id: grade}`` mapping, so each
document always gets its own grade. With binary relevance (all grades 1) the results are
identical to the reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

Gain = Literal["linear", "exponential"]

METRIC_FAMILIES: tuple[str, ...] = ("hit", "ndcg", "precision", "recall", "f1", "map", "mrr")
DEFAULT_K: tuple[int, ...] = (1, 5, 10)


def _relevant_in_top(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> int:
    # set() makes a duplicated id count once, exactly as the reference's set intersection.
    return len(set(ranking[:k]).intersection(relevance))


def hit_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """1.0 if any relevant id is in the top ``k``, else 0.0 (0.0 when nothing is relevant)."""
    if not relevance:
        return 0.0
    return 1.0 if _relevant_in_top(ranking, relevance, k) else 0.0


def precision_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """Distinct relevant ids in the top ``k`` divided by ``k`` (never by the list length)."""
    if not relevance:
        return 0.0
    return _relevant_in_top(ranking, relevance, k) / k


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """Distinct relevant ids in the top ``k`` divided by ``|R|``; 1.0 when R is empty."""
    if not relevance:
        # The reference treats "no relevant items" as everything (nothing) recalled.
        return 1.0
    return _relevant_in_top(ranking, relevance, k) / len(relevance)


def f1_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """Harmonic mean of precision@k and recall@k; 0.0 when both are zero."""
    p = precision_at_k(ranking, relevance, k)
    r = recall_at_k(ranking, relevance, k)
    if p + r == 0:
        return 0.0
    return 2 * (p * r) / (p + r)


def average_precision_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """AP@k normalised by ``min(|R|, k)``; a relevant id ranked twice counts twice."""
    if not relevance:
        return 0.0
    total = 0.0
    num_hits = 0
    for position, doc in enumerate(ranking[:k], start=1):
        if doc in relevance:
            num_hits += 1
            total += num_hits / position
    if not num_hits:
        return 0.0
    return total / min(len(relevance), k)


def reciprocal_rank_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """1 / rank of the first relevant id within the top ``k``, else 0.0."""
    for position, doc in enumerate(ranking[:k], start=1):
        if doc in relevance:
            return 1.0 / position
    return 0.0


def _dcg(grades: Sequence[float], gain: Gain) -> float:
    # Divide by log2(position + 1) rather than multiply by a reciprocal, so the float
    # rounding matches the reference's expression bit for bit.
    if gain == "linear":
        return sum(g / math.log2(i + 2) for i, g in enumerate(grades))
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at_k(
    ranking: Sequence[str],
    relevance: Mapping[str, float],
    k: int,
    gain: Gain = "linear",
) -> float:
    """nDCG@k with gain ``grade`` (linear) or ``2**grade - 1`` (exponential), log2 discount."""
    if gain not in ("linear", "exponential"):
        raise ValueError(f"unknown nDCG gain {gain!r}; expected 'linear' or 'exponential'")
    if not relevance:
        return 0.0
    ideal = sorted(relevance.values(), reverse=True)[:k]
    idcg = _dcg(ideal, gain)
    if idcg <= 0:
        return 0.0
    return _dcg([relevance.get(doc, 0) for doc in ranking[:k]], gain) / idcg
