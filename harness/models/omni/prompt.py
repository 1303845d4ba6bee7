"""The chat document the reference builds per input, and the prompt text the model reads.

One user turn holds, in this order: the image, the video, the audio clip, then the text. The
text is the input's text with every media marker replaced by a space and its whitespace
collapsed to single spaces (the reference strips its placeholder tokens the same way and lets
the chat template put the model's own ``<|IMAGE|>`` / ``<|VIDEO|>`` / ``<|AUDIO|>`` blocks in
front); an empty text becomes one space.

The reference (``NVOmni_process_fn._strip_special_tokens`` in ``src/model/processor.py``) strips
every image and video token of every backbone it knows (``VLM_IMAGE_TOKENS`` /
``VLM_VIDEO_TOKENS``), whatever put them in the text: a row's own ``<image>`` or ``<|image_1|>``
is removed too, so :data:`REFERENCE_STRIPPED_TOKENS` are. Audio tokens are not stripped there,
and are not here.

What the text itself is comes from the task. The reference's parsers that call its
``process_input_text`` form a different text for ``e5_omni`` (instruction and text joined with no
space) and ``lco_omni`` (the instruction dropped, ``"\nSummarize the above {image|video|audio|text}
in one word:"`` appended, the text dropped beside an image or video); an input record does not
say which part of its text is the instruction, so those rules cannot be applied here (see
``docs/fidelity.md``). The V3 text, tool, memory and audio parsers do not call it: their texts
are the same for every backbone.
"""

from __future__ import annotations

from typing import Any

from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER
from harness.models.omni.styles import StyleRules

MARKERS = (IMAGE_MARKER, VIDEO_MARKER, AUDIO_MARKER)
REFERENCE_STRIPPED_TOKENS = ("<|image_1|>", "<image>", "<|image_pad|>", "<|IMAGE|>", "<|video_pad|>", "<|VIDEO|>")
"""The distinct non-empty values of the reference's ``VLM_IMAGE_TOKENS`` and ``VLM_VIDEO_TOKENS``
(Phi-3-V, LLaVA / E5-V, the Qwen family, WAVE), each replaced by a space before the chat template."""


def clean_text(text: str) -> str:
    """The text part of the chat turn: markers and the reference's stripped tokens removed,
    whitespace collapsed, never empty."""
    for marker in (*MARKERS, *REFERENCE_STRIPPED_TOKENS):
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
