"""Cross-check the ranking metrics against trec_eval (via pytrec_eval) on random rankings.

Where the definitions coincide the numbers must agree per query:

* ``ndcg_cut_k`` = ndcg_linear@k (gain = grade, discount log2(rank + 1), ideal list from
  all judged grades);
* ``P_k`` = precision@k (both divide by k even for short rankings), ``recall_k`` =
  recall@k, ``success_k`` = hit@k, ``recip_rank`` = mrr@k once k covers the ranking.

Where they differ, and why:

* MAP: the reference normalises AP@k by ``min(|R|, k)``, trec_eval's ``map_cut_k`` by
  ``|R|``; they agree only when ``|R| <= k`` (in general ours = trec * |R| / min(|R|, k)).
* Ties: trec_eval orders equal scores by docno descending; we break them by id
  ascending. The run handed to trec_eval therefore scores each candidate by its rank,
  so both sides see the same ranking.
* No relevant documents: trec_eval's recall is 0, the reference's (and ours) is 1.0.
* ndcg_exponential (gain 2**grade - 1) has no trec_eval twin; it is checked against an
  independent numpy formula below.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pytest

from harness.metrics import (
    average_precision_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
    score_rankings,
)

pytrec_eval = pytest.importorskip("pytrec_eval")

N_QUERIES = 200
N_CANDIDATES = 30
CUTOFFS = (1, 5, 10)
SEED = 20240611


def close(expected: float) -> Any:
    """trec_eval computes in C doubles, in its own order: equal up to rounding."""
    return pytest.approx(expected, rel=1e-9, abs=1e-12)


def _random_case(seed: int) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """Graded qrels in {0..3} (every query has >= 1 relevant doc) and tied raw scores."""
    rng = np.random.default_rng(seed)
    qrels, scores = {}, {}
    for q in range(N_QUERIES):
        docs = [f"d{i:02d}" for i in range(N_CANDIDATES)]
        grades = rng.choice(4, size=N_CANDIDATES, p=[0.8, 0.1, 0.06, 0.04])
        if not grades.any():
            grades[rng.integers(N_CANDIDATES)] = rng.integers(1, 4)
        qrels[f"q{q}"] = {d: int(g) for d, g in zip(docs, grades, strict=True)}
        # One decimal makes many exact ties, so the tie-break is really exercised.
        raw = np.round(rng.random(N_CANDIDATES), 1)
        scores[f"q{q}"] = {d: float(s) for d, s in zip(docs, raw, strict=True)}
    return qrels, scores


class Case(NamedTuple):
    rankings: dict[str, list[str]]
    relevances: dict[str, dict[str, float]]
    trec: dict[str, dict[str, float]]

    def queries(self) -> Iterator[tuple[list[str], dict[str, float], dict[str, float]]]:
        for q in sorted(self.rankings):
            yield self.rankings[q], self.relevances[q], self.trec[q]


@pytest.fixture(scope="module")
def case() -> Case:
    qrels, raw_scores = _random_case(SEED)
    rankings = {q: sorted(s, key=lambda d: (-s[d], d)) for q, s in raw_scores.items()}
    # Score = N - rank, so trec_eval's own tie-break cannot reorder anything.
    run = {q: {d: float(N_CANDIDATES - i) for i, d in enumerate(r)} for q, r in rankings.items()}
    cut = ",".join(map(str, CUTOFFS))
    measures = {f"ndcg_cut.{cut}", f"P.{cut}", f"recall.{cut}", f"map_cut.{cut}", "recip_rank"}
    if "success" in pytrec_eval.supported_measures:
        measures.add(f"success.{cut}")
    trec = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    relevances = {q: {d: float(g) for d, g in qr.items() if g > 0} for q, qr in qrels.items()}
    return Case(rankings, relevances, trec)


def test_random_case_has_ties_and_several_relevant_docs_per_query(case: Case) -> None:
    relevances = case.relevances.values()
    assert max(len(r) for r in relevances) >= 3
    assert any(len(set(r.values())) > 1 for r in relevances)
    tied = [len(set(s.values())) < N_CANDIDATES for s in _random_case(SEED)[1].values()]
    assert all(tied)


@pytest.mark.parametrize("k", CUTOFFS)
def test_linear_ndcg_matches_trec_eval_ndcg_cut_with_graded_relevance(case: Case, k: int) -> None:
    for ranking, relevance, trec in case.queries():
        assert ndcg_at_k(ranking, relevance, k, "linear") == close(trec[f"ndcg_cut_{k}"])


@pytest.mark.parametrize("k", CUTOFFS)
def test_precision_recall_and_hit_match_trec_eval(case: Case, k: int) -> None:
    for ranking, relevance, trec in case.queries():
        assert precision_at_k(ranking, relevance, k) == close(trec[f"P_{k}"])
        assert recall_at_k(ranking, relevance, k) == close(trec[f"recall_{k}"])
        if f"success_{k}" in trec:
            assert hit_at_k(ranking, relevance, k) == trec[f"success_{k}"]


def test_success_is_available_in_this_pytrec_eval(case: Case) -> None:
    if "success" not in pytrec_eval.supported_measures:
        pytest.skip("this pytrec_eval build has no success measure")
    assert all(f"success_{k}" in trec for _, _, trec in case.queries() for k in CUTOFFS)


def test_reciprocal_rank_matches_trec_eval_when_k_covers_the_ranking(case: Case) -> None:
    for ranking, relevance, trec in case.queries():
        ours = reciprocal_rank_at_k(ranking, relevance, len(ranking))
        assert ours == close(trec["recip_rank"])


@pytest.mark.parametrize("k", CUTOFFS)
def test_truncated_reciprocal_rank_matches_the_hand_formula(case: Case, k: int) -> None:
    for ranking, relevance, _ in case.queries():
        first = next(i for i, d in enumerate(ranking, start=1) if d in relevance)
        expected = 1 / first if first <= k else 0.0
        assert reciprocal_rank_at_k(ranking, relevance, k) == expected


@pytest.mark.parametrize("k", CUTOFFS)
def test_average_precision_matches_the_hand_formula(case: Case, k: int) -> None:
    for ranking, relevance, _ in case.queries():
        flags = [d in relevance for d in ranking[:k]]
        precisions = [sum(flags[: i + 1]) / (i + 1) for i, hit in enumerate(flags) if hit]
        expected = sum(precisions) / min(len(relevance), k) if precisions else 0.0
        assert average_precision_at_k(ranking, relevance, k) == close(expected)


@pytest.mark.parametrize("k", CUTOFFS)
def test_average_precision_equals_trec_map_cut_only_when_relevant_count_fits_in_k(case: Case, k: int) -> None:
    """trec_eval divides by |R|, the reference by min(|R|, k); they differ when |R| > k."""
    differing = 0
    for ranking, relevance, trec in case.queries():
        ours, theirs = average_precision_at_k(ranking, relevance, k), trec[f"map_cut_{k}"]
        assert ours == close(theirs * len(relevance) / min(len(relevance), k))
        if len(relevance) <= k:
            assert ours == close(theirs)
        differing += not math.isclose(ours, theirs)
    if k == 1:
        assert differing > 0  # the random case does exercise the disagreement


def _exponential_ndcg(ranking: list[str], relevance: dict[str, float], k: int) -> float:
    """Independent formula: numpy gains 2**g - 1 over log2(2..k+1) discounts."""
    gains = np.exp2([relevance.get(d, 0.0) for d in ranking[:k]]) - 1
    ideal = np.exp2(np.sort(np.fromiter(relevance.values(), float))[::-1][:k]) - 1
    dcg = float(np.sum(gains / np.log2(np.arange(2, len(gains) + 2))))
    idcg = float(np.sum(ideal / np.log2(np.arange(2, len(ideal) + 2))))
    return dcg / idcg if idcg > 0 else 0.0


@pytest.mark.parametrize("k", CUTOFFS)
def test_exponential_ndcg_matches_an_independent_formula(case: Case, k: int) -> None:
    for ranking, relevance, _ in case.queries():
        assert ndcg_at_k(ranking, relevance, k, "exponential") == close(_exponential_ndcg(ranking, relevance, k))


def test_task_means_match_trec_eval_means(case: Case) -> None:
    rankings, relevances, trec = [], [], []
    for ranking, relevance, per_query in case.queries():
        rankings.append(ranking)
        relevances.append(relevance)
        trec.append(per_query)
    scores = score_rankings(rankings, relevances, metrics=["ndcg", "precision", "recall"])
    for k in CUTOFFS:
        for ours, theirs in [("ndcg_linear", "ndcg_cut"), ("precision", "P"), ("recall", "recall")]:
            mean = float(np.mean([t[f"{theirs}_{k}"] for t in trec]))
            assert scores[f"{ours}@{k}"] == close(mean)


def test_recall_without_relevant_docs_differs_from_trec_eval() -> None:
    """The reference counts "nothing to find" as full recall; trec_eval as zero."""
    evaluator = pytrec_eval.RelevanceEvaluator({"q": {"a": 0}}, {"recall.5"})
    trec = evaluator.evaluate({"q": {"a": 1.0, "b": 0.5}})
    assert trec["q"]["recall_5"] == 0.0
    assert recall_at_k(["a", "b"], {}, 5) == 1.0


def test_trec_eval_breaks_score_ties_by_docno_descending() -> None:
    """Why the run encodes ranks: raw tied scores would be reordered by trec_eval."""
    evaluator = pytrec_eval.RelevanceEvaluator({"q": {"a": 1}}, {"recip_rank"})
    tied = evaluator.evaluate({"q": {"a": 1.0, "b": 1.0}})
    assert tied["q"]["recip_rank"] == 0.5  # "b" outranks "a" on the tie
    assert reciprocal_rank_at_k(sorted(["b", "a"]), {"a": 1.0}, 2) == 1.0


def test_precision_divides_by_k_for_short_rankings_like_trec_eval() -> None:
    evaluator = pytrec_eval.RelevanceEvaluator({"q": {"a": 1, "b": 1}}, {"P.10"})
    trec = evaluator.evaluate({"q": {"a": 3.0, "x": 2.0, "b": 1.0}})
    assert precision_at_k(["a", "x", "b"], {"a": 1.0, "b": 1.0}, 10) == trec["q"]["P_10"] == 0.2
