"""LoRA / DoRA adapter checkpoints: detect an adapter folder and merge it into its base model.

An adapter checkpoint (``adapter_config.json`` + ``adapter_model.safetensors``, no ``config.json``)
holds only low-rank updates. The reference loads it with peft and calls ``merge_and_unload``; here
the merge is done directly on the loaded base model, with the same arithmetic:

* LoRA: ``W' = W + s · B @ A`` with ``s = lora_alpha / r`` (``lora_alpha / sqrt(r)`` with rsLoRA);
* DoRA: ``W' = m / ‖W + s · B @ A‖_row · (W + s · B @ A)``, the norm taken over each output row.

Adapter tensor names are the module names of the model the adapter was trained on (often an older
transformers layout); they are mapped to the loaded model by the renames transformers itself
applies to legacy checkpoint keys. Anything the merge does not understand is refused.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.encoder_metadata import LoraFacts
from harness.errors import ModelError
from harness.models.weights import pickle_refused, read_safetensors

_PREFIX = "base_model.model."
_SUFFIXES = {
    ".lora_A.weight": "A",
    ".lora_B.weight": "B",
    ".lora_magnitude_vector": "magnitude",
    ".lora_magnitude_vector.weight": "magnitude",
}


@dataclass(frozen=True)
class LoraCheckpoint:
    """An adapter-only checkpoint and the base model it applies to."""

    adapter: str
    """Hub id or local folder holding ``adapter_config.json`` and the adapter weights."""
    base_model: str
    """Hub id or folder of the base model (adapter_config's ``base_model_name_or_path`` unless overridden)."""
    config: dict[str, Any] = field(repr=False)
    """The parsed ``adapter_config.json``."""

    def describe(self, merged_modules: int) -> LoraFacts:
        """What the results record about the adapter, once ``merged_modules`` modules were merged;
        ``ModelError`` naming adapter_config.json when a value recorded has an unexpected type."""
        keys = ("peft_type", "r", "lora_alpha", "use_dora", "use_rslora", "target_modules")
        given = {k: self.config.get(k) for k in keys}
        try:
            facts = {"adapter": self.adapter, "base_model": self.base_model, **given, "merged_modules": merged_modules}
            return LoraFacts.model_validate(facts)
        except ValidationError as error:
            first = error.errors()[0]
            problem = f"'{first['loc'][0]}': {first['msg']} (got {first['input']!r:.60})"
            raise ModelError(f"{self.adapter}: adapter_config.json: {problem}") from None


def find_lora_checkpoint(checkpoint: str, revision: str | None, base_model: str | None) -> LoraCheckpoint | None:
    """The adapter description when ``checkpoint`` is adapter-only, else ``None``.

    ``base_model`` overrides the adapter config's ``base_model_name_or_path``.
    """
    config_file = checkpoint_file(checkpoint, "adapter_config.json", revision)
    if config_file is None or checkpoint_file(checkpoint, "config.json", revision) is not None:
        return None
    try:
        config = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"cannot read '{config_file}': {type(error).__name__}: {error}") from error
    if not isinstance(config, dict):
        raise ModelError(f"'{config_file}' is not a JSON object")
    base = base_model or config.get("base_model_name_or_path")
    if not base:
        raise ModelError(
            f"{checkpoint} is a LoRA adapter whose adapter_config.json names no base_model_name_or_path; "
            "pass base_model=PATH in --model_args"
        )
    return LoraCheckpoint(adapter=checkpoint, base_model=str(base), config=config)


def missing_base_error(lora: LoraCheckpoint, error: Exception) -> ModelError:
    """The error for an adapter whose base model cannot be loaded."""
    first_line = str(error).splitlines()[0] if str(error) else ""
    detail = first_line if isinstance(error, ModelError) else f"{type(error).__name__}: {first_line}"
    return ModelError(
        f"{lora.adapter} is a LoRA adapter (base model {lora.base_model!r}), and its base model cannot be loaded "
        f"({detail}); pass base_model=PATH in --model_args to use a local copy"
    )


def merge_lora(model: Any, lora: LoraCheckpoint, revision: str | None) -> int:
    """Merge the adapter's updates into ``model``'s linear weights in place; returns the merged module count."""
    import torch

    scale = _scaling(lora)
    updates = _group_tensors(lora, load_adapter_tensors(lora.adapter, revision))
    modules = dict(model.named_modules())
    renames = _legacy_renames(model)
    with torch.no_grad():
        for path, parts in updates.items():
            module = modules.get(_rename(path, renames, modules))
            if not isinstance(module, torch.nn.Linear):
                raise ModelError(
                    f"{lora.adapter}: the adapter updates '{path}', which is not a linear layer of the base model "
                    f"{lora.base_model!r}"
                )
            if "A" not in parts or "B" not in parts:
                raise ModelError(f"{lora.adapter}: '{path}' lacks its lora_A or lora_B weight")
            _check_shapes(lora, path, module.weight, parts)
            module.weight.copy_(merged_weight(module.weight, parts["A"], parts["B"], scale, parts.get("magnitude")))
    return len(updates)


