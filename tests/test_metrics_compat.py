"""``--metrics_compat reference``: graded nDCG with the reference's grade pairing.

The reference replaces a query's relevant ids by ``list(set(labels))`` and then zips them with the
grades in qrels order. :func:`reference_ndcg` below is that computation written out from the
reference's description (``RankingMetrics.evaluate`` / ``ndcg_at_k``), independently of the
harness's metric code, so the two can be compared on random graded qrels.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from harness.cli.reference_compat import main
from harness.metrics import score_rankings
from harness.metrics.reference_pairing import reference_pairing, seed_dependent

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "golden" / "tiny-qwen2vl"
PAGES = ROOT / "tests" / "data" / "visdoc_pages"


def reference_ndcg(prediction: list, labels: list, rel_scores: list, k: int) -> float:
    """The reference's graded linear nDCG@k for one query (labels in qrels order, typed ids)."""
    true_labels = list(set(labels))
    label_rels = dict(zip(true_labels, rel_scores, strict=True))
    gains = [label_rels.get(item, 0) for item in prediction[:k]]
    ideal = sorted(label_rels.values(), reverse=True)[:k]

    def dcg(values: list) -> float:
        return sum(value / math.log2(index + 2) for index, value in enumerate(values))

    ideal_dcg = dcg(ideal) if ideal else 1
    return dcg(gains) / ideal_dcg if ideal_dcg > 0 else 0.0


def test_the_set_order_moves_grades_between_documents():
    # set([5, 2]) iterates 2 before 5, so the first grade (5's) goes to 2
    assert list(set([5, 2])) == [2, 5]
    assert reference_pairing({"5": 2.0, "2": 1.0}, (5, 2)) == {"2": 2.0, "5": 1.0}
    assert reference_pairing({"2": 2.0, "5": 1.0}, (2, 5)) == {"2": 2.0, "5": 1.0}  # already in set order
    assert not seed_dependent({"5": 2.0, "2": 1.0}, (5, 2))  # integers: the same order in every process
    assert seed_dependent({"a": 2.0, "b": 1.0}, ("a", "b"))
    assert not seed_dependent({"a": 1.0, "b": 1.0}, ("a", "b"))  # equal grades: any pairing is the same


def test_scores_with_the_reference_pairing_equal_the_reference_computation():
    rng = random.Random(7)
    rankings, relevances, expected = [], [], {5: [], 10: []}
    for _ in range(200):
        corpus = rng.sample(range(1, 400), 30)
        relevant = rng.sample(corpus, rng.randint(1, 6))
        grades = [float(rng.randint(1, 3)) for _ in relevant]
        prediction = corpus[:]
        rng.shuffle(prediction)
        correct = dict(zip(map(str, relevant), grades, strict=True))
        rankings.append([str(doc) for doc in prediction])
        relevances.append(reference_pairing(correct, relevant))
        for k in expected:
            expected[k].append(reference_ndcg(prediction, relevant, grades, k))
    scores = score_rankings(rankings, relevances, ["ndcg"], [5, 10])
    for k, values in expected.items():
        assert scores[f"ndcg_linear@{k}"] == pytest.approx(sum(values) / len(values), abs=1e-12)


# --- end to end: a graded visdoc task, scored both ways ------------------------------------------


@pytest.fixture(scope="module")
def graded_basedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datasets

    base = tmp_path_factory.mktemp("graded")
    folder = base / "visdoc-tasks" / "data" / "ViDoRe_esg_reports_human_labeled_v2"
    folder.mkdir(parents=True)
    pages = sorted(PAGES.glob("*.png"))
    ids = [100 + i for i in range(len(pages))]
    queries = [{"query-id": 1, "query": "renewable share"}, {"query-id": 2, "query": "scope 3 emissions"}]
    # query 1's documents in qrels order are 101 (grade 2) and 104 (grade 1); set([101, 104]) iterates
    # 104 first, so the reference gives 104 the grade 2 and 101 the grade 1
    qrels = [
        {"query-id": 1, "corpus-id": ids[1], "score": 2},
        {"query-id": 1, "corpus-id": ids[4], "score": 1},
        {"query-id": 2, "corpus-id": ids[3], "score": 1},
    ]
    assert list(set([ids[1], ids[4]])) == [ids[4], ids[1]]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qrels))
    datasets.Dataset.from_dict(
        {"corpus-id": ids, "image": [{"bytes": page.read_bytes(), "path": None} for page in pages]},
        features=datasets.Features({"corpus-id": datasets.Value("int64"), "image": datasets.Image()}),
    ).to_parquet(str(folder / "corpus.parquet"))
    config = base / "visdoc.yaml"
    config.write_text(
        "ViDoRe_esg_reports_human_labeled_v2:\n  dataset_parser: vidore\n"
        "  dataset_name: ViDoRe_esg_reports_human_labeled_v2\n"
        "  image_root: visdoc-tasks/esg_reports_human_labeled_v2\n  eval_type: global\n"
    )
    return base


