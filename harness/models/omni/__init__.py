"""The omni adapter: Qwen2.5-Omni thinker embedding models with text, images, video and audio."""

from harness.models.omni.adapter import OmniEncoder, create_omni
from harness.models.omni.prompt import chat_document, clean_text, render_prompt
from harness.models.omni.settings import OmniSettings
from harness.models.omni.styles import STYLES, StyleRules

__all__ = [
    "STYLES",
    "OmniEncoder",
    "OmniSettings",
    "StyleRules",
    "chat_document",
    "clean_text",
    "create_omni",
    "render_prompt",
]
