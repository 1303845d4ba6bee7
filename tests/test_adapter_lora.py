"""LoRA / DoRA adapter checkpoints are merged into their base model exactly as peft's merge_and_unload does.

The adapter is built by hand on the golden tiny Qwen2-VL: random A/B on language-model and
vision-tower layers, named as the reference's (transformers 4.x) modules are. The expected merged
weights are computed here from the base checkpoint's own tensors, independently of the adapter code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_checkpoints import GOLDEN_QWEN2VL

from harness.errors import ModelError
from harness.inputs import EncodeInput
from harness.models import create_encoder

TARGETS = {  # module (legacy name) -> (out, in) features
    "model.layers.0.self_attn.q_proj": (64, 64),
    "model.layers.1.mlp.down_proj": (64, 128),
    "visual.blocks.0.attn.qkv": (96, 32),
}
RANK, ALPHA = 4, 8
IMAGES = Path(__file__).parent / "data" / "golden" / "media" / "image-tasks" / "synthetic"
INPUTS = [
    EncodeInput(text="<|image|>\nRepresent the given image.", image=IMAGES / "img01_120x90.png"),
    EncodeInput(text="Find a document image that matches the given query: red square"),
]
TINY_ARGS = {"max_pixels": 50176}


def _adapter_tensors(dora: bool) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    tensors = {}
    for module, (out_features, in_features) in TARGETS.items():
        prefix = f"base_model.model.{module}"
        tensors[f"{prefix}.lora_A.weight"] = torch.randn(RANK, in_features, generator=generator) * 0.3
        tensors[f"{prefix}.lora_B.weight"] = torch.randn(out_features, RANK, generator=generator) * 0.3
        if dora:
            tensors[f"{prefix}.lora_magnitude_vector"] = torch.rand(out_features, generator=generator) + 0.5
    return tensors


def write_adapter(folder: Path, base: str | None, *, dora: bool = False) -> Path:
    folder.mkdir(parents=True)
    config = {
        "peft_type": "LORA",
        "base_model_name_or_path": base,
        "r": RANK,
        "lora_alpha": ALPHA,
        "use_dora": dora,
        "target_modules": ["q_proj", "down_proj", "qkv"],
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    save_file(_adapter_tensors(dora), str(folder / "adapter_model.safetensors"))
    return folder


def expected_weights(dora: bool) -> dict[str, np.ndarray]:
    """W + (alpha/r)·B@A (DoRA: rescaled so each output row's norm is the magnitude), in numpy float64."""
    base = load_file(str(GOLDEN_QWEN2VL / "model.safetensors"))
    adapter = _adapter_tensors(dora)
    merged = {}
    for module in TARGETS:
        prefix = f"base_model.model.{module}"
        a = adapter[f"{prefix}.lora_A.weight"].double().numpy()
        b = adapter[f"{prefix}.lora_B.weight"].double().numpy()
        weight = base[f"{module}.weight"].double().numpy() + (ALPHA / RANK) * (b @ a)
        if dora:
            magnitude = adapter[f"{prefix}.lora_magnitude_vector"].double().numpy()
            weight = weight * (magnitude / np.linalg.norm(weight, axis=1))[:, None]
        merged[module] = weight
    return merged


def write_premerged_checkpoint(folder: Path, dora: bool) -> Path:
    """The base checkpoint with the expected merged weights written into its own (legacy-named) tensors."""
    shutil.copytree(GOLDEN_QWEN2VL, folder)
    tensors = load_file(str(GOLDEN_QWEN2VL / "model.safetensors"))
    for module, weight in expected_weights(dora).items():
        tensors[f"{module}.weight"] = torch.from_numpy(weight).float()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def _merged_module_weights(encoder) -> dict[str, np.ndarray]:
    modules = dict(encoder.model.named_modules())
    names = {
        "model.layers.0.self_attn.q_proj": "model.language_model.layers.0.self_attn.q_proj",
        "model.layers.1.mlp.down_proj": "model.language_model.layers.1.mlp.down_proj",
        "visual.blocks.0.attn.qkv": "model.visual.blocks.0.attn.qkv",
    }
    return {legacy: modules[current].weight.detach().double().numpy() for legacy, current in names.items()}


@pytest.mark.parametrize("dora", [False, True], ids=["lora", "dora"])
def test_merged_weights_equal_the_base_plus_the_scaled_low_rank_update(tmp_path, dora):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL), dora=dora)

    encoder = create_encoder("vlm2vec", {"pretrained": str(adapter), **TINY_ARGS}, "cpu")

    merged = _merged_module_weights(encoder)
    for module, expected in expected_weights(dora).items():
        assert np.abs(merged[module] - expected).max() < 1e-6, module


