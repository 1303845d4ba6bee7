"""The VLM2Vec adapter for Qwen2-VL and Qwen2.5-VL checkpoints (VLM2Vec-V2.0, V1 and compatible).

It reproduces the reference encoder on stock transformers: VLM2Vec's prompt syntax (the image
token followed by the text, no chat template, no ``<|vision_start|>``), plain 1-D positions
(the reference's M-RoPE code finds no vision segment without ``<|vision_start|>``), last-token
pooling and optional L2 normalisation. See ``docs/fidelity.md`` for every deviation checked.
An adapter-only checkpoint (VLM2Vec-V2.0 is published so) is merged into its base model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from harness.encoder_metadata import EncoderMetadata
from harness.inputs import EncodeInput, Side
from harness.models.base import register_model
from harness.models.checkpoint import describe_model, to_embeddings
from harness.models.qwen2_vl.loading import SUPPORTED_MODEL_TYPES, detect_model_type, load_checkpoint
from harness.models.qwen2_vl.prepare import TEXT_ONLY_ROWS, VISUAL_KEYS, VLM2VecPreparer
from harness.models.qwen2_vl.preprocess import build_processor
from harness.models.settings import CheckpointSettings, parse_settings, resolve_runtime

__all__ = ["SUPPORTED_MODEL_TYPES", "VLM2VecQwen2VL", "VLM2VecSettings", "create_vlm2vec", "detect_backbone"]


class VLM2VecSettings(CheckpointSettings):
    """``--model_args`` of the ``vlm2vec`` adapter; unknown keys are rejected."""

    pretrained: str = "VLM2Vec/VLM2Vec-V2.0"
    """Hub id or local folder: a full Qwen2-VL / Qwen2.5-VL checkpoint, or a LoRA adapter (merged on load)."""
    base_model: str | None = None
    """For a LoRA adapter: the base model, instead of adapter_config's ``base_model_name_or_path``."""
    pooling: Literal["eos", "last"] = "eos"
    """Last-token pooling (``eos`` and ``last`` are the same rule in the reference)."""
    normalize: bool = True
    """L2-normalise embeddings (the reference runs use ``--normalize true``)."""
    min_pixels: int = 3136
    """Smallest image area after smart-resize (reference default 56·56)."""
    max_pixels: int = 1003520
    """Largest image area after smart-resize (reference default 28·28·1280)."""
    image_resolution: Literal["high", "mid", "low"] | None = None
    """Resize images to 1344² / 672² / 128² first (the reference's V1 setting: ``high``); none for V2.0."""
    max_text_tokens: int | None = Field(default=None, ge=1)
    """An input encoded as text alone (no image or video, or an image list with an empty slot) is
    cut to its first this many tokens. None: the tokenizer's ``model_max_length`` (32,768 for
    Qwen2-VL), as the pinned reference (6e1e1d4) cuts it (``truncation=True`` without ``--max_len``).
    VLM2Vec main (44f991d, MMEB-V3) cuts at 2,048 without ``--max_len``: set 2048 to reproduce it.
    Inputs with media are never cut (cutting would cut their visual tokens)."""


@register_model(
    "vlm2vec", description="VLM2Vec on Qwen2-VL / Qwen2.5-VL (V2.0, V1, LoRA merged; eos pooling, reference prompts)"
)
def create_vlm2vec(model_args: Mapping[str, Any], device: str) -> VLM2VecQwen2VL:
    """Build the adapter from ``--model_args``."""
    return VLM2VecQwen2VL(parse_settings(VLM2VecSettings, model_args, "vlm2vec"), device)


