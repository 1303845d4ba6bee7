"""A test plugin: embeds text as L2-normalised counts of the letters a-z (media are ignored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.inputs import EncodeInput, Side
from harness.models import EncoderMetadata


class TinyChars:
    """Letter-count embeddings; deterministic and needing no weights."""

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """One normalised 26-dim letter histogram per input."""
        out = np.zeros((len(inputs), 26), dtype=np.float32)
        for row, item in enumerate(inputs):
            for char in item.text.lower():
                if "a" <= char <= "z":
                    out[row, ord(char) - ord("a")] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def metadata(self) -> EncoderMetadata:
        """What the results record."""
        return EncoderMetadata(adapter="tiny_chars", embedding_dim=26, num_parameters=0, dtype="float32")


def create_tiny_chars(model_args: Mapping[str, Any], device: str) -> TinyChars:
    """Letter-count embeddings (test plugin)."""
    return TinyChars()
