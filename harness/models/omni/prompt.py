"""The chat document the reference builds per input, and the prompt text the model reads.

One user turn holds, in this order: the image, the video, the audio clip, then the text. The
text is the input's text with every media marker replaced by a space and its whitespace
collapsed to single spaces (the reference strips its placeholder tokens the same way and lets
the chat template put the model's own ``<|IMAGE|>`` / ``<|VIDEO|>`` / ``<|AUDIO|>`` blocks in
front); an empty text becomes one space.
"""

from __future__ import annotations

from typing import Any

from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER
from harness.models.omni.styles import StyleRules

MARKERS = (IMAGE_MARKER, VIDEO_MARKER, AUDIO_MARKER)


def clean_text(text: str) -> str:
    """The text part of the chat turn: markers removed, whitespace collapsed, never empty."""
    for marker in MARKERS:
        text = text.replace(marker, " ")
    return " ".join(text.split()) or " "


def chat_document(text: str, *, image: bool, video: bool, audio: bool) -> list[dict[str, Any]]:
    """A one-turn chat document with placeholders for the media present (the processor gets the
    media themselves as separate lists; the chat template only reads each part's ``type``)."""
    content: list[dict[str, Any]] = []
    if image:
        content.append({"type": "image"})
    if video:
        content.append({"type": "video"})
    if audio:
        content.append({"type": "audio"})
    content.append({"type": "text", "text": clean_text(text)})
    return [{"role": "user", "content": content}]


def render_prompt(processor: Any, document: list[dict[str, Any]], rules: StyleRules) -> str:
    """The checkpoint's chat template applied to ``document``, with the style's generation prompt and suffix."""
    rendered = processor.apply_chat_template(document, add_generation_prompt=rules.generation_prompt, tokenize=False)
    return str(rendered) + rules.suffix
