"""Open images as the reference does: PIL, then ``.convert("RGB")`` (alpha dropped)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from harness.errors import MediaError
from harness.inputs import ImageData

_DECODE_ERRORS = (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError)


def image_name(image: Path | ImageData) -> str:
    """How an image is named in messages: its path, or ``<bytes sha256:…>`` for in-memory data."""
    if isinstance(image, ImageData):
        return f"<image bytes sha256:{image.digest[:12]}>"
    return str(image)


def open_image(image: Path | ImageData) -> Image.Image:
    """Decode ``image`` (a file or in-memory bytes) to an RGB PIL image; ``MediaError`` if it cannot."""
    name = image_name(image)
    try:
        source = io.BytesIO(image.data) if isinstance(image, ImageData) else image
        with Image.open(source) as opened:
            return opened.convert("RGB")
    except FileNotFoundError:
        raise MediaError(f"image not found: {name}", name) from None
    except _DECODE_ERRORS as error:
        raise MediaError(f"cannot read image {name}: {error}", name) from None
