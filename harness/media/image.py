"""Open images as the reference does: PIL, then ``.convert("RGB")`` (alpha dropped).

Images come from strangers' datasets, so an image's declared size is checked against a pixel
budget before any pixel is decoded: a 140 KB PNG can declare 12000×12000 pixels and take
gigabytes once decoded. The budget is process-wide, like PIL's own ``MAX_IMAGE_PIXELS`` (which
still applies above it); ``--max_image_pixels`` sets it for a run.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from harness.errors import MediaError
from harness.inputs import ImageData

T = TypeVar("T")

DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
"""Largest image (width × height) decoded by default: about 7000 × 7000, far above any MMEB image
or document page, far below what makes a decoded RGB image a memory problem (150 MB)."""

_DECODE_ERRORS = (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError)


class _PixelBudget:
    """The process-wide pixel budget (a holder, so that the setting has one owner)."""

    value: int = DEFAULT_MAX_IMAGE_PIXELS


def max_image_pixels() -> int:
    """The pixel budget in force."""
    return _PixelBudget.value


@contextmanager
def image_pixel_budget(pixels: int) -> Iterator[None]:
    """Decode images of up to ``pixels`` pixels inside the ``with`` block (then restore the old budget)."""
    if pixels < 1:
        raise ValueError("the pixel budget must be at least 1")
    previous = _PixelBudget.value
    _PixelBudget.value = pixels
    try:
        yield
    finally:
        _PixelBudget.value = previous


def check_pixel_budget(width: int, height: int, name: str) -> None:
    """Raise ``MediaError`` when a ``width`` × ``height`` picture is over the pixel budget."""
    budget = _PixelBudget.value
    if width * height > budget:
        raise MediaError(
            f"image {name} is {width}×{height} = {width * height:,} pixels, over the budget of {budget:,} "
            "(raise it with --max_image_pixels if the image is genuine)",
            name,
        )


def image_name(image: Path | ImageData) -> str:
    """How an image is named in messages: its path, or ``<bytes sha256:…>`` for in-memory data."""
    if isinstance(image, ImageData):
        return f"<image bytes sha256:{image.digest[:12]}>"
    return str(image)


def open_image(image: Path | ImageData) -> Image.Image:
    """Decode ``image`` (a file or in-memory bytes) to an RGB PIL image; ``MediaError`` if it cannot.

    The size in the image's header is checked against the pixel budget before decoding.
    """
    if isinstance(image, ImageData) and (image.stored_as is not None or image.exif_transpose):
        return _read(image, lambda opened: _as_dataset_decodes(opened, image))
    return _read(image, lambda opened: opened.convert("RGB"))


def _as_dataset_decodes(opened: Image.Image, image: ImageData) -> Image.Image:
    """``image`` turned by its EXIF orientation (``datasets.Image`` decoding does so) and, when it
    has a ``stored_as`` format, stored in it and decoded again; as RGB."""
    oriented = ImageOps.exif_transpose(opened) if image.exif_transpose and _orientation(opened) else opened
    if image.stored_as is None:
        return oriented.convert("RGB")
    return _stored(oriented, image.stored_as, image_name(image))


def _orientation(opened: Image.Image) -> int | None:
    """The EXIF Orientation tag (1-8), or None."""
    value = opened.getexif().get(ExifTags.Base.Orientation)
    return value if isinstance(value, int) else None


def storage_format(file_name: str) -> str | None:
    """The Pillow format a file of this name is saved in (by its extension), or None for PNG, whose
    round trip changes no pixel. ``MediaError`` for an extension Pillow cannot write."""
    suffix = Path(file_name).suffix.lower()
    Image.init()
    image_format = Image.registered_extensions().get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        raise MediaError(f"an image cannot be stored as {file_name!r}: Pillow writes no '{suffix}' files", file_name)
    return None if image_format == "PNG" else image_format


def _stored(opened: Image.Image, image_format: str, name: str) -> Image.Image:
    """``opened`` saved in ``image_format`` with Pillow's defaults and decoded again, as RGB."""
    buffer = io.BytesIO()
    try:
        opened.save(buffer, format=image_format)
    except (OSError, ValueError, KeyError) as error:  # e.g. "cannot write mode RGBA as JPEG"
        raise MediaError(
            f"image {name} cannot be stored as {image_format} (as the reference stores it): {error}", name
        ) from None
    buffer.seek(0)
    with Image.open(buffer) as stored:
        return stored.convert("RGB")


def image_size(image: Path | ImageData) -> tuple[int, int]:
    """``(width, height)`` from ``image``'s header, no pixel decoded; ``MediaError`` as :func:`open_image`
    gives (a missing file, an unreadable one, one over the pixel budget)."""
    return _read(image, lambda opened: _oriented_size(opened, image))


def _oriented_size(opened: Image.Image, image: Path | ImageData) -> tuple[int, int]:
    """The size :func:`open_image` gives: width and height swapped by an EXIF orientation 5-8."""
    if isinstance(image, ImageData) and image.exif_transpose and (_orientation(opened) or 0) in (5, 6, 7, 8):
        return opened.height, opened.width
    return opened.width, opened.height


def _read(image: Path | ImageData, use: Callable[[Image.Image], T]) -> T:
    """``use`` of the opened image (its header read and checked against the pixel budget); every
    failure a ``MediaError`` naming the image."""
    name = image_name(image)
    try:
        source = io.BytesIO(image.data) if isinstance(image, ImageData) else image
        with Image.open(source) as opened:  # reads the header only
            check_pixel_budget(opened.width, opened.height, name)
            return use(opened)
    except FileNotFoundError:
        raise MediaError(f"image not found: {name}", name) from None
    except _DECODE_ERRORS as error:
        raise MediaError(f"cannot read image {name}: {error}", name) from None
