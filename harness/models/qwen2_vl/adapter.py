"""The VLM2Vec adapter for Qwen2-VL checkpoints (VLM2Vec-V2.0 and compatible).

It reproduces the reference encoder on stock transformers: VLM2Vec's prompt syntax (the image
token followed by the text, no chat template, no ``<|vision_start|>``), plain 1-D positions
(the reference's M-RoPE code finds no vision segment without ``<|vision_start|>``), last-token
pooling and optional L2 normalisation. See ``docs/fidelity.md`` for every deviation checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import ModelError
from harness.inputs import EncodeInput, Side
from harness.models.base import register_model
from harness.models.qwen2_vl.preprocess import build_processor, load_image, load_video
from harness.taskspec.templates import IMAGE_MARKER, VIDEO_MARKER

SUPPORTED_MODEL_TYPES = ("qwen2_vl",)
IMAGE_TOKEN = "<|image_pad|>"
VIDEO_TOKEN = "<|video_pad|>"


class VLM2VecSettings(BaseModel):
    """``--model_args`` of the ``vlm2vec`` adapter; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    pretrained: str = "VLM2Vec/VLM2Vec-V2.0"
    """Hub id or local folder of a full (merged) Qwen2-VL checkpoint."""
    revision: str | None = None
    """Hub revision to pin (commit hash, tag or branch)."""
    pooling: Literal["eos", "last"] = "eos"
    """Last-token pooling (``eos`` and ``last`` are the same rule in the reference)."""
    normalize: bool = True
    """L2-normalise embeddings (the reference runs use ``--normalize true``)."""
    min_pixels: int = 3136
    """Smallest image area after smart-resize (reference default 56·56)."""
    max_pixels: int = 1003520
    """Largest image area after smart-resize (reference default 28·28·1280)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """``auto``: bfloat16 on GPU (as the reference), float32 on CPU."""
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    """``auto``: flash_attention_2 on GPU when installed, else sdpa."""
    trust_remote_code: bool = False
    """Allow code from the checkpoint repository to run; off unless you ask for it."""


@register_model("vlm2vec", description="VLM2Vec on a Qwen2-VL backbone (eos pooling, reference prompt syntax)")
def create_vlm2vec(model_args: Mapping[str, Any], device: str) -> VLM2VecQwen2VL:
    """Build the adapter from ``--model_args``."""
    try:
        settings = VLM2VecSettings(**model_args)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            valid = ", ".join(VLM2VecSettings.model_fields)
            raise ModelError(f"unknown model_arg '{key}' for vlm2vec (valid: {valid})") from None
        raise ModelError(f"model_arg '{key}': {first['msg']}") from None
    return VLM2VecQwen2VL(settings, device)


class VLM2VecQwen2VL:
    """Encoder for VLM2Vec-style Qwen2-VL checkpoints."""

    def __init__(self, settings: VLM2VecSettings, device: str) -> None:
        import torch

        self.settings = settings
        self.device = _resolve_device(device)
        self.dtype = _resolve_dtype(settings.dtype, self.device)
        self.model_type = detect_backbone(settings.pretrained, settings.revision, settings.trust_remote_code)
        self.attn_implementation = _resolve_attention(settings.attn_implementation, self.device)
        self.processor = build_processor(
            settings.pretrained, settings.revision, settings.min_pixels, settings.max_pixels, settings.trust_remote_code
        )
        from transformers import Qwen2VLForConditionalGeneration

        model = Qwen2VLForConditionalGeneration.from_pretrained(
            settings.pretrained,
            revision=settings.revision or "main",
            dtype=getattr(torch, self.dtype),
            attn_implementation=self.attn_implementation,
            trust_remote_code=settings.trust_remote_code,
        )
        self.model: Any = model.to(self.device).eval()  # type: ignore[arg-type]
        self.resolved_revision = getattr(model.config, "_commit_hash", None)

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed one batch; text-only, image and video rows may be mixed freely."""
        import torch

        texts: list[str] = []
        images = []
        videos = []
        for item in inputs:
            # The processor takes images and videos in the order of their pad tokens in the batch.
            text = item.text.replace(IMAGE_MARKER, IMAGE_TOKEN).replace(VIDEO_MARKER, VIDEO_TOKEN)
            # An empty text (e.g. an empty answer option) tokenizes to nothing: alone in a batch the
            # model cannot run on it, and beside others it becomes a row of padding whose embedding
            # depends on the batch. Encode it as one pad token instead: the same vector every time.
            texts.append(text or self.processor.tokenizer.pad_token)
            if item.image is not None:
                images.append(load_image(item.image))
            if item.video is not None:
                videos.append(load_video(item.video, self.settings.min_pixels, self.settings.max_pixels))
        batch = self.processor(
            text=texts, images=images or None, videos=videos or None, padding=True, return_tensors="pt"
        )
        attention_mask = batch["attention_mask"].to(self.device)
        # 1-D positions over the real tokens, identical in the three M-RoPE sections.
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        forward: dict[str, Any] = {
            "input_ids": batch["input_ids"].to(self.device),
            "attention_mask": attention_mask,
            "position_ids": positions.unsqueeze(0).expand(3, -1, -1),
        }
        if images:
            forward["pixel_values"] = batch["pixel_values"].to(self.device, self.model.dtype)
            forward["image_grid_thw"] = batch["image_grid_thw"].to(self.device)
        if videos:
            forward["pixel_values_videos"] = batch["pixel_values_videos"].to(self.device, self.model.dtype)
            forward["video_grid_thw"] = batch["video_grid_thw"].to(self.device)
        with torch.inference_mode():
            hidden = self.model.model(**forward).last_hidden_state
        pooled = hidden[:, -1].float()  # left padding: the last position is the last real token
        if self.settings.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.cpu().numpy().astype(np.float32, copy=False)

    def metadata(self) -> dict[str, Any]:
        """Settings and environment needed to reproduce the embeddings."""
        import torch
        import transformers

        return {
            "adapter": "vlm2vec",
            "backbone": self.model_type,
            "pretrained": self.settings.pretrained,
            "revision": self.settings.revision,
            "resolved_revision": self.resolved_revision,
            "settings": self.settings.model_dump(),
            "dtype": self.dtype,
            "device": self.device,
            "attn_implementation": self.attn_implementation,
            "num_parameters": int(sum(p.numel() for p in self.model.parameters())),
            "embedding_dim": int(self.model.config.text_config.hidden_size),
            "image_backend": "pil",
            "positions": "1d",
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
        }