def run(base: Path, out: Path, *extra: str) -> dict:
    argv = [
        "--model_name",
        str(TINY),
        "--model_backbone",
        "qwen2_vl",
        "--dataset_config",
        str(base / "visdoc.yaml"),
        "--encode_output_path",
        str(out),
        "--data_basedir",
        str(base),
        "--resize_max_pixels",
        "50176",
        "--no_cache",
        *extra,
    ]
    assert main(argv) == 0
    return json.loads((out / "ViDoRe_esg_reports_human_labeled_v2_score.json").read_text())


def test_both_pairings_are_reported_and_the_flag_chooses_the_score(
    graded_basedir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ours = run(graded_basedir, tmp_path / "harness")
    note = [line for line in capsys.readouterr().err.splitlines() if "set() pairing" in line]
    assert len(note) == 1 and "--metrics_compat harness" in note[0]
    theirs = run(graded_basedir, tmp_path / "reference", "--metrics_compat", "reference")
    assert "--metrics_compat reference" in capsys.readouterr().err
    # each file keeps the other pairing's differing metrics under a named key
    other_of_ours = ours.pop("metrics_reference_pairing")
    other_of_theirs = theirs.pop("metrics_harness_pairing")
    assert other_of_ours and set(other_of_ours) == set(other_of_theirs)
    assert all(key.startswith("ndcg_") for key in other_of_ours)  # only nDCG reads grades
    for key, value in other_of_ours.items():
        assert theirs[key] == value and other_of_theirs[key] == ours[key] and ours[key] != value
    for key in ours:  # everything else is the same in both files
        if key not in other_of_ours:
            assert ours[key] == theirs[key]
    run_file = json.loads((tmp_path / "reference" / "leaderboard.json").read_text())
    assert run_file["run"]["metrics_compat"] == "reference"


def test_binary_relevance_has_no_second_pairing(tmp_path: Path):
    import datasets

    from harness.data import load_task_data
    from harness.engine.grade_pairing import scores_with_pairing
    from harness.engine.rank import Rankings
    from harness.taskspec import TaskIndex

    spec = TaskIndex().tasks["ViDoRe_arxivqa"].spec
    folder = tmp_path / "visdoc-tasks" / "data" / "ViDoRe_arxivqa"
    folder.mkdir(parents=True)
    (folder / "queries.jsonl").write_text('{"query-id": 1, "query": "x"}\n')
    qrels = '{"query-id": 1, "corpus-id": 5, "score": 1}\n{"query-id": 1, "corpus-id": 2, "score": 1}\n'
    (folder / "qrels.jsonl").write_text(qrels)
    page = {"bytes": sorted(PAGES.glob("*.png"))[0].read_bytes(), "path": None}
    datasets.Dataset.from_dict(
        {"corpus-id": [5, 2], "image": [page, page]},
        features=datasets.Features({"corpus-id": datasets.Value("int64"), "image": datasets.Image()}),
    ).to_parquet(str(folder / "corpus.parquet"))
    data = load_task_data(spec, tmp_path, "local", None).data
    assert data.queries[0].relevance_raw_ids == (5, 2)  # typed as the qrels store them
    rankings = Rankings([["2", "5"]], [[0.5, 0.4]])
    scored = scores_with_pairing(spec, data, rankings, [dict(q.relevance) for q in data.queries], "reference")
    assert scored.extra == {}


def test_a_reference_paired_run_makes_no_leaderboard_entry(graded_basedir: Path, tmp_path: Path):
    from harness.leaderboard.checks import EntryError
    from harness.leaderboard.migrate import migrate_run_entry

    run(graded_basedir, tmp_path / "reference", "--metrics_compat", "reference")
    payload = json.loads((tmp_path / "reference" / "leaderboard.json").read_text())
    with pytest.raises(EntryError, match="run.metrics_compat: .*rerun without it"):
        migrate_run_entry(payload)


def test_a_qrels_id_that_is_not_text_or_a_number_is_named(tmp_path: Path):
    from harness.data.corpus import load_qrels
    from harness.errors import DataError
    from harness.taskspec import TaskIndex

    spec = TaskIndex().tasks["ViDoRe_arxivqa"].spec
    folder = tmp_path / "visdoc-tasks" / "data" / "ViDoRe_arxivqa"
    folder.mkdir(parents=True)
    (folder / "qrels.jsonl").write_text('{"query-id": 1, "corpus-id": [1, 2], "score": 1}\n')
    with pytest.raises(DataError, match=r"qrels.jsonl:1: relevance: 'corpus-id' must be a text or number id, got list"):
        load_qrels(spec.task, spec.relevance, tmp_path, "local")  # type: ignore[arg-type]
