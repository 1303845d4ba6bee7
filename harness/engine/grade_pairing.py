"""Scores with the reference's grade pairing beside the correct ones (``--metrics_compat``).

Only tasks with graded qrels can differ (see :mod:`harness.metrics.reference_pairing`). For them
both score sets are computed from the same rankings; the chosen one is the task's score, and when
the two differ the run says so in one line and the score file keeps the other set too.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from harness.data import TaskData
from harness.engine.rank import Rankings
from harness.metrics import score_rankings
from harness.metrics.reference_pairing import reference_pairing, seed_dependent
from harness.taskspec.schema import TaskSpec

MetricsCompat = Literal["harness", "reference"]
"""``harness``: grades paired with their own ids (the default); ``reference``: as the reference pairs them."""
OTHER_KEY = {"harness": "metrics_reference_pairing", "reference": "metrics_harness_pairing"}
"""Score-file key holding the other pairing's metrics, by the pairing chosen."""


@dataclass(frozen=True)
class PairedScores:
    """The task's metrics under the chosen pairing, and what the score file adds when they differ."""

    metrics: dict[str, float]
    extra: dict[str, object]


def scores_with_pairing(
    spec: TaskSpec,
    data: TaskData,
    rankings: Rankings,
    relevances: Sequence[Mapping[str, float]],
    compat: MetricsCompat,
) -> PairedScores:
    """Score ``rankings`` under ``compat``'s pairing; the other pairing's metrics when they differ."""
    families, ks, definitions = spec.metrics.families, spec.metrics.k, spec.metrics.definitions
    correct = score_rankings(rankings.ids, relevances, families, ks, definitions, rankings.first_relevant)
    graded = [q for q in data.queries if len(set(q.relevance.values())) > 1]
    if not graded:  # binary (or uniform) grades: every pairing gives the same mapping
        return PairedScores(correct, {})
    paired = [reference_pairing(q.relevance, q.relevance_raw_ids) for q in data.queries]
    reference = score_rankings(rankings.ids, paired, families, ks, definitions, rankings.first_relevant)
    chosen, other = (correct, reference) if compat == "harness" else (reference, correct)
    if reference == correct:
        return PairedScores(chosen, {})
    main = spec.metrics.main
    unstable = sum(seed_dependent(q.relevance, q.relevance_raw_ids) for q in graded)
    print(
        f"note: task '{spec.task}': {main} {100 * correct[main]:.2f} with grades paired to their documents, "
        f"{100 * reference[main]:.2f} with the reference's set() pairing (published numbers); "
        f"the score is the {'first' if compat == 'harness' else 'second'} (--metrics_compat {compat}), "
        f"the score file keeps both"
        + (
            f"; {unstable} queries have text ids, whose reference pairing depends on PYTHONHASHSEED" if unstable else ""
        ),
        file=sys.stderr,
    )
    extra: dict[str, object] = {OTHER_KEY[compat]: {k: v for k, v in other.items() if v != chosen[k]}}
    if unstable:
        extra["num_hash_seed_dependent_queries"] = unstable
    return PairedScores(chosen, extra)
