"""The bundled demo runs offline with no arguments and measures real signal.

The shipped checkpoint was trained (scripts/train_demo_model.py) on synthetic images disjoint
from the shipped test rows; a randomly initialised model of the same configuration must score
near chance on the same tasks, so the gap is the pipeline measuring learning, not an artefact.
"""

from __future__ import annotations

import json
import shutil

import pytest

from harness.cli import main
from harness.demo import demo_paths

DEMO_TASKS = ("demo_shape_color_cls", "demo_text_to_image", "demo_image_to_text_global")
CHANCE = {"demo_shape_color_cls": 1 / 8, "demo_text_to_image": 1 / 8, "demo_image_to_text_global": 1 / 24}


@pytest.fixture(scope="module")
def demo_entry(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("demo_cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        assert main(["run"]) == 0
    return json.loads((workdir / "results" / "demo" / "leaderboard.json").read_text())


@pytest.fixture(scope="module")
def random_init_entry(tmp_path_factory) -> dict:
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, Qwen2VLForConditionalGeneration

    demo = demo_paths()
    folder = tmp_path_factory.mktemp("random_init")
    for path in demo.checkpoint.iterdir():
        if path.suffix != ".safetensors":
            shutil.copy(path, folder / path.name)
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(AutoConfig.from_pretrained(demo.checkpoint))
    model.save_pretrained(folder)
    out = tmp_path_factory.mktemp("random_out")
    code = main(
        [
            "run",
            "--model",
            "vlm2vec",
            "--model_args",
            f"pretrained={folder},max_pixels=50176",
            "--tasks",
            "demo",
            "--data_basedir",
            str(demo.data_basedir),
            "--output_path",
            str(out),
        ]
    )
    assert code == 0
    return json.loads((out / "leaderboard.json").read_text())


def test_demo_runs_every_demo_task_and_writes_their_files(demo_entry):
    assert set(demo_entry["tasks"]) == set(DEMO_TASKS)
    assert demo_entry["groups"]["demo"]["complete"] is True
    assert demo_entry["model"]["adapter_metadata"]["pretrained"] == str(demo_paths().checkpoint)


def test_trained_demo_model_scores_far_above_chance(demo_entry):
    for task in DEMO_TASKS:
        score = demo_entry["tasks"][task]["main_score"]
        assert score >= max(0.5, 4 * CHANCE[task]), (task, score)
    assert demo_entry["groups"]["demo"]["score"] >= 0.75


def test_random_init_model_scores_near_chance(random_init_entry):
    for task in DEMO_TASKS:
        score = random_init_entry["tasks"][task]["main_score"]
        assert score <= CHANCE[task] + 0.2, (task, score)


def test_demo_scores_are_deterministic(demo_entry, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert main(["run", "--batch_size", "5"]) == 0
    again = json.loads((tmp_path / "results" / "demo" / "leaderboard.json").read_text())
    for task in DEMO_TASKS:
        assert again["tasks"][task]["metrics"] == demo_entry["tasks"][task]["metrics"]
