"""Loading Qwen2-VL / Qwen2.5-VL checkpoints, full or as a LoRA adapter merged into its base model."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from harness.encoder_metadata import CheckpointFacts
from harness.errors import ModelError
from harness.models.checkpoint import load_config, local_checkpoint_facts, unsupported_model_type
from harness.models.lora import (
    LoraCheckpoint,
    checkpoint_file,
    find_lora_checkpoint,
    merge_lora,
    missing_base_error,
)
from harness.models.weights import load_pretrained

MODEL_CLASSES = {"qwen2_vl": "Qwen2VLForConditionalGeneration", "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration"}
"""The transformers class serving each supported ``model_type``."""
SUPPORTED_MODEL_TYPES = tuple(MODEL_CLASSES)


@dataclass
class LoadedCheckpoint:
    """A Qwen2-VL-family model ready for inference, and where its parts came from."""

    model: Any
    model_type: str
    processor_source: str
    """Folder or hub id the tokenizer and image processor are read from."""
    processor_revision: str | None
    lora: LoraCheckpoint | None = None
    merged_modules: int = 0
    facts: CheckpointFacts = field(default_factory=CheckpointFacts)
    """Checkpoint facts for the results (local path, weight files, adapter description)."""


def detect_model_type(checkpoint: str, revision: str | None, trust_remote_code: bool, adapter: str) -> str:
    """The checkpoint's ``model_type`` if ``adapter`` serves it; ``ModelError`` naming the supported ones otherwise."""
    model_type = getattr(load_config(checkpoint, revision, trust_remote_code), "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise unsupported_model_type(checkpoint, model_type, adapter, SUPPORTED_MODEL_TYPES)
    return str(model_type)


def load_checkpoint(
    pretrained: str,
    revision: str | None,
    base_model: str | None,
    *,
    adapter: str,
    dtype: str,
    attn_implementation: str,
    trust_remote_code: bool,
) -> LoadedCheckpoint:
    """Load ``pretrained``; an adapter-only folder is merged into its base model (said on stderr)."""
    import transformers

    lora = find_lora_checkpoint(pretrained, revision, base_model)
    source, source_revision = (lora.base_model, None) if lora else (pretrained, revision)
    try:
        config = load_config(source, source_revision, trust_remote_code)
    except ModelError as error:
        if lora is None:
            raise
        raise missing_base_error(lora, error) from None
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise unsupported_model_type(source, model_type, adapter, SUPPORTED_MODEL_TYPES)
    model_class = getattr(transformers, MODEL_CLASSES[str(model_type)])
    try:
        model = load_pretrained(
            model_class,
            source,
            revision=source_revision,
            trust_remote_code=trust_remote_code,
            dtype=dtype,
            attn_implementation=attn_implementation,
        )
    except ModelError as error:
        if lora is None:
            raise
        raise missing_base_error(lora, error) from error
    loaded = LoadedCheckpoint(
        model, str(model_type), pretrained, revision, lora, facts=local_checkpoint_facts(pretrained)
    )
    if lora is not None:
        loaded.merged_modules = merge_lora(model, lora, revision)
        print(
            f"note: {pretrained} is a LoRA adapter; merged {loaded.merged_modules} modules into base model "
            f"{lora.base_model!r}",
            file=sys.stderr,
        )
        loaded.facts = local_checkpoint_facts(pretrained, lora=lora.describe(loaded.merged_modules))
        # An adapter folder that ships no tokenizer is read with its base model's processor.
        if checkpoint_file(pretrained, "tokenizer_config.json", revision) is None:
            loaded.processor_source, loaded.processor_revision = lora.base_model, None
    return loaded
