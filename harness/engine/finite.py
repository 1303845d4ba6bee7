"""A broken model must never be scored: embeddings holding NaN or infinity are refused.

With NaN embeddings every score ties, ties keep candidate order, and a positive listed first
wins; so each batch is checked as it comes out of the encoder (see :mod:`harness.engine.encoding`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.errors import ModelError


class NonFiniteEmbeddingError(ModelError):
    """An encoder returned NaN or infinite values; ``index`` is the first offending input."""

    def __init__(self, index: int) -> None:
        super().__init__(f"the embedding of input {index} is not finite (NaN or infinite)")
        self.index = index


def first_non_finite(rows: Sequence[np.ndarray] | np.ndarray) -> int | None:
    """Position of the first array in ``rows`` holding NaN or infinity, or None."""
    for position, row in enumerate(rows):
        if not np.isfinite(row).all():
            return position
    return None
