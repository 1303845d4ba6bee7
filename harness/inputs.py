"""The one input record that flows from task data to model adapters.

It sits outside both layers so that neither imports the other: the data layer builds
``EncodeInput`` values, adapters consume them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Side = Literal["query", "candidate"]


@dataclass(frozen=True)
class EncodeInput:
    """Text with optional media; the text marks media with ``<|image|>`` / ``<|video|>``."""

    text: str
    image: Path | None = None
    """Absolute path of the image, if any."""
    video: tuple[Path, ...] | None = None
    """Absolute paths of the sampled video frames, in order, if any."""

    def has_media(self) -> bool:
        """True when the input carries an image or video frames."""
        return self.image is not None or self.video is not None
