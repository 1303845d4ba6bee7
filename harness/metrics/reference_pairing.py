"""The reference's pairing of graded labels with their grades (``--metrics_compat reference``).

The reference scores a query from two parallel lists, its relevant ids (``label_name``, in qrels
order) and their grades (``rel_scores``, same order), but first replaces the ids by
``list(set(labels))``. It then pairs ``zip(true_labels, rel_scores)``: the i-th id of the *set's*
order gets the i-th grade of the *qrels* order. When a query's grades differ, ids can get another
id's grade, which moves nDCG (the only metric that reads grades; hit, precision, recall, map and
mrr use the ids as a set). Binary relevance is never affected.

The set's order is Python's: for integer ids (ViDoRe's corpus ids) it depends only on the values,
so it is the same in every process and this module reproduces the published numbers; for text ids
it depends on the process's hash seed (``PYTHONHASHSEED``), so the reference's own numbers vary from
run to run and no tool can reproduce them; :func:`seed_dependent` says when that can matter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def reference_pairing(relevance: Mapping[str, float], raw_ids: Sequence[Any]) -> dict[str, float]:
    """``{id: grade}`` as the reference pairs them.

    ``relevance`` is the correct ``{id: grade}`` in qrels order; ``raw_ids`` the same ids as the
    qrels rows store them (same order), whose ``set()`` order the reference uses.
    """
    if len(raw_ids) != len(relevance):
        raise ValueError(f"{len(raw_ids)} raw ids for {len(relevance)} relevant ids")
    text_of = dict(zip(raw_ids, relevance, strict=True))
    grades = list(relevance.values())
    return {text_of[raw]: grade for raw, grade in zip(list(set(raw_ids)), grades, strict=True)}


def seed_dependent(relevance: Mapping[str, float], raw_ids: Sequence[Any]) -> bool:
    """Whether the reference's pairing of this query depends on the hash seed: text ids whose
    grades are not all equal (with equal grades every pairing gives the same mapping)."""
    return len(set(relevance.values())) > 1 and any(isinstance(raw, str | bytes) for raw in raw_ids)
