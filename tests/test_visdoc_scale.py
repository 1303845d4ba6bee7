"""Global ranking at visual-document scale stays within bounded memory and stays exact.

500 queries against a 10,000-page corpus (the size of the larger VisRAG corpora), random unit
vectors of dimension 256, fed straight to the ranking and metric functions. A full
queries × corpus float64 score matrix would take 40 MB; the chunked float32 ranking that keeps
only the top k per query must stay well under that on top of its inputs, and its results must
equal a brute-force float32 ranking.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from harness.engine.rank import rank_global
from harness.metrics import score_rankings

NUM_QUERIES, NUM_DOCUMENTS, DIM, TOP_K = 500, 10_000, 256, 10
FAMILIES = ["hit", "ndcg", "precision", "recall", "f1", "map", "mrr"]
FULL_FLOAT64_MATRIX = NUM_QUERIES * NUM_DOCUMENTS * 8
PEAK_LIMIT = 36 * 2**20
"""Under a full float64 score matrix (about 38 MiB), above one float32 chunk (about 19 MiB)."""


def unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(20240607)
    queries, documents = unit_vectors(rng, NUM_QUERIES), unit_vectors(rng, NUM_DOCUMENTS)
    ids = [f"page-{i:05d}" for i in range(NUM_DOCUMENTS)]
    relevances = []
    for _ in range(NUM_QUERIES):
        picked = rng.choice(NUM_DOCUMENTS, size=int(rng.integers(1, 4)), replace=False)
        relevances.append({ids[int(i)]: float(rng.integers(1, 3)) for i in picked})
    # Half the queries get graded positives the model ranks 1st (grade 1) and 2nd (grade 2).
    for q in range(0, NUM_QUERIES, 2):
        first, second = np.argsort(-(documents @ queries[q]), kind="stable")[:2]
        relevances[q] = {ids[int(first)]: 1.0, ids[int(second)]: 2.0}
    tracemalloc.start()
    try:
        rankings = rank_global(queries, documents, ids, depth=TOP_K)
        metrics = score_rankings(rankings.ids, relevances, FAMILIES, [1, 5, 10])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return queries, documents, ids, relevances, rankings, metrics, peak


def test_peak_extra_memory_stays_under_a_full_score_matrix(case):
    *_, peak = case
    assert PEAK_LIMIT < FULL_FLOAT64_MATRIX
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB"


def test_only_the_top_k_is_kept_per_query(case):
    _, _, _, _, rankings, _, _ = case
    assert len(rankings.ids) == NUM_QUERIES
    assert {len(ids) for ids in rankings.ids} == {TOP_K} and {len(s) for s in rankings.scores} == {TOP_K}


def test_rankings_and_metrics_equal_a_brute_force_float32_computation(case):
    queries, documents, ids, relevances, rankings, _, _ = case
    subset = slice(0, 40)
    scores = queries[subset] @ documents.T  # float32, as the reference computes them
    assert scores.dtype == np.float32
    order = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
    brute_ids = [[ids[i] for i in row] for row in order]
    brute_scores = np.take_along_axis(scores, order, axis=1)
    assert rankings.ids[subset] == brute_ids
    np.testing.assert_allclose(np.array(rankings.scores[subset]), brute_scores, rtol=1e-6, atol=1e-7)
    ours = score_rankings(rankings.ids[subset], relevances[subset], FAMILIES, [1, 5, 10])
    assert ours == score_rankings(brute_ids, relevances[subset], FAMILIES, [1, 5, 10])


def test_graded_metrics_differ_between_gain_forms(case):
    *_, metrics, _ = case
    assert metrics["ndcg_linear@5"] != metrics["ndcg_exponential@5"]
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
