"""Registers the same encoder under a second name with the harness's decorator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.models import register_model
from harness_tiny_plugin import TinyChars


@register_model("tiny_chars_module", description="plugin: letter counts, registered by decorator")
def create(model_args: Mapping[str, Any], device: str) -> TinyChars:
    """Letter-count embeddings (test plugin)."""
    return TinyChars()
