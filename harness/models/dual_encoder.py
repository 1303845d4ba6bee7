"""CLIP / SigLIP dual encoders through transformers: one text tower, one image tower.

Each tower's features are L2-normalised, as both model families do before their similarity
(CLIP: ``logit_scale · cos``; SigLIP: ``logit_scale · cos + logit_bias``), so the dot product of
two embeddings ranks candidates exactly as the model's own logits do.

Rules for inputs the towers do not take as such (the text has its media markers removed first):

* text and an image together: ``fusion=sum`` (default) gives ``normalize(t̂ + î)``, the sum of the
  normalised text and image embeddings (MTEB's rule for CLIP), renormalised so that the dot
  product is its cosine; ``fusion=image`` drops the text; ``fusion=refuse`` rejects the input.
  An image whose text is empty is the image embedding alone.
* a video: the mean of its sampled frames' normalised image embeddings, renormalised
  (``video=mean_frames``, default), then fused with the text like an image; ``video=refuse``
  rejects it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from harness.encoder_metadata import EncoderMetadata
from harness.errors import ModelError
from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER, EncodeInput, Side
from harness.media.image import open_image
from harness.media.video import load_video_frames
from harness.models.base import register_model
from harness.models.checkpoint import (
    describe_model,
    load_config,
    load_model,
    load_part,
    load_tokenizer,
    local_checkpoint_facts,
    unsupported_model_type,
)
from harness.models.settings import CheckpointSettings, parse_settings, resolve_runtime

__all__ = ["DualEncoder", "DualEncoderSettings", "SUPPORTED_MODEL_TYPES", "create_dual_encoder"]

SUPPORTED_MODEL_TYPES = ("clip", "siglip")


class DualEncoderSettings(CheckpointSettings):
    """``--model_args`` of the ``clip`` / ``siglip`` adapter; unknown keys are rejected."""

    pretrained: str = "openai/clip-vit-base-patch32"
    """Hub id or local folder of a CLIP or SigLIP checkpoint."""
    fusion: Literal["sum", "image", "refuse"] = "sum"
    """Inputs with text and an image/video: sum of normalised embeddings, the image alone, or an error."""
    video: Literal["mean_frames", "refuse"] = "mean_frames"
    """Videos: mean of the sampled frames' normalised embeddings, or an error."""
    max_length: int | None = None
    """Text token limit; default the text tower's ``max_position_embeddings`` (longer texts are truncated)."""


@register_model(
    "clip", "siglip", description="CLIP / SigLIP dual encoder (cosine; text+image summed, video frame mean)"
)
def create_dual_encoder(model_args: Mapping[str, Any], device: str) -> DualEncoder:
    """Build the adapter from ``--model_args``."""
    return DualEncoder(parse_settings(DualEncoderSettings, model_args, "clip/siglip"), device)


