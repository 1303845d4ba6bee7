"""The interface of late-interaction encoders: one token matrix per input, compared by MaxSim.

A multi-vector adapter registers like any adapter (the registry serves ``Encoder |
MultiVectorEncoder``) but has no ``encode``; the engine chooses how to encode once, by this
protocol (``harness.engine.encoding.encoding_for``), and ranks token matrices with MaxSim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from harness.encoder_metadata import EncoderMetadata
from harness.inputs import EncodeInput, Side


@runtime_checkable
class MultiVectorEncoder(Protocol):
    """Turns each input into a ``[num_tokens, dim]`` float32 matrix; similarity is MaxSim."""

    def encode_tokens(self, inputs: Sequence[EncodeInput], side: Side) -> list[np.ndarray]:
        """One token matrix per input, padding tokens removed, so a matrix never depends on its batch."""
        ...

    def metadata(self) -> EncoderMetadata:
        """Everything needed to reproduce the run, as ``Encoder.metadata`` (read through ``encoder_metadata``)."""
        ...


def is_multivector(encoder: object) -> bool:
    """True when ``encoder`` produces token matrices (late interaction) rather than one vector per input."""
    return isinstance(encoder, MultiVectorEncoder)
