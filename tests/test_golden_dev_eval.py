"""End to end on the golden dev rows: scores, rankings and info files equal the reference's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.results import read_embeddings

GOLDEN = Path(__file__).parent / "data" / "golden"
SUBSETS = ["CIRR", "ImageNet-1K", "RefCOCO-Matching", "VisDial", "WebQA"]


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("mmeb")
    shutil.copytree(GOLDEN / "media" / "image-tasks", base / "image-tasks")
    for subset in SUBSETS:
        target = base / "MMEB_Test_Instruct" / subset
        target.mkdir(parents=True)
        shutil.copy(GOLDEN / "image-tasks-dev" / f"{subset}.jsonl", target / "test.jsonl")
    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            "run",
            "--model",
            "vlm2vec",
            "--model_args",
            f"pretrained={GOLDEN / 'tiny-qwen2vl'},max_pixels=50176",
            "--tasks",
            ",".join(SUBSETS),
            "--batch_size",
            "16",
            "--data_basedir",
            str(base),
            "--output_path",
            str(out),
            "--predictions",
            "full",
        ]
    )
    assert code == 0
    return out


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()]


@pytest.mark.parametrize("subset", SUBSETS)
def test_scores_equal_the_reference_score_file(dev_run, subset):
    ours = json.loads((dev_run / f"{subset}_score.json").read_text())
    reference = json.loads((GOLDEN / "dev_eval" / f"{subset}_score.json").read_text())
    assert list(ours) == list(reference)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("subset", SUBSETS)
def test_full_rankings_and_labels_equal_the_reference(dev_run, subset):
    ours = _jsonl(dev_run / f"{subset}_pred.jsonl")
    reference = _jsonl(GOLDEN / "dev_eval" / f"{subset}_pred.jsonl")
    assert [(p["prediction"], p["label"]) for p in ours] == [(p["prediction"], p["label"]) for p in reference]


@pytest.mark.parametrize("subset", SUBSETS)
def test_info_files_equal_the_reference(dev_run, subset):
    assert _jsonl(dev_run / f"{subset}_info.jsonl") == _jsonl(GOLDEN / "dev_eval" / f"{subset}_info.jsonl")


@pytest.mark.parametrize("subset", SUBSETS)
def test_written_embeddings_match_the_reference_embeddings(dev_run, subset):
    query, _ = read_embeddings(dev_run / f"{subset}_qry")
    assert (query * np.load(GOLDEN / "dev_eval" / f"{subset}_qry.npy")).sum(axis=1).min() >= 0.99999
    candidates, ids = read_embeddings(dev_run / f"{subset}_tgt")
    reference_ids = json.loads((GOLDEN / "dev_eval" / f"{subset}_tgt_keys.json").read_text())
    assert ids == reference_ids
    assert (candidates * np.load(GOLDEN / "dev_eval" / f"{subset}_tgt.npy")).sum(axis=1).min() >= 0.99999


def test_leaderboard_entry_records_scores_and_means(dev_run):
    entry = json.loads((dev_run / "leaderboard.json").read_text())
    assert entry["schema_version"] == "1.0"
    assert set(entry["tasks"]) == set(SUBSETS)
    mains = [entry["tasks"][s]["main_score"] for s in SUBSETS]
    assert entry["overall"] == pytest.approx(sum(mains) / len(mains))
    assert entry["modalities"]["image"] == pytest.approx(0.6)
    meta = entry["model"]["adapter_metadata"]
    assert meta["backbone"] == "qwen2_vl" and meta["dtype"] == "float32" and meta["settings"]["max_pixels"] == 50176
    assert entry["tasks"]["CIRR"]["version"] == "1.0"
    assert entry["tasks"]["CIRR"]["dataset"]["kind"] == "local"
    assert entry["harness"]["version"]
