"""run_vlm2vec_qwen2vl_2b_eval.py runs a whole modality group and writes under <model>/<modality>/.

Fixture data: every one of the 36 image tasks gets the golden dev rows of a subset that uses the
same reference parser, so the whole mmeb_v2_image group runs offline with the tiny checkpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.modality_runner import main
from harness.taskspec import TaskIndex

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
ROWS_BY_PARSER = {
    "_image_cls.yaml": "ImageNet-1K",
    "_image_qa.yaml": "ImageNet-1K",
    "_image_i2t.yaml": "ImageNet-1K",
    "_image_t2i.yaml": "VisDial",
    "_image_i2i_vg.yaml": "CIRR",
}


def _parser_of(source: Path) -> str:
    for line in source.read_text().splitlines():
        if line.startswith("include:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{source} has no include")


@pytest.fixture(scope="module")
def image_basedir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("mmeb_all_image")
    shutil.copytree(GOLDEN / "media" / "image-tasks", base / "image-tasks")
    for name in TaskIndex().expand("mmeb_v2_image"):
        loaded = TaskIndex().tasks[name]
        subset = (
            name
            if (GOLDEN / "image-tasks-dev" / f"{name}.jsonl").exists()
            else ROWS_BY_PARSER[_parser_of(loaded.source)]
        )
        target = base / "MMEB_Test_Instruct" / name
        target.mkdir(parents=True)
        shutil.copy(GOLDEN / "image-tasks-dev" / f"{subset}.jsonl", target / "test.jsonl")
    return base


def test_image_modality_runs_all_36_tasks_into_model_and_modality_folder(image_basedir, tmp_path):
    code = main(
        [
            "--modality",
            "image",
            "--model_name",
            str(GOLDEN / "tiny-qwen2vl"),
            "--resize_max_pixels",
            "50176",
            "--data_basedir",
            str(image_basedir),
            "--output_basedir",
            str(tmp_path),
            "--gpu_ids",
            "0",
        ]
    )
    assert code == 0
    out = tmp_path / "tiny-qwen2vl" / "image"
    entry = json.loads((out / "leaderboard.json").read_text())
    assert len(entry["tasks"]) == 36
    assert entry["groups"]["mmeb_v2_image"]["complete"] is True
    for meta in ("I-CLS", "I-QA", "I-RET", "I-VG"):
        assert entry["groups"][meta]["score"] is not None
    reference = json.loads((GOLDEN / "dev_eval" / "CIRR_score.json").read_text())
    assert json.loads((out / "CIRR_score.json").read_text()) == pytest.approx(reference, abs=1e-12)


def test_several_gpu_ids_relaunch_the_runner_as_one_torchrun_rank_per_gpu(monkeypatch, image_basedir, tmp_path):
    from harness.cli import modality_runner

    launched = {}

    def fake_run(command, env, check):
        launched.update(command=command, env=env)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(modality_runner.subprocess, "run", fake_run)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    args = ["--modality", "image", "--gpu_ids", "0,1", "--data_basedir", str(image_basedir), "--limit", "1"]
    assert main(args) == 0
    command = launched["command"]
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[5:7] == ["-m", "harness.cli.modality_runner"] and command[7:] == args


def test_runner_script_rejects_an_unknown_backbone(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_vlm2vec_qwen2vl_2b_eval.py"), "--model_backbone", "phi3_v"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "phi3_v is not supported" in result.stderr
