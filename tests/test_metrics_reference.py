"""The ranking metrics reproduce VLM2Vec's ``RankingMetrics`` on hand-computed examples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.metrics import (
    DEFAULT_K,
    METRIC_FAMILIES,
    average_precision_at_k,
    f1_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
    score_rankings,
)

GOLDEN_DIR = Path(__file__).parent / "data" / "golden_dev_eval"
GOLDEN_SUBSETS = ("CIRR", "ImageNet-1K", "RefCOCO-Matching", "VisDial", "WebQA")
PER_QUERY = {
    "hit": hit_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
    "f1": f1_at_k,
    "map": average_precision_at_k,
    "mrr": reciprocal_rank_at_k,
    "ndcg_linear": lambda r, rel, k: ndcg_at_k(r, rel, k, gain="linear"),
    "ndcg_exponential": lambda r, rel, k: ndcg_at_k(r, rel, k, gain="exponential"),
}
LOG2_3 = math.log2(3)


def binary(*ids: str) -> dict[str, float]:
    return dict.fromkeys(ids, 1.0)


# --- hit ---------------------------------------------------------------------------


def test_hit_is_one_when_any_relevant_id_is_in_top_k() -> None:
    assert hit_at_k(["x", "a", "y"], binary("a", "z"), 2) == 1.0


def test_hit_is_zero_when_relevant_ids_are_below_k() -> None:
    assert hit_at_k(["x", "y", "a"], binary("a"), 2) == 0.0


@pytest.mark.parametrize("family", ["hit", "precision", "f1", "map", "mrr", "ndcg_linear"])
def test_metrics_are_zero_when_nothing_is_relevant(family: str) -> None:
    assert PER_QUERY[family](["a", "b"], {}, 2) == 0.0


# --- precision, recall, f1 ---------------------------------------------------------


def test_precision_divides_by_k_even_with_fewer_candidates() -> None:
    assert precision_at_k(["a", "b"], binary("a"), 10) == 0.1


def test_precision_counts_a_duplicated_relevant_id_once() -> None:
    assert precision_at_k(["a", "a", "b"], binary("a"), 2) == 0.5


def test_recall_divides_by_the_number_of_relevant_ids() -> None:
    assert recall_at_k(["a", "x", "b"], binary("a", "b", "c", "d"), 2) == 0.25


def test_recall_is_one_when_nothing_is_relevant_as_in_reference() -> None:
    # The reference returns 1.0 ("all zero relevant items were recalled"); trec_eval says 0.
    assert recall_at_k(["a", "b"], {}, 2) == 1.0


def test_f1_is_the_harmonic_mean_of_precision_and_recall() -> None:
    # P@4 = 1/4, R@4 = 1/2.
    assert f1_at_k(["a", "x", "y", "z"], binary("a", "b"), 4) == pytest.approx(1 / 3)


def test_f1_is_zero_when_precision_and_recall_are_zero() -> None:
    assert f1_at_k(["x", "y"], binary("a"), 2) == 0.0


# --- average precision -------------------------------------------------------------


def test_average_precision_averages_precision_at_each_relevant_rank() -> None:
    assert average_precision_at_k(["a", "x", "b"], binary("a", "b"), 3) == (1 + 2 / 3) / 2


def test_average_precision_normalises_by_min_of_relevant_count_and_k() -> None:
    # Three relevant ids but k = 2: divide by 2, not 3 (trec_eval's map_cut divides by 3).
    assert average_precision_at_k(["a", "b", "c"], binary("a", "b", "c"), 2) == 1.0


def test_average_precision_is_zero_without_a_hit_in_top_k() -> None:
    assert average_precision_at_k(["x", "y", "a"], binary("a"), 2) == 0.0


def test_duplicate_relevant_id_counts_twice_in_average_precision() -> None:
    # Hits at ranks 1 and 2 add 1/1 + 2/2, divided by min(|R|, k) = 1.
    assert average_precision_at_k(["a", "a", "x"], binary("a"), 3) == 2.0


# --- reciprocal rank ---------------------------------------------------------------


def test_reciprocal_rank_is_the_inverse_rank_of_the_first_relevant_id() -> None:
    assert reciprocal_rank_at_k(["x", "y", "a", "b"], binary("a", "b"), 10) == 1 / 3


def test_reciprocal_rank_is_zero_when_the_first_relevant_id_is_below_k() -> None:
    assert reciprocal_rank_at_k(["x", "y", "a"], binary("a"), 2) == 0.0


# --- nDCG --------------------------------------------------------------------------


def test_binary_ndcg_discounts_by_log2_of_position_plus_one() -> None:
    assert ndcg_at_k(["x", "a"], binary("a"), 2) == 1 / LOG2_3


def test_binary_ndcg_ideal_list_has_min_of_relevant_count_and_k_ones() -> None:
    expected = (1 / LOG2_3) / (1 + 1 / LOG2_3)
    assert ndcg_at_k(["x", "a"], binary("a", "b", "c"), 2) == pytest.approx(expected)


def test_graded_ndcg_uses_each_documents_own_grade() -> None:
    # The reference can pair grades with the wrong labels; we never do.
    relevance = {"a": 3.0, "b": 1.0}
    expected = (1 + 3 / LOG2_3) / (3 + 1 / LOG2_3)
    assert ndcg_at_k(["b", "a"], relevance, 2, gain="linear") == pytest.approx(expected)


def test_exponential_ndcg_uses_two_to_the_grade_minus_one() -> None:
    relevance = {"a": 3.0, "b": 1.0}
    expected = (1 + 7 / LOG2_3) / (7 + 1 / LOG2_3)
    assert ndcg_at_k(["b", "a"], relevance, 2, gain="exponential") == pytest.approx(expected)


def test_linear_and_exponential_ndcg_agree_on_binary_relevance() -> None:
    ranking, relevance = ["x", "a", "y", "b"], binary("a", "b", "c")
    assert ndcg_at_k(ranking, relevance, 4, "linear") == ndcg_at_k(ranking, relevance, 4, "exponential")


def test_duplicate_relevant_id_counts_twice_in_ndcg() -> None:
    # Like the reference, nDCG can then exceed 1.
    assert ndcg_at_k(["a", "a"], binary("a"), 2) == 1 + 1 / LOG2_3


def test_ndcg_rejects_an_unknown_gain() -> None:
    with pytest.raises(ValueError, match="gain"):
        ndcg_at_k(["a"], binary("a"), 1, gain="cubic")  # type: ignore[arg-type]


@pytest.mark.parametrize("family", sorted(PER_QUERY))
def test_metrics_read_only_the_first_k_ids(family: str) -> None:
    relevance = {"a": 2.0, "b": 1.0}
    full, top = ["x", "a", "y", "b", "a"], ["x", "a", "y"]
    assert PER_QUERY[family](full, relevance, 3) == PER_QUERY[family](top, relevance, 3)


# --- score_rankings ----------------------------------------------------------------


def test_default_score_keys_follow_family_then_ascending_k_order() -> None:
    names = ["hit", "ndcg_linear", "ndcg_exponential", "precision", "recall", "f1", "map", "mrr"]
    expected = [f"{name}@{k}" for name in names for k in (1, 5, 10)]
    assert list(score_rankings([["a"]], [binary("a")])) == expected


def test_defaults_are_the_reference_families_and_k_values() -> None:
    assert METRIC_FAMILIES == ("hit", "ndcg", "precision", "recall", "f1", "map", "mrr")
    assert DEFAULT_K == (1, 5, 10)


def test_family_order_follows_the_requested_order() -> None:
    scores = score_rankings([["a"]], [binary("a")], metrics=["mrr", "ndcg", "hit"], k_values=[1])
    assert list(scores) == ["mrr@1", "ndcg_linear@1", "ndcg_exponential@1", "hit@1"]


def test_k_values_are_sorted_and_deduplicated() -> None:
    scores = score_rankings([["a"]], [binary("a")], metrics=["hit"], k_values=[10, 2, 10])
    assert list(scores) == ["hit@2", "hit@10"]


def test_scores_are_python_floats() -> None:
    scores = score_rankings([["a", "b"], ["b"]], [binary("b"), binary("b")])
    assert all(type(value) is float for value in scores.values())


def test_scores_are_plain_means_over_queries() -> None:
    scores = score_rankings([["a", "x"], ["x", "a"], ["x", "y"]], [binary("a")] * 3, metrics=["mrr"], k_values=[2])
    assert scores == {"mrr@2": pytest.approx((1 + 0.5 + 0) / 3)}


def test_empty_input_scores_every_metric_zero() -> None:
    scores = score_rankings([], [])
    assert len(scores) == 24
    assert set(scores.values()) == {0.0}


def test_rankings_longer_than_the_largest_k_are_truncated() -> None:
    long = score_rankings([["x", "y", "a"]], [binary("a")], k_values=[2])
    short = score_rankings([["x", "y"]], [binary("a")], k_values=[2])
    assert long == short


def test_score_rankings_accepts_tuples_and_grades_as_ints() -> None:
    scores = score_rankings([("a", "b")], [{"b": 1}], metrics=["mrr"], k_values=[2])
    assert scores == {"mrr@2": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rankings": [["a"]], "relevances": []}, "1 rankings but 0"),
        ({"metrics": ["hit", "auc"]}, "unknown metric families"),
        ({"metrics": "hit"}, "not the string"),
        ({"metrics": []}, "at least one metric family"),
        ({"k_values": [1, 0]}, "integers >= 1"),
        ({"k_values": [2.5]}, "integers >= 1"),
        ({"k_values": [True]}, "integers >= 1"),
        ({"k_values": []}, "at least one k"),
        ({"relevances": [["a"]]}, "must be a mapping"),
    ],
)
def test_score_rankings_rejects_bad_input_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    call: dict[str, object] = {"rankings": [["a"]], "relevances": [binary("a")], **kwargs}
    with pytest.raises(ValueError, match=message):
        score_rankings(**call)  # type: ignore[arg-type]


def _random_queries(seed: int, n: int) -> tuple[list[list[str]], list[dict[str, float]]]:
    """Short, long, duplicated, graded and empty-relevance queries, to hit every branch."""
    rng = np.random.default_rng(seed)
    pool = [f"c{i}" for i in range(15)]
    rankings, relevances = [], []
    for _ in range(n):
        ranking = [str(c) for c in rng.choice(pool, size=rng.integers(0, 14), replace=False)]
        if ranking and rng.random() < 0.2:
            ranking.insert(int(rng.integers(0, len(ranking))), ranking[0])
        relevant = rng.choice(pool, size=rng.integers(0, 5), replace=False)
        graded = rng.random() < 0.5
        relevances.append({str(c): float(rng.integers(1, 4)) if graded else 1.0 for c in relevant})
        rankings.append(ranking)
    return rankings, relevances


@pytest.mark.parametrize("k_values", [DEFAULT_K, (1, 3, 20), (7,)])
def test_score_rankings_equals_mean_of_per_query_functions_bit_for_bit(
    k_values: tuple[int, ...],
) -> None:
    rankings, relevances = _random_queries(seed=sum(k_values), n=400)
    scores = score_rankings(rankings, relevances, k_values=k_values)
    for key, value in scores.items():
        name, k = key.rsplit("@", 1)
        per_query = [PER_QUERY[name](r, rel, int(k)) for r, rel in zip(rankings, relevances, strict=True)]
        assert value == float(np.mean(per_query)), key


# --- golden reference output ---------------------------------------------------------


def _load_golden(subset: str) -> tuple[list[list[str]], list[dict[str, float]], dict]:
    rankings, relevances = [], []
    with open(GOLDEN_DIR / f"{subset}_pred.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            labels = row["label"] if isinstance(row["label"], list) else [row["label"]]
            grades = row.get("rel_scores") or [1.0] * len(labels)
            rankings.append(row["prediction"])
            relevances.append(dict(zip(labels, grades, strict=True)))
    expected = json.loads((GOLDEN_DIR / f"{subset}_score.json").read_text(encoding="utf-8"))
    return rankings, relevances, expected


@pytest.mark.parametrize("subset", GOLDEN_SUBSETS)
def test_golden_dev_eval_scores_match_the_reference(subset: str) -> None:
    rankings, relevances, expected = _load_golden(subset)
    for counter in ("num_pred", "num_data"):
        assert expected.pop(counter) == len(rankings)
    scores = score_rankings(rankings, relevances)
    assert list(scores) == list(expected)
    assert scores == {key: pytest.approx(value, rel=1e-12) for key, value in expected.items()}
