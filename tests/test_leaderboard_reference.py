"""Reference entries: imported from the published score files, committed, and faithful to them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.cli.leaderboard_commands import task_catalogue
from harness.leaderboard import EntryError, import_reference, list_entries, to_mmeb
from harness.leaderboard.reference import BENCHMARK, EXCLUDED_KEYS, SCORE_SETS, reference_entry
from harness.taskspec import TaskIndex

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "leaderboard"
SOURCE = REPO.parent / "shared" / "reference" / "mmeb_v2_published_scores"
needs_source = pytest.mark.skipif(not SOURCE.is_dir(), reason=f"published score files not found at {SOURCE}")


@pytest.fixture(scope="module")
def committed():
    """The committed MMEB-V2 reference entries (MMEB-V3's paper entries: test_leaderboard_reference_v3)."""
    return {
        (s.entry.benchmark.version, s.entry.model.name): s.entry
        for s in list_entries(COMMITTED)
        if s.entry.benchmark.name == BENCHMARK
    }


def test_published_vlm2vec_v2_aggregates_recompute_from_the_entry(committed):
    # The published numbers (paper Table 2 / the issue): image 64.9, video 34.6, visdoc 65.4, overall 58.0.
    entry = committed[("v2.0.0", "VLM2Vec-V2.0-Qwen2VL-2B")]
    modalities = entry.aggregates.modalities
    assert round(100 * modalities["image"], 1) == 64.9
    assert round(100 * modalities["video"], 1) == 34.6
    assert round(100 * modalities["visdoc"], 1) == 65.4
    assert round(100 * entry.aggregates.overall, 1) == 58.0


def test_full_score_sets_have_the_78_tasks_in_mmeb_meta_task_sizes(committed):
    expected = {
        "I-CLS": 10,
        "I-QA": 10,
        "I-RET": 12,
        "I-VG": 4,
        "V-CLS": 5,
        "V-QA": 5,
        "V-RET": 5,
        "V-MRET": 3,
        "VD-ViDoRe-V1": 10,
        "VD-ViDoRe-V2": 4,
        "VD-VisRAG": 6,
        "VD-OOD": 4,
    }
    for (version, _model), entry in committed.items():
        sizes = Counter(result.meta_task for _m, result in entry.tasks().values())
        if version == "v2.1":
            assert set(entry.scores) == {"visdoc"} and len(entry.tasks()) == 22
        else:
            assert dict(sizes) == expected


def test_every_published_model_and_version_is_committed(committed):
    models = {model for _version, model in committed}
    assert len(models) == 8
    assert Counter(version for version, _model in committed) == {s.version: 8 for s in SCORE_SETS}


@needs_source
def test_rerunning_the_importer_reproduces_the_committed_entries_byte_for_byte(tmp_path):
    report = import_reference(SOURCE, tmp_path, task_catalogue(TaskIndex(), BENCHMARK))
    written = sorted(p.relative_to(tmp_path) for p in report.written)
    committed = sorted(p.relative_to(COMMITTED) for p in (COMMITTED / "entries").glob("mmeb_v2@*/*.json"))
    assert written == committed
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (COMMITTED / relative).read_bytes(), relative


@needs_source
def test_mmeb_export_gives_back_the_published_score_file(committed):
    published = json.loads((SOURCE / "v2.0.1" / "gme-Qwen2-VL-2B-Instruct.json").read_text())
    exported = to_mmeb(committed[("v2.0.1", "gme-Qwen2-VL-2B-Instruct")])
    for modality, tasks in published["metrics"].items():
        kept = {task: scores for task, scores in tasks.items() if task not in EXCLUDED_KEYS}
        assert exported["metrics"][modality] == kept
    assert exported["metadata"]["model_name"] == published["metadata"]["model_name"]


@needs_source
def test_unmapped_dataset_key_is_an_error_and_nothing_is_written(tmp_path):
    source = tmp_path / "scores"
    for score_set in SCORE_SETS:
        (source / score_set.folder).mkdir(parents=True)
        payload = json.loads((SOURCE / score_set.folder / "colpali-v1.3.json").read_text())
        if score_set is SCORE_SETS[-1]:  # the last set fails after the others were read
            payload["metrics"]["visdoc"]["ViDoRe_made_up"] = payload["metrics"]["visdoc"]["ViDoRe_arxivqa"]
        (source / score_set.folder / "colpali-v1.3.json").write_text(json.dumps(payload))
    with pytest.raises(EntryError, match=r"metrics\.visdoc\.ViDoRe_made_up: no visdoc task of mmeb_v2"):
        import_reference(source, tmp_path / "board", task_catalogue(TaskIndex(), BENCHMARK))
    assert not (tmp_path / "board" / "entries").exists()


def _score_file(tmp_path, **metric_values):
    values = {"hit@1": 0.5, "num_data": 100, **metric_values}
    payload = {"metadata": {"model_name": "m", "report_generated_date": "2025"}, "metrics": {"visdoc": {}}}
    payload["metrics"]["visdoc"]["ViDoRe_arxivqa"] = {"ndcg_linear@5": 0.5, **values}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(payload, allow_nan=True))
    return path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ndcg_linear@5": float("nan")}, r"m\.json: not valid JSON \(NaN is not a JSON number"),
        ({"ndcg_linear@5": "0.5"}, r"m\.json: metrics\.visdoc\.ViDoRe_arxivqa\.main_score: Input should be a valid"),
        ({"hit@1": True}, r"m\.json: metrics\.visdoc\.ViDoRe_arxivqa\.metrics\.hit@1: Input should be a valid number"),
        ({"num_data": 1.5}, r"m\.json: metrics\.visdoc\.ViDoRe_arxivqa\.num_queries: Input should be a valid integer"),
    ],
)
def test_published_score_file_with_a_bad_number_is_one_error_naming_file_and_field(tmp_path, values, message):
    with pytest.raises(EntryError, match=message):
        reference_entry(_score_file(tmp_path, **values), SCORE_SETS[-1], task_catalogue(TaskIndex(), BENCHMARK), {})


def test_published_score_file_without_a_model_name_is_an_error_not_a_traceback(tmp_path):
    path = _score_file(tmp_path)
    payload = json.loads(path.read_text())
    del payload["metadata"]["model_name"]
    path.write_text(json.dumps(payload))
    with pytest.raises(EntryError, match=r"m\.json: model\.name: Input should be a valid string"):
        reference_entry(path, SCORE_SETS[-1], task_catalogue(TaskIndex(), BENCHMARK), {})
