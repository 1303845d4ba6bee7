"""Ranking metrics (hit, nDCG, precision, recall, F1, MAP, MRR at k) and their task means."""

from harness.metrics.aggregate import DEFINITIONS, Definitions, score_rankings
from harness.metrics.ranking import (
    DEFAULT_K,
    METRIC_FAMILIES,
    average_precision_at_k,
    f1_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)

__all__ = [
    "DEFAULT_K",
    "DEFINITIONS",
    "Definitions",
    "METRIC_FAMILIES",
    "average_precision_at_k",
    "f1_at_k",
    "hit_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank_at_k",
    "score_rankings",
]
