"""``harness.evaluate`` is the one engine behind every door.

The three command-line doors (``harness run``, ``eval.py``, the modality runner) only parse their
flags into its arguments; Python callers get the same run. Options are checked once, there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY_MODEL_ARGS

import harness
from harness.cli import main
from harness.engine.run import RunResult
from harness.errors import HarnessError, ModelError


def test_import_harness_is_light_and_exposes_evaluate():
    code = "import sys, harness; print('torch' in sys.modules, callable(harness.evaluate))"

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.split() == ["False", "True"]


def test_evaluate_writes_the_same_scores_as_harness_run(tmp_path: Path, mmeb_basedir: Path, tiny_checkpoint: Path):
    model_args = f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"
    argv = ["run", "--model", "vlm2vec", "--model_args", model_args, "--tasks", "ImageNet-1K"]
    assert main([*argv, "--data_basedir", str(mmeb_basedir), "--output_path", str(tmp_path / "cli")]) == 0

    result = harness.evaluate(
        "vlm2vec", model_args, "ImageNet-1K", data_basedir=mmeb_basedir, output_path=tmp_path / "api", device="cpu"
    )

    assert isinstance(result, RunResult) and result.is_main
    cli_score = json.loads((tmp_path / "cli" / "ImageNet-1K_score.json").read_text())
    api_score = json.loads((tmp_path / "api" / "ImageNet-1K_score.json").read_text())
    assert api_score == cli_score
    assert result.run_file.tasks["ImageNet-1K"].main_score == cli_score["hit@1"]
    assert result.path == tmp_path / "api" / "leaderboard.json"


def test_evaluate_publishes_no_entry_the_caller_does(tmp_path: Path):
    from harness.demo import demo_paths
    from harness.leaderboard import publish_run

    demo = demo_paths()
    result = harness.evaluate(
        "vlm2vec",
        {"pretrained": str(demo.checkpoint), "max_pixels": 50176},
        ["demo"],
        data_basedir=demo.data_basedir,
        output_path=tmp_path / "demo",
        device="cpu",
    )

    assert not (tmp_path / "demo" / "leaderboard_entry.json").exists()
    path, note = publish_run(result.run_file, tmp_path / "demo" / "leaderboard_entry.json")
    assert note is None and path is not None and path.exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"batch_size": 0}, "batch_size must be >= 1 (got 0)"),
        ({"limit": 0}, "limit must be >= 1 (got 0)"),
        ({"top_k": 0}, "top_k must be >= 1 (got 0)"),
        ({"dist_timeout": 0.0}, "dist_timeout must be > 0 minutes (got 0.0)"),
    ],
)
def test_bad_options_are_refused_once_before_anything_loads(tmp_path: Path, option: dict[str, Any], message: str):
    with pytest.raises(HarnessError) as caught:
        harness.evaluate("vlm2vec", {"pretrained": str(tmp_path / "nothing")}, "ImageNet-1K", **option)

    assert str(caught.value) == message


def test_an_unknown_model_is_refused_before_the_tasks_load(tmp_path: Path):
    with pytest.raises(ModelError, match=r"unknown model 'vlm2vek' .*did you mean 'vlm2vec'"):
        harness.evaluate("vlm2vek", {}, "no-such-task")


def test_no_task_is_an_error(tmp_path: Path):
    with pytest.raises(HarnessError, match="no task selected"):
        harness.evaluate("vlm2vec", {}, [], output_path=tmp_path / "o")


# --- every door parses its flags into evaluate() ---------------------------------------------------


class Recorder:
    """Stands in for harness.evaluate in a door module and records the call."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> RunResult:
        self.calls.append((args, kwargs))
        from harness.results.run_file import HarnessInfo, ModelInfo, RunFile, RunInfo

        run_file = RunFile(
            model=ModelInfo(name=str(args[0]), adapter_metadata={}),
            harness=HarnessInfo(version="0", git_commit=None, python="3", packages={}),
            run=RunInfo(command=[], batch_size=1, limit=None, data_source="auto", data_basedir=".", started_at="x"),
        )
        return RunResult(run_file=run_file, path=Path("x/leaderboard.json"), output_dir=Path("x"), is_main=False)


def test_harness_run_only_parses_flags_into_evaluate(monkeypatch: pytest.MonkeyPatch):
    from harness.cli import run_command

    recorder = Recorder()
    monkeypatch.setattr(run_command, "evaluate", recorder)

    argv = ["run", "--model", "vlm2vec", "--model_args", "pretrained=ckpt,max_pixels=50176", "--tasks", "A,B"]
    assert main([*argv, "--batch_size", "4", "--limit", "3", "--output_path", "out", "--overwrite"]) == 0

    ((args, kwargs),) = recorder.calls
    assert args == ("vlm2vec", {"pretrained": "ckpt", "max_pixels": 50176}, ["A", "B"])
    assert (kwargs["batch_size"], kwargs["limit"], kwargs["output_path"], kwargs["overwrite"]) == (
        4,
        3,
        Path("out"),
        True,
    )


def test_eval_py_only_parses_the_reference_flags_into_evaluate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from harness.cli import reference_compat

    recorder = Recorder()
    monkeypatch.setattr(reference_compat, "evaluate", recorder)
    config = tmp_path / "c.yaml"
    config.write_text("tasks: [ImageNet-1K]\n")
    argv = ["--model_name", "ckpt", "--dataset_config", str(config), "--encode_output_path", str(tmp_path / "o")]

    assert reference_compat.main([*argv, "--per_device_eval_batch_size", "8", "--resize_max_pixels", "50176"]) == 0

    ((args, kwargs),) = recorder.calls
    assert args[0] == "vlm2vec"
    assert args[1] == {"pretrained": "ckpt", "revision": None, "pooling": "eos", "normalize": True, "max_pixels": 50176}
    assert [t.spec.task for t in args[2].tasks] == ["ImageNet-1K"]
    assert (kwargs["batch_size"], kwargs["output_path"]) == (8, tmp_path / "o")


def test_reference_resize_flags_reach_only_the_adapters_that_take_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from harness.cli import reference_compat

    recorder = Recorder()
    monkeypatch.setattr(reference_compat, "evaluate", recorder)
    config = tmp_path / "c.yaml"
    config.write_text("tasks: [ImageNet-1K]\n")
    argv = ["--model_name", "gme", "--model_backbone", "gme", "--dataset_config", str(config)]

    assert reference_compat.main([*argv, "--encode_output_path", str(tmp_path / "o"), "--resize_max_pixels", "9"]) == 0

    ((args, _kwargs),) = recorder.calls
    assert args[0] == "gme" and "max_pixels" not in args[1]  # GME keeps its own bounds, as the reference


def test_the_modality_runner_calls_evaluate_once_per_modality(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from harness.cli import modality_runner

    recorder = Recorder()
    monkeypatch.setattr(modality_runner, "evaluate", recorder)
    monkeypatch.setattr(modality_runner, "_device_for", lambda ids: "cpu")

    argv = ["--modality", "all", "--model_name", "org/m", "--output_basedir", str(tmp_path), "--limit", "2"]
    assert modality_runner.main(argv) == 0

    assert [call[0][2] for call in recorder.calls] == [["mmeb_v2_image"], ["mmeb_v2_video"], ["mmeb_v2_visdoc"]]
    assert all(call[0][1] == {"pretrained": "org/m"} for call in recorder.calls)  # adapter defaults, not copies
    assert [call[1]["output_path"] for call in recorder.calls] == [
        tmp_path / "m" / m for m in ("image", "video", "visdoc")
    ]