def detect_backbone(checkpoint: str, revision: str | None, trust_remote_code: bool) -> str:
    """Read the checkpoint's ``model_type``; refuse adapters-only folders and other backbones."""
    local = Path(checkpoint)
    if local.is_dir() and (local / "adapter_config.json").is_file() and not (local / "config.json").is_file():
        base = json.loads((local / "adapter_config.json").read_text()).get("base_model_name_or_path")
        raise ModelError(
            f"{checkpoint} is a LoRA adapter (base model {base!r}); merged loading of adapters is not "
            "supported yet: merge it into the base model first (peft merge_and_unload) and pass the merged folder"
        )
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(
            checkpoint, revision=revision or "main", trust_remote_code=trust_remote_code
        )
    except Exception as error:  # missing folder, no network, bad json: all user-actionable
        raise ModelError(f"cannot load a model config from '{checkpoint}': {type(error).__name__}: {error}") from None
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelError(
            f"'{checkpoint}' has model_type '{model_type}', which the vlm2vec adapter does not support "
            f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    return str(model_type)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"--device {device} requested but CUDA is not available")
    return device


def _resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return dtype


def _resolve_attention(choice: str, device: str) -> str:
    if choice != "auto":
        return choice
    if device.startswith("cuda"):
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            return "sdpa"
    return "sdpa"
