"""The ``omni`` adapter: Qwen2.5-Omni thinker embedding models (Omni-Embed-Nemotron, e5-omni,
LCO-Embedding-Omni) with text, images, video frames and audio.

One implementation; the ``style`` setting picks the reference backbone's rules (see
:mod:`harness.models.omni.styles`). The hidden states are the thinker's last layer after its
final norm (the reference's ``hidden_states[-1]``), with the model's own 3-D M-RoPE positions
(audio included, ``use_audio_in_video`` off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.encoder_metadata import EncoderMetadata
from harness.inputs import EncodeInput, Side
from harness.models.base import register_model
from harness.models.checkpoint import describe_model, local_checkpoint_facts, to_embeddings
from harness.models.omni.loading import build_processor, checkpoint_model_type, load_thinker, make_bidirectional
from harness.models.omni.prepare import OmniPreparer
from harness.models.omni.settings import OmniSettings
from harness.models.settings import parse_settings, resolve_runtime

__all__ = ["OmniEncoder", "create_omni"]


@register_model(
    "omni",
    description="Qwen2.5-Omni thinker embedders (Omni-Embed-Nemotron, e5-omni, LCO-Omni): text, image, video, audio",
)
def create_omni(model_args: Mapping[str, Any], device: str) -> OmniEncoder:
    """Build the adapter from ``--model_args``."""
    return OmniEncoder(parse_settings(OmniSettings, model_args, "omni"), device)


class OmniEncoder:
    """Encoder for Qwen2.5-Omni thinker checkpoints; takes audio."""

    accepts_audio = True

    def __init__(self, settings: OmniSettings, device: str) -> None:
        self.settings = settings
        self.rules = settings.rules()
        runtime = resolve_runtime(settings, device)
        self.device, self.dtype, self.attn_implementation = runtime.device, runtime.dtype, runtime.attn_implementation
        self.model_type = checkpoint_model_type(settings)
        self.processor = build_processor(settings)
        self._preparer = OmniPreparer(
            self.processor,
            self.rules,
            min_pixels=settings.min_pixels,
            max_pixels=settings.max_pixels,
            max_text_tokens=settings.max_text_tokens,
        )
        self.model: Any = load_thinker(settings, runtime)
        if self.rules.attention == "bidirectional":
            make_bidirectional(self.model)

    def preparer(self) -> OmniPreparer:
        """The CPU stage (processor and prompt rules, no model), run in preprocessing workers."""
        return self._preparer

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed one batch; text-only, image, video and audio rows may be mixed freely."""
        return self.encode_prepared(self._preparer.prepare(inputs, side))

    def encode_prepared(self, prepared: Mapping[str, Any]) -> np.ndarray:
        """Embed one batch made by :meth:`OmniPreparer.prepare`."""
        import torch

        forward = {key: value.to(self.device, non_blocking=True) for key, value in prepared.items()}
        for key in ("pixel_values", "pixel_values_videos", "input_features"):
            if key in forward:
                forward[key] = forward[key].to(self.model.dtype)
        attention_mask = forward["attention_mask"]
        with torch.inference_mode():
            if self.rules.attention == "bidirectional":
                forward.update(self._bidirectional_inputs(forward))
            hidden = self.model.model(**forward, use_cache=False).last_hidden_state
            pooled = pool(hidden, attention_mask, self.rules.pooling)
        return to_embeddings(pooled, normalize=self.settings.normalize)

    def _bidirectional_inputs(self, forward: Mapping[str, Any]) -> dict[str, Any]:
        """Positions computed from the padding mask (as the model would), and a padding-only
        attention mask in place of the causal one."""
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        thinker = self.model.model
        attention_mask = forward["attention_mask"]
        lengths = forward["feature_attention_mask"].sum(-1) if "feature_attention_mask" in forward else None
        positions, _ = thinker.get_rope_index(
            forward["input_ids"],
            forward.get("image_grid_thw"),
            forward.get("video_grid_thw"),
            attention_mask,
            False,
            lengths,
            forward.get("video_second_per_grid"),
        )
        shape = (*attention_mask.shape, 1)
        embeds = torch.empty(shape, dtype=self.model.dtype, device=attention_mask.device)
        mask = create_bidirectional_mask(thinker.language_model.config, embeds, attention_mask)
        return {"position_ids": positions, "attention_mask": {"full_attention": mask}}

    def metadata(self) -> EncoderMetadata:
        """Settings and environment needed to reproduce the embeddings."""
        pooling = "mean over the attention mask" if self.rules.pooling == "mean" else "last token"
        prompt = "checkpoint chat template, user turn [image, video, audio, text]"
        if self.rules.generation_prompt:
            prompt += " + generation prompt"
        if self.rules.suffix:
            prompt += f" + {self.rules.suffix}"
        return EncoderMetadata(
            **describe_model(
                self.model,
                adapter="omni",
                embedding_dim=self.model.config.text_config.hidden_size,
                dtype=self.dtype,
                device=self.device,
                attn_implementation=self.attn_implementation,
            ),
            backbone=self.settings.style,
            pretrained=self.settings.pretrained,
            revision=self.settings.revision,
            settings=self.settings.model_dump(),
            checkpoint=local_checkpoint_facts(self.settings.pretrained),
            pooling=pooling,
            similarity="cosine (dot product of L2-normalised embeddings)" if self.settings.normalize else "dot",
            prompt=prompt,
            video="sampled frames as one video (the processor's own resize)",
            image_backend="pil",
            positions="mrope",
            details={"attention": self.rules.attention, "checkpoint_model_type": self.model_type},
        )


def pool(hidden: Any, attention_mask: Any, pooling: str) -> Any:
    """``mean`` of the hidden states over the attention mask, or the ``last`` real token (left padding:
    the last position), in the hidden states' dtype as the reference computes it."""
    if pooling == "last":
        return hidden[:, -1]
    mask = attention_mask.unsqueeze(-1).type_as(hidden)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-6)
