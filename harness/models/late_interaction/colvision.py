"""ColPali and ColQwen2 (late interaction, "ColVision") through transformers' retrieval classes.

Each input becomes one L2-normalised vector per token (``ColPaliForRetrieval`` /
``ColQwen2ForRetrieval``), compared by MaxSim in the engine. Prompts are the processors' own, as
the ColPali authors define them: a text input goes through ``process_queries`` (ColQwen2:
``"Query: " + text`` + ten pad tokens as augmentation buffer + ``"\\n"``; ColPali: BOS +
``"Question: " + text`` + buffer + ``"\\n"``), an input with an image through ``process_images``
with the fixed visual prompt ("Describe the image."), so the text beside an image is not used —
as in VLM2Vec's ColPali runs. The side (query or candidate) does not matter, only the content.
Padding tokens are dropped from every matrix: they would otherwise enter the MaxSim as zero
vectors and make a score depend on the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from harness.encoder_metadata import EncoderMetadata
from harness.errors import ModelError
from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER, EncodeInput, Side
from harness.media.image import open_image
from harness.models.base import register_model
from harness.models.checkpoint import (
    check_tokenizer,
    describe_model,
    load_config,
    load_model,
    load_part,
    local_checkpoint_facts,
    unsupported_model_type,
)
from harness.models.settings import CheckpointSettings, parse_settings, resolve_runtime

MODEL_CLASSES = {"colpali": "ColPaliForRetrieval", "colqwen2": "ColQwen2ForRetrieval"}
"""Checkpoint ``model_type`` → transformers retrieval class."""
PROCESSOR_CLASSES = {"colpali": "ColPaliProcessor", "colqwen2": "ColQwen2Processor"}
DEFAULT_CHECKPOINTS = {"colpali": "vidore/colpali-v1.3-hf", "colqwen2": "vidore/colqwen2-v1.0-hf"}


class ColVisionSettings(CheckpointSettings):
    """``--model_args`` of the ``colpali`` and ``colqwen2`` adapters; unknown keys are rejected."""

    pretrained: str | None = None
    """Hub id or local folder of a transformers-format checkpoint (default: vidore's ``-hf`` release)."""


@register_model("colqwen2", description="ColQwen2 late interaction (token vectors, MaxSim)")
def create_colqwen2(model_args: Mapping[str, Any], device: str) -> ColVisionRetriever:
    """Build the ColQwen2 adapter from ``--model_args``."""
    return ColVisionRetriever("colqwen2", parse_settings(ColVisionSettings, model_args, "colqwen2"), device)


@register_model("colpali", description="ColPali (PaliGemma) late interaction (token vectors, MaxSim)")
def create_colpali(model_args: Mapping[str, Any], device: str) -> ColVisionRetriever:
    """Build the ColPali adapter from ``--model_args``."""
    return ColVisionRetriever("colpali", parse_settings(ColVisionSettings, model_args, "colpali"), device)


class ColVisionRetriever:
    """A ColPali-family model: ``encode_tokens`` gives one ``[num_tokens, dim]`` matrix per input."""

    similarity = "maxsim"

    def __init__(self, adapter: Literal["colpali", "colqwen2"], settings: ColVisionSettings, device: str) -> None:
        import transformers

        self.adapter = adapter
        self.settings = settings
        self.pretrained = settings.pretrained or DEFAULT_CHECKPOINTS[adapter]
        runtime = resolve_runtime(settings, device)
        self.device, self.dtype, self.attn_implementation = runtime.device, runtime.dtype, runtime.attn_implementation
        config = load_config(self.pretrained, settings.revision, settings.trust_remote_code)
        if config.model_type != adapter:
            raise unsupported_model_type(self.pretrained, config.model_type, adapter, (adapter,))
        common = settings.hub_kwargs()
        processor_class = getattr(transformers, PROCESSOR_CLASSES[adapter])
        model_class = getattr(transformers, MODEL_CLASSES[adapter])
        self.processor: Any = load_part(processor_class, self.pretrained, "processor", **common)
        check_tokenizer(self.processor.tokenizer, self.pretrained)
        self.model: Any = load_model(model_class, self.pretrained, settings, runtime)

    def encode_tokens(self, inputs: Sequence[EncodeInput], side: Side) -> list[np.ndarray]:
        """One float32 token matrix per input (padding removed); images and texts may be mixed."""
        matrices: list[np.ndarray | None] = [None] * len(inputs)
        images = [i for i, item in enumerate(inputs) if item.image is not None]
        texts = [i for i, item in enumerate(inputs) if item.image is None]
        for item in inputs:
            if item.video is not None:
                raise ModelError(f"{self.adapter} takes images and texts, not videos (input {item.video.source})")
        if images:
            batch = self.processor.process_images(images=[open_image(inputs[i].image) for i in images])  # type: ignore[arg-type]
            for i, matrix in zip(images, self._forward(batch), strict=True):
                matrices[i] = matrix
        if texts:
            batch = self.processor.process_queries(text=[_query_text(inputs[i].text) for i in texts])
            for i, matrix in zip(texts, self._forward(batch), strict=True):
                matrices[i] = matrix
        return [m for m in matrices if m is not None]

    def _forward(self, batch: Any) -> list[np.ndarray]:
        import torch

        batch = batch.to(self.device)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            embeddings = self.model(**batch).embeddings.float()
        mask = batch["attention_mask"].bool()
        return [embeddings[i][mask[i]].cpu().numpy().astype(np.float32, copy=False) for i in range(len(mask))]

    def metadata(self) -> EncoderMetadata:
        """Settings and environment needed to reproduce the embeddings."""
        return EncoderMetadata(
            **describe_model(
                self.model,
                adapter=self.adapter,
                embedding_dim=int(self.model.config.embedding_dim),
                dtype=self.dtype,
                device=self.device,
            ),
            pretrained=self.pretrained,
            revision=self.settings.revision,
            settings=self.settings.model_dump(),
            checkpoint=local_checkpoint_facts(self.pretrained),
            similarity="maxsim",
            query_prefix=self.processor.query_prefix,
            visual_prompt_prefix=self.processor.visual_prompt_prefix,
            text_beside_images="ignored (fixed visual prompt)",
        )


def _query_text(text: str) -> str:
    """The text of a text-only input; media markers carry no media here, so they are dropped."""
    return text.replace(IMAGE_MARKER, "").replace(VIDEO_MARKER, "").replace(AUDIO_MARKER, "").strip()
