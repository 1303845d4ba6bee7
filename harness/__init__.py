"""mmeb-harness: a declarative evaluation harness for multimodal embedding models.

The Python entry point is :func:`harness.evaluate` (imported on first use, so ``import harness``
stays light): it is what ``harness run``, ``eval.py`` and the modality runner call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.version import VERSION as __version__

__all__ = ["RunResult", "__version__", "evaluate"]

if TYPE_CHECKING:
    from harness.api import evaluate
    from harness.engine.run import RunResult


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from harness.api import evaluate

        return evaluate
    if name == "RunResult":
        from harness.engine.run import RunResult

        return RunResult
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