def merged_weight(weight: Any, lora_a: Any, lora_b: Any, scale: float, magnitude: Any | None = None) -> Any:
    """``W + scale · B @ A``, rescaled row-wise to ``magnitude`` for DoRA; computed in float32."""
    updated = weight.float() + scale * (lora_b.float() @ lora_a.float())
    if magnitude is not None:
        norm = updated.norm(dim=1)
        updated = (magnitude.float().reshape(-1) / norm).unsqueeze(1) * updated
    return updated.to(weight.dtype)


def load_adapter_tensors(adapter: str, revision: str | None) -> dict[str, Any]:
    """The adapter's tensors from ``adapter_model.safetensors``; a pickle ``adapter_model.bin`` is refused."""
    safetensors_file = checkpoint_file(adapter, "adapter_model.safetensors", revision)
    if safetensors_file is not None:
        return read_safetensors(safetensors_file)
    if checkpoint_file(adapter, "adapter_model.bin", revision) is not None:
        raise pickle_refused(adapter, ["adapter_model.bin"])
    raise ModelError(f"{adapter}: adapter_config.json found but no adapter_model.safetensors")


def _check_shapes(lora: LoraCheckpoint, path: str, weight: Any, parts: dict[str, Any]) -> None:
    """``ModelError`` unless ``B @ A`` (and a DoRA magnitude) fit the base model's ``weight``."""
    lora_a, lora_b, magnitude = parts["A"], parts["B"], parts.get("magnitude")
    out_features, in_features = weight.shape
    fits = lora_a.dim() == 2 and lora_b.dim() == 2 and lora_b.shape[1] == lora_a.shape[0]
    fits = fits and (lora_b.shape[0], lora_a.shape[1]) == (out_features, in_features)
    if magnitude is not None:
        fits = fits and magnitude.numel() == out_features
    if not fits:
        shapes = f"lora_A {list(lora_a.shape)}, lora_B {list(lora_b.shape)}"
        raise ModelError(
            f"{lora.adapter}: the update of '{path}' ({shapes}) does not fit its weight {list(weight.shape)} in "
            f"the base model {lora.base_model!r}"
        )


def _scaling(lora: LoraCheckpoint) -> float:
    config = lora.config
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise ModelError(f"{lora.adapter}: peft_type {config.get('peft_type')!r} cannot be merged (only LORA)")
    for unsupported in ("rank_pattern", "alpha_pattern"):
        if config.get(unsupported):
            raise ModelError(
                f"{lora.adapter}: adapter_config.json sets {unsupported}, which the merge does not support"
            )
    if config.get("fan_in_fan_out"):
        raise ModelError(f"{lora.adapter}: fan_in_fan_out adapters cannot be merged")
    rank = int(config.get("r", 8))
    alpha = float(config.get("lora_alpha", 8))
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def _group_tensors(lora: LoraCheckpoint, tensors: dict[str, Any]) -> dict[str, dict[str, Any]]:
    updates: dict[str, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        name = key[len(_PREFIX) :] if key.startswith(_PREFIX) else key
        for suffix, part in _SUFFIXES.items():
            if name.endswith(suffix):
                updates.setdefault(name[: -len(suffix)], {})[part] = tensor
                break
        else:
            raise ModelError(
                f"{lora.adapter}: adapter tensor '{key}' is not a LoRA/DoRA linear weight; cannot merge it"
            )
    if not updates:
        raise ModelError(f"{lora.adapter}: the adapter holds no LoRA weights")
    has_magnitude = any("magnitude" in parts for parts in updates.values())
    if bool(lora.config.get("use_dora")) != has_magnitude:
        raise ModelError(f"{lora.adapter}: use_dora={lora.config.get('use_dora')} disagrees with the adapter tensors")
    return updates


def _legacy_renames(model: Any) -> list[tuple[str, str]]:
    """(pattern, replacement) pairs transformers applies to legacy checkpoint keys of this model."""
    try:
        from transformers.conversion_mapping import PrefixChange, WeightRenaming, get_model_conversion_mapping

        transforms = get_model_conversion_mapping(model)
    except (ImportError, AttributeError):
        return []
    pairs = []
    for transform in transforms:
        if isinstance(transform, (WeightRenaming, PrefixChange)) and len(transform.target_patterns) == 1:
            pairs += [(source, transform.target_patterns[0]) for source in transform.source_patterns]
    return pairs


def _rename(path: str, renames: list[tuple[str, str]], modules: dict[str, Any]) -> str:
    if path in modules:
        return path
    # Like a checkpoint key, a module name takes the first rename that matches it.
    for pattern, replacement in renames:
        renamed, count = re.subn(pattern, replacement, path, count=1)
        if count:
            return renamed
    return path


def checkpoint_file(checkpoint: str, filename: str, revision: str | None) -> str | None:
    """Path of ``filename`` in a local folder or hub repository, or ``None`` when it has none."""
    local = Path(checkpoint)
    if local.is_dir():
        return str(local / filename) if (local / filename).is_file() else None
    from transformers.utils import cached_file

    try:
        return cached_file(
            checkpoint,
            filename,
            revision=revision or "main",
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except OSError:
        return None
