"""Late-interaction (MaxSim) scoring and ranking over token matrices kept in ``TokenStore`` files.

MaxSim, as ColBERT and ColPali define it: ``score(q, d) = Σ_i max_j ⟨q_i, d_j⟩`` over the query's
tokens ``i`` and the document's tokens ``j``. Token matrices are scored without padding (a zero
padding row would win the max whenever every real dot product is negative), so the score of a
pair never depends on which other inputs shared its batch or chunk.

Memory is bounded by a ``MaxSimBudget``, never by the corpus: queries are scored in chunks of at
most ``max_scores // num_candidates`` queries and ``max_query_tokens`` tokens, and against the
corpus in chunks of at most ``min(max_candidate_tokens, max_similarities // query_tokens)``
candidate tokens, read from disk one chunk at a time. Peak memory is at most about
``4 bytes × (2 × max_scores + 2 × max_similarities + (max_query_tokens + max_candidate_tokens) × dim)``
— with the defaults and dim 128, ≈ 300 MB — whatever the corpus size. Rankings use the same
tie-breaking as dense ranking.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.engine.rank import FirstRelevant, Rankings, first_relevant_rank, relevant_positions, top_indices
from harness.engine.tokens import TokenStore


@dataclass(frozen=True)
class MaxSimBudget:
    """Upper bounds (in float32 values) on what MaxSim ranking holds in memory at once."""

    max_scores: int = 1 << 24
    """Query × candidate scores of one query chunk."""
    max_similarities: int = 1 << 24
    """Query-token × candidate-token dot products of one (query chunk, candidate chunk) pair."""
    max_query_tokens: int = 1 << 13
    """Query tokens of one query chunk."""
    max_candidate_tokens: int = 1 << 16
    """Candidate tokens read from disk for one candidate chunk."""


def maxsim_scores(
    query_tokens: np.ndarray, query_lengths: np.ndarray, candidate_tokens: np.ndarray, candidate_lengths: np.ndarray
) -> np.ndarray:
    """MaxSim of every query against every candidate, ``[num_queries, num_candidates]`` float32.

    Inputs are stacked token matrices (``[sum of lengths, dim]``) with each matrix's token count.
    """
    if (query_lengths < 1).any() or (candidate_lengths < 1).any():
        raise ValueError("every token matrix needs at least one token")
    similarities = np.asarray(query_tokens @ candidate_tokens.T, dtype=np.float32)
    candidate_starts = np.concatenate([[0], np.cumsum(candidate_lengths)[:-1]])
    query_starts = np.concatenate([[0], np.cumsum(query_lengths)[:-1]])
    best = np.maximum.reduceat(similarities, candidate_starts, axis=1)  # [query tokens, candidates]
    return np.add.reduceat(best, query_starts, axis=0)


def score_block(
    queries: TokenStore,
    query_rows: np.ndarray,
    candidates: TokenStore,
    candidate_rows: np.ndarray,
    budget: MaxSimBudget,
) -> np.ndarray:
    """MaxSim of stored queries ``query_rows`` against stored candidates ``candidate_rows``, in token chunks."""
    query_tokens, query_lengths = queries.gather(query_rows)
    block = np.empty((len(query_rows), len(candidate_rows)), dtype=np.float32)
    chunk_tokens = max(1, min(budget.max_candidate_tokens, budget.max_similarities // max(1, len(query_tokens))))
    done = 0
    for chunk in candidates.chunks(candidate_rows, chunk_tokens):
        candidate_tokens, candidate_lengths = candidates.gather(chunk)
        block[:, done : done + len(chunk)] = maxsim_scores(
            query_tokens, query_lengths, candidate_tokens, candidate_lengths
        )
        done += len(chunk)
    return block


def rank_global_maxsim(
    queries: TokenStore,
    query_rows: np.ndarray,
    candidates: TokenStore,
    candidate_rows: np.ndarray,
    candidate_ids: Sequence[str],
    depth: int | None = None,
    budget: MaxSimBudget | None = None,
    relevant: Sequence[Collection[str]] | None = None,
) -> Rankings:
    """Rank every candidate for every query by MaxSim, keeping the top ``depth`` (all when None).

    ``query_rows[i]`` / ``candidate_rows[j]`` is the store row of query ``i`` / candidate ``j``
    (inputs are stored once however often they occur).
    """
    budget = budget or MaxSimBudget()
    keep = len(candidate_ids) if depth is None else min(depth, len(candidate_ids))
    distinct = np.arange(candidates.count)
    ranked_ids: list[list[str]] = []
    ranked_scores: list[list[float]] = []
    first = FirstRelevant(candidate_ids, relevant)
    for chunk in _query_chunks(queries, query_rows, budget, len(candidate_ids)):
        block = score_block(queries, query_rows[chunk], candidates, distinct, budget)[:, candidate_rows]
        for query, row in zip(chunk, block, strict=True):
            order = top_indices(row, keep)
            ranked_ids.append([candidate_ids[i] for i in order])
            ranked_scores.append(row[order].tolist())
            first.add(row, int(query))
    return Rankings(ranked_ids, ranked_scores, first.ranks)


def rank_local_maxsim(
    queries: TokenStore,
    query_rows: np.ndarray,
    candidates: TokenStore,
    candidate_rows: Mapping[str, int],
    candidate_lists: Sequence[Sequence[str]],
    depth: int | None = None,
    budget: MaxSimBudget | None = None,
    relevant: Sequence[Collection[str]] | None = None,
) -> Rankings:
    """Rank each query's own candidate list by MaxSim (ids may repeat; ties keep list order)."""
    if len(candidate_lists) != len(query_rows):
        raise ValueError(f"{len(candidate_lists)} candidate lists for {len(query_rows)} queries")
    budget = budget or MaxSimBudget()
    ranked_ids: list[list[str]] = []
    ranked_scores: list[list[float]] = []
    first: list[int] | None = [] if relevant is not None else None
    for chunk in _query_chunks(queries, query_rows, budget, candidates.count):
        lists = [candidate_lists[i] for i in chunk]
        rows_per_query = [np.fromiter((candidate_rows[c] for c in ids), np.int64, len(ids)) for ids in lists]
        union, inverse = np.unique(np.concatenate([np.zeros(0, np.int64), *rows_per_query]), return_inverse=True)
        block = score_block(queries, query_rows[chunk], candidates, union, budget)
        start = 0
        for position, (ids, rows) in enumerate(zip(lists, rows_per_query, strict=True)):
            scores = block[position, inverse[start : start + len(rows)]]
            start += len(rows)
            order = np.argsort(-scores, kind="stable")[:depth]
            ranked_ids.append([ids[i] for i in order])
            ranked_scores.append(scores[order].tolist())
            if first is not None and relevant is not None:
                first.append(first_relevant_rank(scores, relevant_positions(ids, relevant[int(chunk[position])])))
    return Rankings(ranked_ids, ranked_scores, first)


def _query_chunks(
    queries: TokenStore, query_rows: np.ndarray, budget: MaxSimBudget, num_candidates: int
) -> Iterator[np.ndarray]:
    """Query positions in order, in chunks bounded by the score and query-token budgets."""
    per_chunk = max(1, budget.max_scores // max(1, num_candidates))
    positions = np.arange(len(query_rows))
    lengths = queries.lengths[query_rows]
    start = 0
    while start < len(positions):
        tokens = np.cumsum(lengths[start : start + per_chunk])
        stop = start + max(1, int(np.searchsorted(tokens, budget.max_query_tokens, side="right")))
        yield positions[start:stop]
        start = stop
