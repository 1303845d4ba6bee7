"""Registers the encoder under a second name with the harness's decorator, reporting its metadata
as a plain dict, as plugins written before ``EncoderMetadata`` do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.models import register_model
from harness_tiny_plugin import TinyChars


class DictReportingTinyChars(TinyChars):
    """Letter-count embeddings whose ``metadata()`` is an untyped dict with a key of its own."""

    def metadata(self) -> dict[str, Any]:  # type: ignore[override]
        """What the results record: the harness converts the dict (``alphabet`` goes under ``details``)."""
        return {"adapter": "tiny_chars", "embedding_dim": 26, "num_parameters": 0, "alphabet": "a-z"}


@register_model("tiny_chars_module", description="plugin: letter counts, registered by decorator")
def create(model_args: Mapping[str, Any], device: str) -> DictReportingTinyChars:
    """Letter-count embeddings (test plugin)."""
    return DictReportingTinyChars()