class VLM2VecQwen2VL:
    """Encoder for VLM2Vec-style Qwen2-VL checkpoints."""

    accepts_image_lists = True
    """Image lists are encoded as the reference's Qwen2-VL path does (see ``prepare.py``)."""

    def __init__(self, settings: VLM2VecSettings, device: str) -> None:
        self.settings = settings
        runtime = resolve_runtime(settings, device)
        self.device, self.dtype, self.attn_implementation = runtime.device, runtime.dtype, runtime.attn_implementation
        self.loaded = load_checkpoint(
            settings.pretrained,
            settings.revision,
            settings.base_model,
            adapter="vlm2vec",
            dtype=self.dtype,
            attn_implementation=self.attn_implementation,
            trust_remote_code=settings.trust_remote_code,
        )
        self.model_type = self.loaded.model_type
        self.processor = build_processor(
            self.loaded.processor_source,
            self.loaded.processor_revision,
            settings.min_pixels,
            settings.max_pixels,
            settings.trust_remote_code,
            model_type=self.model_type,
        )
        self.max_text_tokens = settings.max_text_tokens or tokenizer_length_limit(self.processor.tokenizer)
        self._preparer = VLM2VecPreparer(
            self.processor,
            min_pixels=settings.min_pixels,
            max_pixels=settings.max_pixels,
            image_resolution=settings.image_resolution,
            max_text_tokens=self.max_text_tokens,
        )
        self.model: Any = self.loaded.model.to(self.device).eval()
        self.resolved_revision = getattr(self.model.config, "_commit_hash", None)

    def preparer(self) -> VLM2VecPreparer:
        """The CPU stage (processor and image settings, no model), run in preprocessing workers."""
        return self._preparer

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed one batch; text-only, image and video rows may be mixed freely."""
        return self.encode_prepared(self._preparer.prepare(inputs, side))

    def encode_prepared(self, prepared: Mapping[str, Any]) -> np.ndarray:
        """Embed one batch made by :meth:`VLM2VecPreparer.prepare` (host tensors, pinned or not)."""
        text_only = prepared.get(TEXT_ONLY_ROWS)
        if text_only is None or not any(key in prepared for key in VISUAL_KEYS):
            return self._forward(prepared)
        # Rows encoded as text alone keep plain image tokens, which the model would fill with the
        # batch's images: they run apart, as the reference's model embeds rows without images apart.
        alone, rich = text_only.nonzero().flatten(), (~text_only).nonzero().flatten()
        tokens = ("input_ids", "attention_mask")
        plain = self._forward({key: prepared[key][alone] for key in tokens})
        visual = self._forward({**prepared, **{key: prepared[key][rich] for key in tokens}})
        embeddings = np.zeros((len(text_only), plain.shape[1]), dtype=plain.dtype)
        embeddings[alone.numpy()], embeddings[rich.numpy()] = plain, visual
        return embeddings

    def _forward(self, prepared: Mapping[str, Any]) -> np.ndarray:
        """The model on one prepared batch: its last-token embeddings."""
        import torch

        def on_device(name: str, dtype: Any = None) -> Any:
            return prepared[name].to(self.device, dtype, non_blocking=True)

        attention_mask = on_device("attention_mask")
        # 1-D positions over the real tokens, identical in the three M-RoPE sections.
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        forward: dict[str, Any] = {
            "input_ids": on_device("input_ids"),
            "attention_mask": attention_mask,
            "position_ids": positions.unsqueeze(0).expand(3, -1, -1),
        }
        if "pixel_values" in prepared:
            forward["pixel_values"] = on_device("pixel_values", self.model.dtype)
            forward["image_grid_thw"] = on_device("image_grid_thw")
        if "pixel_values_videos" in prepared:
            forward["pixel_values_videos"] = on_device("pixel_values_videos", self.model.dtype)
            forward["video_grid_thw"] = on_device("video_grid_thw")
        with torch.inference_mode():
            hidden = self.model.model(**forward).last_hidden_state
        # left padding: the last position is the last real token
        return to_embeddings(hidden[:, -1], normalize=self.settings.normalize)

    def metadata(self) -> EncoderMetadata:
        """Settings and environment needed to reproduce the embeddings."""
        return EncoderMetadata(
            **describe_model(
                self.model,
                adapter="vlm2vec",
                embedding_dim=self.model.config.text_config.hidden_size,
                dtype=self.dtype,
                device=self.device,
                attn_implementation=self.attn_implementation,
            ),
            backbone=self.model_type,
            pretrained=self.settings.pretrained,
            revision=self.settings.revision,
            settings={**self.settings.model_dump(), "max_text_tokens": self.max_text_tokens},
            checkpoint=self.loaded.facts,
            pooling="last token",
            similarity="cosine (dot product of L2-normalised embeddings)" if self.settings.normalize else "dot",
            image_backend="pil",
            positions="1d",
        )


def detect_backbone(checkpoint: str, revision: str | None, trust_remote_code: bool) -> str:
    """The checkpoint's ``model_type`` when the vlm2vec adapter serves it; ``ModelError`` otherwise."""
    return detect_model_type(checkpoint, revision, trust_remote_code, "vlm2vec")


def tokenizer_length_limit(tokenizer: Any) -> int | None:
    """The tokenizer's ``model_max_length``, what ``truncation=True`` without ``max_length`` cuts to;
    None when it is transformers' "no limit" placeholder (a very large integer)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 10**12 else None
