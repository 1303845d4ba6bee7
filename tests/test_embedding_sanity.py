"""A broken model never scores: NaN/Inf embeddings are an error, input-independent ones a recorded warning.

Before this check, a checkpoint with NaN weights scored hit@1 = 100 on local-ranking tasks whose
positive is listed first (every score ties, ties keep candidate order) and the entry was accepted.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TINY_MODEL_ARGS
from test_bad_input import one_error_line, run_args

from harness.cli import main
from harness.engine.encode import NonFiniteEmbeddingError, encode_unique
from harness.inputs import EncodeInput, Side
from harness.models import register_model


class _Fixed:
    """A fake encoder: every input gets ``vector``, except those whose text holds ``poison``."""

    def __init__(self, vector: Sequence[float], poison: str | None = None, bad: float = float("nan")) -> None:
        self.vector = np.asarray(vector, dtype=np.float32)
        self.poison = poison
        self.bad = bad

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        rows = np.tile(self.vector, (len(inputs), 1))
        for i, item in enumerate(inputs):
            if self.poison is not None and self.poison in item.text:
                rows[i, 0] = self.bad
        return rows

    def metadata(self) -> dict[str, Any]:
        return {"adapter": "fake"}


class _Tokens(_Fixed):
    def encode_tokens(self, inputs: Sequence[EncodeInput], side: Side) -> list[np.ndarray]:
        return [row[None, :] for row in self.encode(inputs, side)]


@register_model("test_constant_embeddings", description="test only: one vector for every input")
def _constant(args: Any, device: str) -> _Fixed:
    return _Fixed([0.6, 0.8])


@register_model("test_nan_embeddings", description="test only: NaN for every input")
def _nan(args: Any, device: str) -> _Fixed:
    return _Fixed([float("nan"), 0.0])


@pytest.fixture
def nan_checkpoint(tmp_path: Path, tiny_checkpoint: Path) -> Path:
    """The tiny golden Qwen2-VL with every weight set to NaN (a broken training run)."""
    import torch
    from safetensors.torch import load_file, save_file

    target = tmp_path / "nan-ckpt"
    shutil.copytree(tiny_checkpoint, target)
    weights = load_file(target / "model.safetensors")
    save_file({k: torch.full_like(v, float("nan")) for k, v in weights.items()}, target / "model.safetensors")
    return target


def test_nan_weights_are_an_error_naming_task_side_and_first_input(
    tmp_path: Path, mmeb_basedir: Path, nan_checkpoint: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    argv = run_args(
        "ImageNet-1K", data=mmeb_basedir, out=out, model_args=f"pretrained={nan_checkpoint},{TINY_MODEL_ARGS}"
    )

    message = one_error_line(capsys, argv)

    rows = mmeb_basedir / "MMEB_Test_Instruct" / "ImageNet-1K" / "test.jsonl"
    assert message.startswith(f"task 'ImageNet-1K': the query embedding of {rows}:")
    assert "is NaN or infinite" in message and "image " in message
    assert not list(out.glob("ImageNet-1K_*")) and not (out / "leaderboard_entry.json").exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_the_first_non_finite_input_is_named_by_its_position(bad: float):
    inputs = [EncodeInput(text=f"input {i}") for i in range(5)]
    encoder = _Fixed([1.0, 0.0], poison="input 3", bad=bad)

    with pytest.raises(NonFiniteEmbeddingError) as caught:
        encode_unique(encoder, inputs, "candidate", batch_size=2)

    assert caught.value.index == 3


def test_non_finite_token_matrices_are_refused_too():
    inputs = [EncodeInput(text=f"input {i}") for i in range(4)]

    with pytest.raises(NonFiniteEmbeddingError) as caught:
        encode_unique(_Tokens([1.0, 0.0], poison="input 2"), inputs, "query", batch_size=3)

    assert caught.value.index == 2


def test_finite_embeddings_pass_unchanged():
    inputs = [EncodeInput(text=f"input {i}") for i in range(3)]

    result = encode_unique(_Fixed([1.0, 0.0]), inputs, "query", batch_size=2)

    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, np.tile([1.0, 0.0], (3, 1)))


def test_nan_model_through_the_cli_writes_no_score(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    argv = ["run", "--model", "test_nan_embeddings", "--tasks", "ImageNet-1K", "--data_basedir", str(mmeb_basedir)]

    message = one_error_line(capsys, [*argv, "--output_path", str(out)])

    assert message.startswith("task 'ImageNet-1K': the query embedding of ")
    assert not (out / "ImageNet-1K_score.json").exists()


def test_input_independent_embeddings_are_a_loud_recorded_warning_and_no_entry(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    argv = ["run", "--model", "test_constant_embeddings", "--tasks", "ImageNet-1K"]
    argv += ["--data_basedir", str(mmeb_basedir), "--output_path", str(out)]

    assert main(argv) == 0

    err = capsys.readouterr().err
    assert "warning: task 'ImageNet-1K': all " in err and "distinct query inputs have the same embedding" in err
    score = json.loads((out / "ImageNet-1K_score.json").read_text())
    assert any("distinct candidate inputs have the same embedding" in w for w in score["warnings"])
    run_file = json.loads((out / "leaderboard.json").read_text())
    assert run_file["tasks"]["ImageNet-1K"]["degenerate_sides"] == ["query", "candidate"]
    assert not (out / "leaderboard_entry.json").exists()


def test_a_run_file_with_degenerate_embeddings_is_refused_by_leaderboard_add(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    argv = ["run", "--model", "test_constant_embeddings", "--tasks", "ImageNet-1K"]
    assert main([*argv, "--data_basedir", str(mmeb_basedir), "--output_path", str(out)]) == 0
    capsys.readouterr()

    add = ["leaderboard", "add", str(out / "leaderboard.json"), "--dir", str(tmp_path / "board")]
    message = one_error_line(capsys, [*add, "--benchmark", "ImageNet-1K@1"])

    assert "degenerate_sides" in message and "do not depend on the input" in message


def test_clean_score_files_keep_exactly_the_reference_keys(tmp_path: Path, mmeb_basedir: Path, tiny_checkpoint: Path):
    out = tmp_path / "out"
    argv = run_args(
        "ImageNet-1K", data=mmeb_basedir, out=out, model_args=f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"
    )

    assert main(argv) == 0

    score = json.loads((out / "ImageNet-1K_score.json").read_text())
    assert not {"warnings", "num_duplicate_candidate_rows", "num_unmatched_positive_rows"} & set(score)
