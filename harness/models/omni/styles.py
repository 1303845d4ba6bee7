"""The three Qwen2.5-Omni embedding recipes of the reference, as data: prompt, attention and pooling.

The reference (VLM2Vec main, ``src/model/processor.py`` / ``model.py``) serves these backbones with
one code path that differs only in these rules:

* ``nvomniembed`` (NVIDIA Omni-Embed-Nemotron): chat template without a generation prompt; the
  text decoder attends bidirectionally (its checkpoint code sets ``is_causal=False`` on every layer
  and builds a padding-only mask); mean over the attention mask.
* ``e5_omni`` (e5-omni): generation prompt, then ``<|endoftext|>`` appended; last token.
* ``lco_omni`` (LCO-Embedding-Omni): generation prompt; last token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OmniStyle = Literal["nvomniembed", "e5_omni", "lco_omni"]
Pooling = Literal["mean", "last"]
Attention = Literal["causal", "bidirectional"]


@dataclass(frozen=True)
class StyleRules:
    """What one backbone recipe does beyond the shared chat document."""

    generation_prompt: bool
    """Render the chat template with ``add_generation_prompt=True`` (``<|im_start|>assistant\\n``)."""
    suffix: str
    """Text appended to the rendered template."""
    pooling: Pooling
    """``mean`` over the attention mask, or the ``last`` real token."""
    attention: Attention
    """The text decoder's self-attention."""


STYLES: dict[str, StyleRules] = {
    "nvomniembed": StyleRules(generation_prompt=False, suffix="", pooling="mean", attention="bidirectional"),
    "e5_omni": StyleRules(generation_prompt=True, suffix="<|endoftext|>", pooling="last", attention="causal"),
    "lco_omni": StyleRules(generation_prompt=True, suffix="", pooling="last", attention="causal"),
}
"""Each style's rules, as the reference's backbone of that name applies them."""
