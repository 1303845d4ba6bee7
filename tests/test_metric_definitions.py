"""MMEB-V3's metric definitions (VLM2Vec @44f991d): one uncut ``mrr`` and recall 0.0 without relevant
items, beside MMEB-V2's (@6e1e1d4: ``mrr@k``, recall 1.0). The uncut MRR needs each query's rank of
its first relevant candidate in the whole ranking, whatever depth of ranking is kept."""

from __future__ import annotations

import numpy as np
import pytest

from harness.engine.rank import first_relevant_rank, rank_global, rank_local
from harness.metrics import score_rankings
from harness.taskspec.schema import MetricSpec


def full_stable_rank(scores: np.ndarray, positions: list[int]) -> int:
    order = list(np.argsort(-scores, kind="stable"))
    ranks = [order.index(p) + 1 for p in positions]
    return min(ranks) if ranks else 0


def test_first_relevant_rank_equals_the_position_in_the_full_stable_order():
    rng = np.random.default_rng(3)
    for _ in range(300):
        scores = rng.integers(0, 6, size=40).astype(np.float32)  # many exact ties
        positions = sorted(rng.choice(40, size=rng.integers(0, 4), replace=False).tolist())
        assert first_relevant_rank(scores, positions) == full_stable_rank(scores, positions)


def test_ranking_functions_give_the_uncut_rank_beyond_the_kept_depth():
    rng = np.random.default_rng(5)
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    candidates = rng.normal(size=(60, 8)).astype(np.float32)
    ids = [f"c{i}" for i in range(60)]
    relevant = [{f"c{i}" for i in rng.choice(60, size=2, replace=False)} for _ in range(20)]
    shallow = rank_global(queries, candidates, ids, depth=3, relevant=relevant)
    full = rank_global(queries, candidates, ids, depth=None)
    expected = [next(i + 1 for i, c in enumerate(r) if c in rel) for r, rel in zip(full.ids, relevant, strict=True)]
    assert shallow.first_relevant == expected and max(expected) > 3  # some lie below the kept depth
    lists = [[f"c{i}" for i in rng.choice(60, size=12, replace=False)] for _ in range(20)]
    local_relevant = [set(lst[5:7]) for lst in lists]
    positions = {c: i for i, c in enumerate(ids)}
    local = rank_local(queries, candidates, positions, lists, depth=2, relevant=local_relevant)
    whole = rank_local(queries, candidates, positions, lists, depth=None)
    expected = [
        next(i + 1 for i, c in enumerate(r) if c in rel) for r, rel in zip(whole.ids, local_relevant, strict=True)
    ]
    assert local.first_relevant == expected


def test_v3_definitions_give_one_uncut_mrr_and_zero_recall_without_relevant_items():
    rankings = [["a", "b", "c"], ["x", "y", "z"], ["p", "q", "r"]]
    relevances = [{"c": 1.0}, {}, {"far": 1.0}]
    v2 = score_rankings(rankings, relevances, ["recall", "mrr"], [1, 2])
    v3 = score_rankings(rankings, relevances, ["recall", "mrr"], [1, 2], "vlm2vec-44f991d", first_relevant=[3, 0, 40])
    assert list(v2) == ["recall@1", "recall@2", "mrr@1", "mrr@2"]
    assert list(v3) == ["recall@1", "recall@2", "mrr"]
    assert v2["recall@1"] == pytest.approx(1 / 3)  # the query without relevant items recalls 1.0
    assert v3["recall@1"] == 0.0
    assert v2["mrr@2"] == 0.0 and v3["mrr"] == pytest.approx((1 / 3 + 0 + 1 / 40) / 3)
    # without first_relevant the rankings are taken as whole rankings
    assert score_rankings(rankings, relevances, ["mrr"], [1], "vlm2vec-44f991d")["mrr"] == pytest.approx(1 / 9)


def test_a_v3_main_metric_cannot_be_a_cut_mrr():
    with pytest.raises(ValueError, match="one uncut 'mrr'"):
        MetricSpec(families=["mrr"], k=[1], main="mrr@1", definitions="vlm2vec-44f991d")
    assert MetricSpec(main="hit@1", definitions="vlm2vec-44f991d").definitions == "vlm2vec-44f991d"


def test_an_engine_run_with_v3_definitions_writes_the_uncut_mrr_whatever_the_predictions_depth(tmp_path):
    import json

    import harness
    from harness.demo import demo_paths

    task_file = tmp_path / "v3.yaml"
    task_file.write_text(
        "include: harness:demo/demo_image_to_text_global.yaml\ntask: v3/demo_global\n"
        "metrics: {definitions: vlm2vec-44f991d}\n"
    )
    demo = demo_paths()
    scores = {}
    for predictions in ("topk", "full"):
        out = tmp_path / predictions
        harness.evaluate(
            "vlm2vec",
            {"pretrained": str(demo.checkpoint), "max_pixels": 50176},
            [str(task_file)],
            data_basedir=demo.data_basedir,
            output_path=out,
            predictions=predictions,
            top_k=1,
        )
        scores[predictions] = json.loads((out / "v3" / "demo_global_score.json").read_text())
        assert "mrr" in scores[predictions] and "mrr@1" not in scores[predictions]
    assert scores["topk"]["mrr"] == scores["full"]["mrr"]
    pred = [json.loads(line) for line in (tmp_path / "full" / "v3" / "demo_global_pred.jsonl").read_text().splitlines()]
    ranks = [next((i + 1 for i, c in enumerate(p["prediction"]) if c in p["label"]), 0) for p in pred]
    assert scores["full"]["mrr"] == pytest.approx(float(np.mean([1 / r if r else 0.0 for r in ranks])))
