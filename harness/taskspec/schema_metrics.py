"""Schema of a task's metrics: families, cut-offs, the main score and the reference commit whose
definitions the scores follow (re-exported by :mod:`harness.taskspec.schema`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.taskspec.schema_base import StrictModel

METRIC_FAMILY_NAMES = ("hit", "ndcg", "precision", "recall", "f1", "map", "mrr")
_METRIC_KEY = re.compile(r"^(hit|ndcg_linear|ndcg_exponential|precision|recall|f1|map|mrr)@(\d+)$")


class MetricSpec(StrictModel):
    """Which ranking metrics to compute and which one is the task's main score."""

    families: list[str] = Field(default_factory=lambda: list(METRIC_FAMILY_NAMES))
    """Metric families: hit, ndcg (gives ndcg_linear and ndcg_exponential), precision, recall,
    f1, map, mrr."""
    k: list[int] = Field(default_factory=lambda: [1, 5, 10])
    """Cut-offs (sorted, duplicates dropped); every family is reported at every k."""
    main: str = "hit@1"
    """The task's main score as ``<metric>@<k>``, e.g. ``hit@1`` (image, video) or
    ``ndcg_linear@5`` (visdoc); it must be computed: its family in ``families``, its k in ``k``."""
    definitions: Literal["vlm2vec-6e1e1d4", "vlm2vec-44f991d"] = "vlm2vec-6e1e1d4"
    """Which reference commit's metric definitions the scores follow: ``vlm2vec-6e1e1d4``
    (MMEB-V2: ``mrr@k`` cut at each k, recall 1.0 for a query without relevant items) or
    ``vlm2vec-44f991d`` (MMEB-V3: one uncut ``mrr`` over the whole ranking, recall 0.0)."""

    @field_validator("families")
    @classmethod
    def _known_families(cls, families: list[str]) -> list[str]:
        unknown = [f for f in families if f not in METRIC_FAMILY_NAMES]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRIC_FAMILY_NAMES)}")
        return families

    @field_validator("k")
    @classmethod
    def _positive_k(cls, ks: list[int]) -> list[int]:
        if not ks or any(k < 1 for k in ks):
            raise ValueError("k must be a non-empty list of integers >= 1")
        return sorted(set(ks))

    @model_validator(mode="after")
    def _main_is_computed(self) -> MetricSpec:
        match = _METRIC_KEY.match(self.main)
        if match is None:
            raise ValueError(f"main '{self.main}' is not of the form <metric>@<k>, e.g. hit@1")
        family = "ndcg" if match.group(1).startswith("ndcg") else match.group(1)
        if family not in self.families or int(match.group(2)) not in self.k:
            raise ValueError(f"main '{self.main}' is not among the computed metrics")
        if family == "mrr" and self.definitions == "vlm2vec-44f991d":
            raise ValueError(f"main '{self.main}': with definitions vlm2vec-44f991d MRR is one uncut 'mrr', not mrr@k")
        return self
