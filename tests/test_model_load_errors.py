"""A broken or mismatched checkpoint stops the run with one line naming it and the cause, no traceback.

Every test runs the real command line in-process on a checkpoint built here from the tiny ones
(pickle weights, missing tokenizer, truncated safetensors, a checkpoint of another model type,
broken config or weights); the model is loaded before any task data is read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bad_input import one_error_line
from tiny_checkpoints import GOLDEN_QWEN2VL, as_pickle_checkpoint, tiny_bert

from harness.demo import demo_paths
from harness.models.weights import pickle_weight_files

QWEN_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
)


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert"))


def load_args(model: str, checkpoint: Path | str, out: Path) -> list[str]:
    """``harness run`` of ``model`` on ``checkpoint`` over the bundled demo data (the model loads first)."""
    model_args = f"pretrained={checkpoint}" + (",max_pixels=50176" if model == "vlm2vec" else "")
    argv = ["run", "--model", model, "--model_args", model_args, "--tasks", "demo", "--device", "cpu"]
    return [*argv, "--data_basedir", str(demo_paths().data_basedir), "--output_path", str(out)]


def copy_of(source: Path, folder: Path) -> Path:
    shutil.copytree(source, folder)
    return folder


def edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


# --- pickle weights ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["vlm2vec", "text_encoder"])
def test_pickle_checkpoint_is_refused_with_the_advice_to_convert_it(model, bert, tmp_path, capsys):
    checkpoint = as_pickle_checkpoint(GOLDEN_QWEN2VL if model == "vlm2vec" else bert, tmp_path / "pickled")

    message = one_error_line(capsys, load_args(model, checkpoint, tmp_path / "out"))

    assert message == (
        f"'{checkpoint}': pickle checkpoints (pytorch_model.bin) are not loaded; convert the weights to safetensors"
    )


def test_pickle_checkpoint_is_refused_without_being_unpickled(tmp_path, capsys, monkeypatch):
    import torch

    checkpoint = as_pickle_checkpoint(GOLDEN_QWEN2VL, tmp_path / "pickled")
    unpickled: list[object] = []
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: unpickled.append(args))

    one_error_line(capsys, load_args("vlm2vec", checkpoint, tmp_path / "out"))

    assert unpickled == []


def test_hub_checkpoint_with_only_pickle_weights_is_refused_not_unpickled(tmp_path, capsys, monkeypatch):
    import huggingface_hub.constants
    import torch

    # An offline hub cache holding one repository: config, tokenizer and pytorch_model.bin, no safetensors.
    repo = tmp_path / "hub" / "models--tiny-org--pickled-qwen"
    as_pickle_checkpoint(GOLDEN_QWEN2VL, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: pytest.fail("a pickle file was unpickled"))

    message = one_error_line(capsys, load_args("vlm2vec", "tiny-org/pickled-qwen", tmp_path / "out"))

    assert message == (
        "'tiny-org/pickled-qwen': pickle checkpoints (pytorch_model.bin) are not loaded; "
        "convert the weights to safetensors"
    )


def test_training_state_pickles_are_not_taken_for_weights(tmp_path):
    for name in ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state_0.pth", "pytorch_model.bin"):
        (tmp_path / name).write_bytes(b"")

    assert pickle_weight_files(tmp_path) == ["pytorch_model.bin"]


# --- tokenizer and processors ------------------------------------------------------------------


def test_missing_tokenizer_names_the_folder_and_the_files_it_needs(tmp_path, capsys):
    checkpoint = copy_of(GOLDEN_QWEN2VL, tmp_path / "no-tokenizer")
    for name in QWEN_TOKENIZER_FILES:
        (checkpoint / name).unlink()

    message = one_error_line(capsys, load_args("vlm2vec", checkpoint, tmp_path / "out"))

    assert message == (
        f"'{checkpoint}' has no tokenizer: none of merges.txt, tokenizer.json, vocab.json is in the folder; "
        "save the tokenizer with the model"
    )


def test_text_encoder_checkpoint_without_tokenizer_is_refused(bert, tmp_path, capsys):
    checkpoint = tmp_path / "no-tokenizer"
    checkpoint.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(bert / name, checkpoint / name)

    message = one_error_line(capsys, load_args("text_encoder", checkpoint, tmp_path / "out"))

    assert message.startswith(f"'{checkpoint}' has no tokenizer: none of tokenizer.json, vocab.txt is in the folder")


def test_missing_image_processor_names_the_checkpoint(tmp_path, capsys):
    checkpoint = copy_of(GOLDEN_QWEN2VL, tmp_path / "no-processor")
    (checkpoint / "preprocessor_config.json").unlink()

    message = one_error_line(capsys, load_args("vlm2vec", checkpoint, tmp_path / "out"))

    assert message.startswith(f"cannot load the image processor of '{checkpoint}': OSError: ")
    assert "preprocessor_config.json" in message


# --- weights -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["vlm2vec", "text_encoder"])
def test_truncated_safetensors_names_the_file(model, bert, tmp_path, capsys):
    checkpoint = copy_of(GOLDEN_QWEN2VL if model == "vlm2vec" else bert, tmp_path / "truncated")
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    message = one_error_line(capsys, load_args(model, checkpoint, tmp_path / "out"))

    assert message.startswith(f"cannot read weights '{weights}': truncated or corrupt safetensors (")


def test_weights_that_do_not_fit_the_config_name_the_first_mismatched_tensor(bert, tmp_path, capsys):
    checkpoint = copy_of(bert, tmp_path / "wider-config")
    edit_config(checkpoint, hidden_size=48)

    message = one_error_line(capsys, load_args("text_encoder", checkpoint, tmp_path / "out"))

    assert message.startswith(f"cannot load model weights from '{checkpoint}': ")
    assert (
        "tensors do not have the shapes its config.json asks for (first: 'embeddings.LayerNorm.bias' is [32]" in message
    )


def test_missing_weights_file_names_the_checkpoint(bert, tmp_path, capsys):
    checkpoint = copy_of(bert, tmp_path / "no-weights")
    (checkpoint / "model.safetensors").unlink()

    message = one_error_line(capsys, load_args("text_encoder", checkpoint, tmp_path / "out"))

    assert message.startswith(f"cannot load model weights from '{checkpoint}': OSError: ")
    assert "model.safetensors" in message


@pytest.mark.parametrize("config_text", ["{not json", '{"hidden_size": 32}'], ids=["invalid-json", "no-model-type"])
def test_broken_config_json_names_the_checkpoint_and_the_cause(config_text, bert, tmp_path, capsys):
    checkpoint = copy_of(bert, tmp_path / "broken-config")
    (checkpoint / "config.json").write_text(config_text)

    message = one_error_line(capsys, load_args("text_encoder", checkpoint, tmp_path / "out"))

    assert message.startswith(f"cannot load a model config from '{checkpoint}': ")


# --- a checkpoint of another model type ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "supported"),
    [
        ("text_encoder", "text-only model types, e.g. bert"),
        ("clip", "clip, siglip"),
        ("siglip", "clip, siglip"),
        ("colpali", "colpali"),
        ("colqwen2", "colqwen2"),
    ],
)
def test_adapter_refuses_a_qwen2_vl_checkpoint_listing_what_it_supports(model, supported, tmp_path, capsys):
    message = one_error_line(capsys, load_args(model, GOLDEN_QWEN2VL, tmp_path / "out"))

    adapter = "clip/siglip" if model in ("clip", "siglip") else model
    assert message.startswith(
        f"'{GOLDEN_QWEN2VL}' has model_type 'qwen2_vl', which the {adapter} adapter does not support "
        f"(supported: {supported}"
    )
