"""A generic text encoder: any transformers ``AutoModel`` encoder with mean or CLS pooling.

For text-only baselines (BERT, E5, BGE, ...). Mean pooling averages the last hidden states over
the attention mask; CLS pooling takes the first token's. Inputs that carry an image or a video
are refused: this adapter cannot see them, and dropping them silently would score a different task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from harness.encoder_metadata import EncoderMetadata
from harness.errors import ModelError
from harness.inputs import EncodeInput, Side
from harness.models.base import register_model
from harness.models.checkpoint import (
    describe_model,
    load_config,
    load_model,
    load_tokenizer,
    local_checkpoint_facts,
    to_embeddings,
    unsupported_model_type,
)
from harness.models.settings import CheckpointSettings, parse_settings, resolve_runtime

__all__ = ["SUPPORTED_MODEL_TYPES", "TextEncoder", "TextEncoderSettings", "create_text_encoder", "pool"]

SUPPORTED_MODEL_TYPES = (
    "text-only model types, e.g. bert, roberta, xlm-roberta, modernbert (no multimodal or encoder-decoder ones)"
)
"""What the adapter serves: any config without sub-configs (vision, audio ...) that is not encoder-decoder."""


class TextEncoderSettings(CheckpointSettings):
    """``--model_args`` of the ``text_encoder`` adapter; unknown keys are rejected."""

    pretrained: str
    """Hub id or local folder of a transformers encoder checkpoint (BERT-like)."""
    pooling: Literal["mean", "cls"] = "mean"
    """Mean of the last hidden states over real tokens, or the first (CLS) token's."""
    normalize: bool = True
    """L2-normalise embeddings (scores are then cosines)."""
    query_prefix: str = ""
    """Text put before every query (e.g. E5's ``"query: "``)."""
    candidate_prefix: str = ""
    """Text put before every candidate (e.g. E5's ``"passage: "``)."""
    max_length: int = 512
    """Token limit; longer texts are truncated, as sentence encoders do."""


@register_model("text_encoder", description="any transformers text encoder, mean or CLS pooling (text-only inputs)")
def create_text_encoder(model_args: Mapping[str, Any], device: str) -> TextEncoder:
    """Build the adapter from ``--model_args``."""
    if "pretrained" not in model_args:
        raise ModelError("text_encoder needs --model_args pretrained=CHECKPOINT (a transformers encoder)")
    return TextEncoder(parse_settings(TextEncoderSettings, model_args, "text_encoder"), device)


def pool(hidden: Any, attention_mask: Any, pooling: str) -> Any:
    """Mean over the masked tokens, or the first token; ``hidden`` is ``[batch, tokens, dim]``."""
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


class TextEncoder:
    """Encoder for text-only transformers checkpoints."""

    def __init__(self, settings: TextEncoderSettings, device: str) -> None:
        from transformers import AutoModel

        self.settings = settings
        runtime = resolve_runtime(settings, device)
        self.device, self.dtype, self.attn_implementation = runtime.device, runtime.dtype, runtime.attn_implementation
        config = load_config(settings.pretrained, settings.revision, settings.trust_remote_code)  # clear errors first
        # AutoModel of a multimodal config is the whole model, whose forward wants more than text.
        if getattr(config, "sub_configs", None) or getattr(config, "is_encoder_decoder", False):
            model_type = getattr(config, "model_type", None)
            raise unsupported_model_type(settings.pretrained, model_type, "text_encoder", SUPPORTED_MODEL_TYPES)
        self.model: Any = load_model(AutoModel, settings.pretrained, settings, runtime)
        self.tokenizer = load_tokenizer(settings.pretrained, **settings.hub_kwargs())

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed one batch of text-only inputs."""
        import torch

        for row, item in enumerate(inputs):
            if item.has_media():
                kind = "an image" if item.image is not None else "a video"
                raise ModelError(
                    f"text_encoder: {side} input {row} ({item.text[:40]!r}) carries {kind}; this adapter encodes "
                    "text only (use a multimodal adapter, see `harness models`)"
                )
        prefix = self.settings.query_prefix if side == "query" else self.settings.candidate_prefix
        tokens = self.tokenizer(
            [prefix + item.text for item in inputs],
            padding=True,
            truncation=True,
            max_length=self.settings.max_length,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**tokens).last_hidden_state
        return to_embeddings(
            pool(hidden.float(), tokens["attention_mask"], self.settings.pooling), normalize=self.settings.normalize
        )

    def metadata(self) -> EncoderMetadata:
        """Settings and environment needed to reproduce the embeddings."""
        return EncoderMetadata(
            **describe_model(
                self.model,
                adapter="text_encoder",
                embedding_dim=self.model.config.hidden_size,
                dtype=self.dtype,
                device=self.device,
                attn_implementation=self.attn_implementation,
            ),
            pretrained=self.settings.pretrained,
            revision=self.settings.revision,
            settings=self.settings.model_dump(),
            checkpoint=local_checkpoint_facts(self.settings.pretrained),
            pooling=self.settings.pooling,
            similarity="cosine (dot product of L2-normalised embeddings)" if self.settings.normalize else "dot",
        )
