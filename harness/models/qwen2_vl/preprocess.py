"""VLM2Vec's preprocessing for Qwen2-VL, reproduced on stock transformers 5.x.

Three reference behaviours that no transformers processor has on its own
(see ``docs/fidelity.md``):

* images are opened with PIL and converted with ``.convert("RGB")`` (alpha dropped, not
  composited on white as transformers 5.x does);
* an image with a side under 28 px is first resized to 56×56 with PIL's default filter;
* resizing and normalisation use the PIL image backend, not torchvision (≈1 grey level apart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from harness.errors import MediaError

SMALL_SIDE = 28
"""An image with a side below this many pixels is resized to ``SMALL_IMAGE_SIZE`` first."""
SMALL_IMAGE_SIZE = (56, 56)


def load_image(path: Path) -> Image.Image:
    """Open ``path`` as the reference collator does: RGB, small images blown up to 56×56."""
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except FileNotFoundError:
        raise MediaError(f"image not found: {path}", str(path)) from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise MediaError(f"cannot read image {path}: {error}", str(path)) from None
    if min(image.size) < SMALL_SIDE:
        image = image.resize(SMALL_IMAGE_SIZE)
    return image


def build_processor(
    checkpoint: str, revision: str | None, min_pixels: int, max_pixels: int, trust_remote_code: bool
) -> Any:
    """A ``Qwen2VLProcessor`` with the PIL image backend, the given pixel bounds, left padding."""
    from transformers import AutoImageProcessor, AutoTokenizer, AutoVideoProcessor, Qwen2VLProcessor

    common: dict[str, Any] = {"revision": revision or "main", "trust_remote_code": trust_remote_code}
    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    image_processor = AutoImageProcessor.from_pretrained(
        checkpoint, backend="pil", size=size, min_pixels=min_pixels, max_pixels=max_pixels, **common
    )
    video_processor = AutoVideoProcessor.from_pretrained(
        checkpoint, size=size, min_pixels=min_pixels, max_pixels=max_pixels, **common
    )
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, **common)
    # Pooling takes position -1, which is the last real token only with left padding.
    tokenizer.padding_side = "left"
    return Qwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor)
