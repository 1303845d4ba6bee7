"""Ranking: one deterministic order, local lists, chunked global top-k."""

from __future__ import annotations

import numpy as np

from harness.engine import rank_global, rank_local, top_indices, unique_inputs
from harness.inputs import EncodeInput


def test_ties_are_broken_by_candidate_order():
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1], dtype=np.float32)
    assert top_indices(scores, 5).tolist() == [1, 3, 0, 2, 4]
    assert top_indices(scores, 3).tolist() == [1, 3, 0]


def test_top_indices_equals_a_full_stable_sort_on_random_ties():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.integers(0, 5, size=rng.integers(1, 40)).astype(np.float32)
        k = int(rng.integers(1, len(scores) + 1))
        expected = np.argsort(-scores, kind="stable")[:k]
        assert top_indices(scores, k).tolist() == expected.tolist()


def test_local_ranking_uses_only_each_querys_candidates():
    candidates = np.eye(4, dtype=np.float32)
    rows = {"a": 0, "b": 1, "c": 2, "d": 3}
    queries = np.array([[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    result = rank_local(queries, candidates, rows, [("a", "b", "c"), ("b", "a")])
    assert result.ids == [["a", "b", "c"], ["a", "b"]]
    assert result.scores[1] == [1.0, 0.0]


def test_local_ranking_keeps_duplicate_ids_like_the_reference():
    candidates = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    result = rank_local(np.array([[0.2, 0.9]], dtype=np.float32), candidates, {"x": 0, "y": 1}, [("x", "y", "x")])
    assert result.ids == [["y", "x", "x"]]


def test_global_ranking_in_chunks_equals_one_full_matrix():
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(37, 8)).astype(np.float32)
    candidates = rng.normal(size=(50, 8)).astype(np.float32)
    ids = [f"c{i}" for i in range(50)]
    chunked = rank_global(queries, candidates, ids, depth=10, chunk_size=4)
    full = queries @ candidates.T
    expected = [[ids[i] for i in np.argsort(-row, kind="stable")[:10]] for row in full]
    assert chunked.ids == expected


def test_global_ranking_without_depth_returns_every_candidate():
    rng = np.random.default_rng(2)
    result = rank_global(
        rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32), list("abcdef")
    )
    assert all(sorted(ids) == list("abcdef") for ids in result.ids)


def test_identical_inputs_are_encoded_once():
    a, b = EncodeInput("x"), EncodeInput("y")
    distinct, inverse = unique_inputs([a, b, EncodeInput("x"), b])
    assert distinct == [a, b]
    assert inverse.tolist() == [0, 1, 0, 1]
