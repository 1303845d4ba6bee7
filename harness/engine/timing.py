"""Where a task's time goes: seconds per stage, summed over the task (and, for the encode stages,
over its two sides).

``preprocess`` is time spent preparing batches in whichever process did it (workers' seconds are
summed, so it can exceed the wall time they overlapped); ``wait`` is the time the model's loop
waited for a prepared batch, the part of preprocessing that was not hidden behind the forward.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Stage = Literal["load_data", "plan", "cache", "preprocess", "wait", "forward", "score", "write"]
STAGES: tuple[Stage, ...] = ("load_data", "plan", "cache", "preprocess", "wait", "forward", "score", "write")


class StageClock:
    """Accumulates seconds per :data:`Stage`."""

    def __init__(self) -> None:
        self.seconds: dict[Stage, float] = dict.fromkeys(STAGES, 0.0)

    def add(self, stage: Stage, seconds: float) -> None:
        """Count ``seconds`` more in ``stage``."""
        self.seconds[stage] += seconds

    @contextmanager
    def measure(self, stage: Stage) -> Iterator[None]:
        """Count the time the ``with`` block takes in ``stage``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def rounded(self) -> dict[Stage, float]:
        """The seconds, to the millisecond."""
        return {stage: round(value, 3) for stage, value in self.seconds.items()}