class DualEncoder:
    """Encoder for CLIP and SigLIP checkpoints."""

    def __init__(self, settings: DualEncoderSettings, device: str) -> None:
        from transformers import AutoImageProcessor, AutoModel

        self.settings = settings
        runtime = resolve_runtime(settings, device)
        self.device, self.dtype, self.attn_implementation = runtime.device, runtime.dtype, runtime.attn_implementation
        config = load_config(settings.pretrained, settings.revision, settings.trust_remote_code)
        self.model_type = getattr(config, "model_type", None)
        if self.model_type not in SUPPORTED_MODEL_TYPES:
            raise unsupported_model_type(settings.pretrained, self.model_type, "clip/siglip", SUPPORTED_MODEL_TYPES)
        common = settings.hub_kwargs()
        self.model: Any = load_model(AutoModel, settings.pretrained, settings, runtime)
        self.tokenizer = load_tokenizer(settings.pretrained, **common)
        self.image_processor = load_part(AutoImageProcessor, settings.pretrained, "image processor", **common)
        self.max_length = settings.max_length or int(config.text_config.max_position_embeddings)

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed one batch: text, image and video rows may be mixed (fusion rules in the module docstring)."""
        import torch

        texts = [
            item.text.replace(IMAGE_MARKER, "").replace(VIDEO_MARKER, "").replace(AUDIO_MARKER, "").strip()
            for item in inputs
        ]
        frames: list[Any] = []
        owners: list[int] = []  # which input each image or frame belongs to
        for row, item in enumerate(inputs):
            for image in self._visuals(row, item, texts[row]):
                frames.append(image)
                owners.append(row)
        fuse_text = self.settings.fusion == "sum"
        text_rows = [row for row, item in enumerate(inputs) if not item.has_media() or (fuse_text and texts[row])]
        text_emb: Any = None
        image_emb: Any = None
        with torch.inference_mode():
            text_emb = self.text_embeddings([texts[row] for row in text_rows]) if text_rows else None
            image_emb = self.image_embeddings(frames) if frames else None
        width = (text_emb if text_emb is not None else image_emb).shape[1]
        out = torch.zeros(len(inputs), width)
        visual = torch.zeros(len(inputs), width)
        if image_emb is not None:
            visual.index_add_(0, torch.tensor(owners), image_emb)
            visual = torch.nn.functional.normalize(visual, dim=-1)  # mean of frames, renormalised
        for position, row in enumerate(text_rows):
            out[row] = text_emb[position]
        has_visual = torch.tensor([item.has_media() for item in inputs])
        # A visual row's text slot is zero unless its text was encoded for fusion.
        out[has_visual] = torch.nn.functional.normalize(out[has_visual] + visual[has_visual], dim=-1)
        return out.numpy().astype(np.float32, copy=False)

    def text_embeddings(self, texts: list[str]) -> Any:
        """L2-normalised text-tower features, float32 on CPU."""
        import torch

        padding: Any = "max_length" if self.model_type == "siglip" else True  # SigLIP was trained on padded text
        tokens = self.tokenizer(
            texts, padding=padding, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        features = _features(self.model.get_text_features(**tokens))
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu()

    def image_embeddings(self, images: list[Any]) -> Any:
        """L2-normalised image-tower features, float32 on CPU."""
        import torch

        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        features = _features(self.model.get_image_features(pixel_values=pixels.to(self.device, self.model.dtype)))
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu()

    def _visuals(self, row: int, item: EncodeInput, text: str) -> list[Any]:
        if item.image is not None and item.video is not None:
            raise ModelError(f"clip/siglip: input {row} carries both an image and a video; encode one of them")
        if item.has_media() and text and self.settings.fusion == "refuse":
            raise ModelError(f"clip/siglip: input {row} ({text[:40]!r}) has text and media and fusion=refuse")
        if item.image is not None:
            return [open_image(item.image)]
        if item.video is not None:
            if self.settings.video == "refuse":
                raise ModelError(f"clip/siglip: input {row} ({text[:40]!r}) carries a video and video=refuse")
            return load_video_frames(item.video)
        return []

    def metadata(self) -> EncoderMetadata:
        """Settings and environment needed to reproduce the embeddings."""
        return EncoderMetadata(
            **describe_model(
                self.model,
                adapter="clip" if self.model_type == "clip" else "siglip",
                embedding_dim=self._embedding_dim(),
                dtype=self.dtype,
                device=self.device,
                attn_implementation=self.attn_implementation,
            ),
            pretrained=self.settings.pretrained,
            revision=self.settings.revision,
            settings=self.settings.model_dump(),
            checkpoint=local_checkpoint_facts(self.settings.pretrained),
            pooling="the model's own pooled, projected tower output",
            similarity="cosine (dot product of L2-normalised embeddings)",
            fusion=self.settings.fusion,
            video=self.settings.video,
            max_length=self.max_length,
            image_processor=type(self.image_processor).__name__,
        )

    def _embedding_dim(self) -> int:
        config = self.model.config
        return int(getattr(config, "projection_dim", None) or config.text_config.hidden_size)


def _features(output: Any) -> Any:
    """The feature tensor from ``get_*_features`` (a tensor, or a pooled output in transformers 5)."""
    return output if hasattr(output, "dim") else output.pooler_output
