"""``--model_args`` of the ``omni`` adapter."""

from __future__ import annotations

from pydantic import Field

from harness.models.omni.styles import STYLES, Attention, OmniStyle, Pooling, StyleRules
from harness.models.settings import CheckpointSettings

DEFAULT_MIN_PIXELS = 28 * 28 * 4
"""The reference's image and video pixel floor for omni backbones (its DataArguments default)."""
DEFAULT_MAX_PIXELS = 28 * 28 * 1280
"""The reference's pixel cap (its DataArguments default)."""
TEXT_ONLY_MAX_TOKENS = 2048
"""The reference truncates a text-only prompt to ``min(--max_len, 2048)`` tokens."""


class OmniSettings(CheckpointSettings):
    """``--model_args`` of the ``omni`` adapter; unknown keys are rejected."""

    pretrained: str = "nvidia/omni-embed-nemotron-3b"
    """Hub id or local folder of a Qwen2.5-Omni thinker checkpoint (``model_type`` ``qwen2_5_omni_thinker``
    or ``nvomniembed``), loaded with the stock transformers classes."""
    style: OmniStyle = "nvomniembed"
    """The reference backbone whose prompt, attention and pooling rules apply."""
    pooling: Pooling | None = None
    """Override the style's pooling (``mean`` over the attention mask, or the ``last`` real token)."""
    attention: Attention | None = None
    """Override the style's text-decoder attention (``causal`` or ``bidirectional``)."""
    normalize: bool = True
    """L2-normalise embeddings (the reference's ``--normalize true``)."""
    min_pixels: int = Field(DEFAULT_MIN_PIXELS, gt=0)
    """Smallest image / video-frame area after smart-resize."""
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0)
    """Largest image / video-frame area after smart-resize."""
    max_text_tokens: int = Field(TEXT_ONLY_MAX_TOKENS, gt=0)
    """A text-only prompt is cut to this many tokens (right side), as the reference does; prompts
    with media are never cut (their placeholders must match the features)."""

    def rules(self) -> StyleRules:
        """The style's rules with this run's overrides applied."""
        base = STYLES[self.style]
        return StyleRules(
            generation_prompt=base.generation_prompt,
            suffix=base.suffix,
            pooling=self.pooling or base.pooling,
            attention=self.attention or base.attention,
        )
