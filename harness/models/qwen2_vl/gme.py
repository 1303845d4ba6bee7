"""The GME adapter (Alibaba-NLP gme-Qwen2-VL): chat prompt, M-RoPE positions, last-token pooling.

GME's own inference code builds, per input::

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n[<|vision_start|><|image_pad|><|vision_end|>]{text}<|im_end|>\\n<|im_start|>assistant\\n<|endoftext|>

and pools the last token of the left-padded batch, L2-normalised. The task instruction reaches
the model inside ``text`` (the task template renders it on the query side, as VLM2Vec's GME
wrapper passes ``instruction + " " + text``); ``system`` stays the default. Unlike VLM2Vec's
prompts these carry ``<|vision_start|>``, so positions are the stock 3-D M-RoPE ones. A video
is encoded as its middle sampled frame, as GME's reference in MMEB does. Images are bounded to
256–1280 visual tokens (GME's ``min_image_tokens``/``max_image_tokens``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from PIL import Image

from harness.encoder_metadata import EncoderMetadata
from harness.errors import ModelError
from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER, EncodeInput, Side
from harness.media.image import image_size
from harness.media.video import load_video_frames, sampled_frame_size
from harness.models.base import register_model
from harness.models.checkpoint import describe_model, to_embeddings
from harness.models.qwen2_vl.loading import load_checkpoint
from harness.models.qwen2_vl.prepare import image_tokens
from harness.models.qwen2_vl.preprocess import build_processor, load_image, loaded_size
from harness.models.settings import CheckpointSettings, parse_settings, resolve_runtime

__all__ = ["GmeQwen2VL", "GmeSettings", "create_gme", "gme_prompt"]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
VISION_BLOCK = "<|vision_start|><|image_pad|><|vision_end|>"
PIXELS_PER_TOKEN = 28 * 28


class GmeSettings(CheckpointSettings):
    """``--model_args`` of the ``gme`` adapter; unknown keys are rejected."""

    pretrained: str = "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct"
    """Hub id or local folder of a GME checkpoint (Qwen2-VL / Qwen2.5-VL), or a LoRA adapter of one."""
    base_model: str | None = None
    """For a LoRA adapter: the base model, instead of adapter_config's ``base_model_name_or_path``."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """The chat's system turn (GME's default instruction)."""
    pooling: Literal["eos", "last"] = "eos"
    """Last-token pooling (the only rule GME defines; both names accepted, as the reference's flag)."""
    normalize: bool = True
    """L2-normalise embeddings (GME always does)."""
    min_pixels: int = 256 * PIXELS_PER_TOKEN
    """Smallest image area after smart-resize (GME: 256 visual tokens)."""
    max_pixels: int = 1280 * PIXELS_PER_TOKEN
    """Largest image area after smart-resize (GME: 1280 visual tokens)."""
    max_length: int = 1800
    """Token limit of a prompt (GME's ``max_length``). A longer text-only prompt is cut to its first
    ``max_length`` tokens, as GME's own code truncates; a longer prompt with an image is an error
    (cutting it would cut its image tokens)."""


@register_model("gme", description="GME (gme-Qwen2-VL): chat prompt, M-RoPE, last-token pooling, middle video frame")
def create_gme(model_args: Mapping[str, Any], device: str) -> GmeQwen2VL:
    """Build the adapter from ``--model_args``."""
    return GmeQwen2VL(parse_settings(GmeSettings, model_args, "gme"), device)


def gme_prompt(text: str, has_visual: bool, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> str:
    """GME's chat prompt for one input; ``text`` has the media markers already removed."""
    user = (VISION_BLOCK if has_visual else "") + text
    return (
        f"<|im_start|>system\n{system_prompt}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n<|endoftext|>"
    )


def strip_markers(text: str) -> str:
    """The text without the media markers; GME puts the vision block first, whatever the template said."""
    return text.replace(IMAGE_MARKER, "").replace(VIDEO_MARKER, "").replace(AUDIO_MARKER, "").lstrip()


def middle_frame(frames: Sequence[Image.Image]) -> Image.Image:
    """The frame GME encodes for a video: the middle one of the sampled frames."""
    return frames[len(frames) // 2]


class GmePreparer:
    """GME's CPU stage: chat prompts, images (a video's middle frame), the processor's tensors."""

    def __init__(self, processor: Any, system_prompt: str, max_length: int) -> None:
        self.processor = processor
        self.system_prompt = system_prompt
        self.max_length = max_length

    def prompt(self, item: EncodeInput) -> str:
        """The chat prompt of one input."""
        return gme_prompt(strip_markers(item.text), item.has_media(), self.system_prompt)

    def prepare(self, inputs: Sequence[EncodeInput], side: Side) -> dict[str, Any]:
        """The processor's tensors for one batch (left-padded); a text-only prompt over ``max_length``
        is cut as GME cuts it, a prompt with an image over it is an error."""
        images: list[Image.Image] = []
        for item in inputs:
            if item.image is not None:
                images.append(load_image(item.image))
            elif item.video is not None:
                images.append(middle_frame(load_video_frames(item.video)))
        prompts = [self.prompt(item) for item in inputs]
        batch = self.processor(text=prompts, images=images or None, padding=True, return_tensors="pt")
        lengths = batch["attention_mask"].sum(-1).tolist()
        if max(lengths) <= self.max_length:
            return dict(batch)
        visual = [int(n) for n, item in zip(lengths, inputs, strict=True) if item.has_media()]
        if visual and max(visual) > self.max_length:
            raise ModelError(
                f"gme: a prompt with an image has {max(visual)} tokens, over max_length={self.max_length} "
                "(cutting it would cut its image tokens)"
            )
        # GME's own embed() calls its processor with truncation=True, max_length: a text is cut to
        # its first max_length tokens (the chat prompt's closing tokens included).
        batch = self.processor(
            text=prompts,
            images=images or None,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return dict(batch)

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> list[int]:
        """Tokens of each prompt, its image's (or its video's middle frame's) visual tokens included."""
        if not inputs:
            return []
        encoded = self.processor.tokenizer([self.prompt(item) for item in inputs])["input_ids"]
        return [
            len(ids) + self._extra_visual_tokens(item) if item.has_media() else min(len(ids), self.max_length)
            for ids, item in zip(encoded, inputs, strict=True)
        ]

    def _extra_visual_tokens(self, item: EncodeInput) -> int:
        if item.image is not None:
            return image_tokens(self.processor, loaded_size(image_size(item.image))) - 1
        if item.video is not None:  # the middle sampled frame, as decoded (no small-image resize)
            middle = len(item.video.frame_indices) // 2
            return image_tokens(self.processor, sampled_frame_size(item.video, middle)) - 1
        return 0


class GmeQwen2VL:
    """Encoder for GME checkpoints."""

    def __init__(self, settings: GmeSettings, device: str) -> None:
        self.settings = settings
        runtime = resolve_runtime(settings, device)
        self.device, self.dtype, self.attn_implementation = runtime.device, runtime.dtype, runtime.attn_implementation
        self.loaded = load_checkpoint(
            settings.pretrained,
            settings.revision,
            settings.base_model,
            adapter="gme",
            dtype=self.dtype,
            attn_implementation=self.attn_implementation,
            trust_remote_code=settings.trust_remote_code,
        )
        self.processor = build_processor(
            self.loaded.processor_source,
            self.loaded.processor_revision,
            settings.min_pixels,
            settings.max_pixels,
            settings.trust_remote_code,
            model_type=self.loaded.model_type,
        )
        self._preparer = GmePreparer(self.processor, settings.system_prompt, settings.max_length)
        self.model: Any = self.loaded.model.to(self.device).eval()

    def preparer(self) -> GmePreparer:
        """The CPU stage (processor and prompt settings, no model), run in preprocessing workers."""
        return self._preparer

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed one batch; an input carries at most one image or one video (its middle frame)."""
        return self.encode_prepared(self._preparer.prepare(inputs, side))

    def encode_prepared(self, prepared: Mapping[str, Any]) -> np.ndarray:
        """Embed one batch made by :meth:`GmePreparer.prepare`."""
        import torch

        forward = {
            key: value.to(self.device, non_blocking=True) for key, value in prepared.items() if hasattr(value, "to")
        }
        if "pixel_values" in forward:
            forward["pixel_values"] = forward["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            hidden = self.model.model(**forward).last_hidden_state
        # left padding: the last position is the last real token
        return to_embeddings(hidden[:, -1], normalize=self.settings.normalize)

    def metadata(self) -> EncoderMetadata:
        """Settings and environment needed to reproduce the embeddings."""
        return EncoderMetadata(
            **describe_model(
                self.model,
                adapter="gme",
                embedding_dim=self.model.config.text_config.hidden_size,
                dtype=self.dtype,
                device=self.device,
                attn_implementation=self.attn_implementation,
            ),
            backbone=self.loaded.model_type,
            pretrained=self.settings.pretrained,
            revision=self.settings.revision,
            settings=self.settings.model_dump(),
            checkpoint=self.loaded.facts,
            pooling="last token",
            similarity="cosine (dot product of L2-normalised embeddings)" if self.settings.normalize else "dot",
            prompt="GME chat template, vision block first",
            video="middle sampled frame as an image",
            image_backend="pil",
            positions="mrope",
        )
