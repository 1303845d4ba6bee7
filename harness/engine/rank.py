"""Score queries against candidates and rank them once, deterministically.

Scores are float32 dot products (cosine when the adapter normalises), as in the reference.
Ties are broken by candidate order: a query's own list order for local ranking, the task's
first-seen candidate order for global ranking. (The reference uses numpy's default unstable
sort, which agrees with this for lists of up to 16 candidates and differs only on exact ties.)
Global ranking runs in query chunks and keeps only the top ``depth`` candidates per query, so
memory is bounded by ``chunk_size × num_candidates`` float32 scores.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Rankings:
    """Per query, the ranked candidate ids (best first) and their scores."""

    ids: list[list[str]]
    scores: list[list[float]]
    first_relevant: list[int] | None = None
    """When asked for (``relevant``): per query the 1-based rank of its first relevant candidate in
    the whole ranking, however deep ``ids`` is kept (0: none ranked), for an uncut MRR."""


def first_relevant_rank(scores: np.ndarray, positions: Sequence[int]) -> int:
    """The 1-based rank, in the stable descending order of ``scores``, of the best-ranked of
    ``positions`` (0 when there is none): candidates scoring higher, then equal ones earlier."""
    best = 0
    for position in positions:
        score = scores[position]
        rank = int(np.count_nonzero(scores > score)) + int(np.count_nonzero(scores[:position] == score)) + 1
        best = rank if best == 0 else min(best, rank)
    return best


def relevant_positions(ids: Sequence[str], relevant: Collection[str]) -> list[int]:
    """Positions in ``ids`` (a query's own list, repeats allowed) that hold a relevant id."""
    return [i for i, candidate_id in enumerate(ids) if candidate_id in relevant]


def rank_local(
    query_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    candidate_rows: Mapping[str, int],
    candidate_lists: Sequence[Sequence[str]],
    depth: int | None = None,
    max_chunk_scores: int = 1 << 24,
    relevant: Sequence[Collection[str]] | None = None,
) -> Rankings:
    """Rank each query's own candidate list (ids may repeat, as in the reference).

    Scores come from one matrix product per chunk of queries against the whole pool (at most
    ``max_chunk_scores`` float32 values at a time), then each query picks its own candidates.
    With ``relevant`` (per query), also each query's :attr:`Rankings.first_relevant`.
    """
    ranked_ids: list[list[str]] = []
    ranked_scores: list[list[float]] = []
    first: list[int] | None = [] if relevant is not None else None
    chunk = max(1, max_chunk_scores // max(1, len(candidate_embeddings)))
    for start in range(0, len(query_embeddings), chunk):
        block = query_embeddings[start : start + chunk] @ candidate_embeddings.T
        for offset, (row_scores, ids) in enumerate(zip(block, candidate_lists[start : start + chunk], strict=True)):
            rows = np.fromiter((candidate_rows[i] for i in ids), dtype=np.int64, count=len(ids))
            scores = row_scores[rows]
            order = np.argsort(-scores, kind="stable")[:depth]
            ranked_ids.append([ids[i] for i in order])
            ranked_scores.append(scores[order].tolist())
            if first is not None and relevant is not None:
                first.append(first_relevant_rank(scores, relevant_positions(ids, relevant[start + offset])))
    if len(ranked_ids) != len(candidate_lists):
        raise ValueError(f"{len(candidate_lists)} candidate lists for {len(ranked_ids)} queries")
    return Rankings(ranked_ids, ranked_scores, first)


def rank_global(
    query_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    candidate_ids: Sequence[str],
    depth: int | None = None,
    chunk_size: int = 512,
    relevant: Sequence[Collection[str]] | None = None,
) -> Rankings:
    """Rank every candidate for every query, keeping the top ``depth`` (all when None); with
    ``relevant`` (per query), also each query's :attr:`Rankings.first_relevant`."""
    num_candidates = len(candidate_ids)
    keep = num_candidates if depth is None else min(depth, num_candidates)
    ranked_ids: list[list[str]] = []
    ranked_scores: list[list[float]] = []
    first = FirstRelevant(candidate_ids, relevant)
    for start in range(0, len(query_embeddings), chunk_size):
        scores = query_embeddings[start : start + chunk_size] @ candidate_embeddings.T
        for offset, row in enumerate(scores):
            order = top_indices(row, keep)
            ranked_ids.append([candidate_ids[i] for i in order])
            ranked_scores.append(row[order].tolist())
            first.add(row, start + offset)
    return Rankings(ranked_ids, ranked_scores, first.ranks)


class FirstRelevant:
    """Collects :attr:`Rankings.first_relevant` over the rows of a global ranking (nothing when
    ``relevant`` is None)."""

    def __init__(self, candidate_ids: Sequence[str], relevant: Sequence[Collection[str]] | None) -> None:
        self.relevant = relevant
        self.index = {candidate_id: i for i, candidate_id in enumerate(candidate_ids)} if relevant is not None else {}
        self.ranks: list[int] | None = [] if relevant is not None else None

    def add(self, row: np.ndarray, query: int) -> None:
        """Record the rank for ``row``, the scores of query number ``query`` against every candidate."""
        if self.ranks is not None and self.relevant is not None:
            positions = sorted(self.index[c] for c in self.relevant[query] if c in self.index)
            self.ranks.append(first_relevant_rank(row, positions))


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best scores, best first, ties broken by lower index."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(-scores, k - 1)[k - 1]
    # Every index scoring at least the k-th best, so ties at the boundary are resolved by index.
    contenders = np.flatnonzero(-scores <= threshold)
    order = contenders[np.lexsort((contenders, -scores[contenders]))]
    return order[:k]