@pytest.mark.parametrize("dora", [False, True], ids=["lora", "dora"])
def test_adapter_embeds_like_a_checkpoint_with_premerged_weights(tmp_path, dora):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL), dora=dora)
    premerged = write_premerged_checkpoint(tmp_path / "premerged", dora)

    ours = create_encoder("vlm2vec", {"pretrained": str(adapter), **TINY_ARGS}, "cpu").encode(INPUTS, "query")
    reference = create_encoder("vlm2vec", {"pretrained": str(premerged), **TINY_ARGS}, "cpu").encode(INPUTS, "query")
    base = create_encoder("vlm2vec", {"pretrained": str(GOLDEN_QWEN2VL), **TINY_ARGS}, "cpu").encode(INPUTS, "query")

    assert np.abs(ours - reference).max() < 1e-5
    assert np.abs(ours - base).max() > 1e-2  # the update is not a no-op


def test_base_model_argument_overrides_the_adapter_config(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", "Org/not-downloadable-here")

    encoder = create_encoder("vlm2vec", {"pretrained": str(adapter), "base_model": str(GOLDEN_QWEN2VL)}, "cpu")

    lora = encoder.metadata().checkpoint.lora
    assert lora.base_model == str(GOLDEN_QWEN2VL) and lora.merged_modules == 3 and lora.r == RANK


def test_adapter_whose_base_model_is_missing_is_a_clear_error(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(tmp_path / "no-such-base"))

    with pytest.raises(ModelError) as error:
        create_encoder("vlm2vec", {"pretrained": str(adapter)}, "cpu")

    message = str(error.value)
    assert message.startswith(f"{adapter} is a LoRA adapter (base model '{tmp_path / 'no-such-base'}')")
    assert message.endswith("pass base_model=PATH in --model_args to use a local copy")
    assert "\n" not in message


def test_adapter_tensor_for_a_module_the_base_lacks_is_refused(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL))
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    tensors["base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight"] = torch.zeros(RANK, 64)
    tensors["base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight"] = torch.zeros(64, RANK)
    save_file(tensors, str(adapter / "adapter_model.safetensors"))

    with pytest.raises(ModelError, match="updates 'model.layers.9.self_attn.q_proj', which is not a linear layer"):
        create_encoder("vlm2vec", {"pretrained": str(adapter)}, "cpu")


def test_adapter_with_pickle_weights_is_refused_with_the_advice_to_convert_them(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL))
    torch.save(load_file(str(adapter / "adapter_model.safetensors")), adapter / "adapter_model.bin")
    (adapter / "adapter_model.safetensors").unlink()

    with pytest.raises(ModelError) as error:
        create_encoder("vlm2vec", {"pretrained": str(adapter)}, "cpu")

    assert str(error.value) == (
        f"'{adapter}': pickle checkpoints (adapter_model.bin) are not loaded; convert the weights to safetensors"
    )


def test_truncated_adapter_weights_name_the_file(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL))
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    with pytest.raises(ModelError) as error:
        create_encoder("vlm2vec", {"pretrained": str(adapter)}, "cpu")

    assert str(error.value).startswith(f"cannot read weights '{weights}': truncated or corrupt safetensors (")


def test_adapter_config_that_is_not_json_is_named(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL))
    (adapter / "adapter_config.json").write_text("{not json")

    with pytest.raises(ModelError) as error:
        create_encoder("vlm2vec", {"pretrained": str(adapter)}, "cpu")

    assert str(error.value).startswith(f"cannot read '{adapter / 'adapter_config.json'}': JSONDecodeError: ")


def test_adapter_update_that_does_not_fit_the_base_weight_is_refused(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL))
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = torch.zeros(RANK, 32)
    save_file(tensors, str(adapter / "adapter_model.safetensors"))

    with pytest.raises(ModelError) as error:
        create_encoder("vlm2vec", {"pretrained": str(adapter)}, "cpu")

    assert str(error.value) == (
        f"{adapter}: the update of 'model.layers.0.self_attn.q_proj' (lora_A [4, 32], lora_B [64, 4]) does not fit "
        f"its weight [64, 64] in the base model '{GOLDEN_QWEN2VL}'"
    )


def test_adapter_config_value_of_a_type_the_results_cannot_record_is_named(tmp_path):
    adapter = write_adapter(tmp_path / "adapter", str(GOLDEN_QWEN2VL))
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "target_modules": 7}))

    with pytest.raises(ModelError) as error:
        create_encoder("vlm2vec", {"pretrained": str(adapter), **TINY_ARGS}, "cpu")

    assert str(error.value).startswith(f"{adapter}: adapter_config.json: 'target_modules': ")
