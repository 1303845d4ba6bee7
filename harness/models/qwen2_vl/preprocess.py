"""VLM2Vec's preprocessing for Qwen2-VL, reproduced on stock transformers 5.x.

Reference behaviours that no transformers processor has on its own (see ``docs/fidelity.md``):

* images are opened with PIL and converted with ``.convert("RGB")`` (alpha dropped, not
  composited on white as transformers 5.x does);
* an image with a side under 28 px is first resized to 56×56 with PIL's default filter;
* resizing and normalisation use the PIL image backend, not torchvision (≈1 grey level apart);
* video frames are all resized with PIL bicubic to the size the reference's (vendored)
  ``smart_resize`` gives the first frame, before the video processor, which then leaves them
  as they are (its own resize is torchvision's and differs slightly).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PIL import Image

from harness.inputs import ImageData, VideoRef
from harness.media.image import open_image
from harness.media.video import load_video_frames
from harness.models.checkpoint import load_part, load_tokenizer

SMALL_SIDE = 28
"""An image with a side below this many pixels is resized to ``SMALL_IMAGE_SIZE`` first."""
SMALL_IMAGE_SIZE = (56, 56)
RESIZE_FACTOR = 28
"""patch_size 14 × spatial merge 2: resized sides are multiples of this."""
MAX_ASPECT_RATIO = 200


IMAGE_RESOLUTIONS = {"high": (1344, 1344), "mid": (672, 672), "low": (128, 128)}
"""The reference's ``--image_resolution`` presets (used with ``--resize_use_processor false``, as for V1)."""


def load_image(image: Path | ImageData, resolution: str | None = None) -> Image.Image:
    """Open an image as the reference collator does: RGB, small images blown up to 56×56.

    ``resolution`` (``high``/``mid``/``low``) first resizes it to that fixed square, as the
    reference does for VLM2Vec V1 checkpoints; the processor's pixel bounds then still apply.
    """
    opened = open_image(image)
    target = loaded_size(opened.size, resolution)
    return opened if target == opened.size and resolution is None else opened.resize(target)


def loaded_size(size: tuple[int, int], resolution: str | None = None) -> tuple[int, int]:
    """The ``(width, height)`` :func:`load_image` gives an image of ``size``."""
    if resolution is not None:
        size = IMAGE_RESOLUTIONS[resolution]
    if min(size) < SMALL_SIDE:
        size = SMALL_IMAGE_SIZE
    return size


def reference_smart_resize(
    height: int, width: int, min_pixels: int, max_pixels: int, factor: int = RESIZE_FACTOR
) -> tuple[int, int]:
    """VLM2Vec's vendored ``smart_resize`` (``image_processing_qwen2_vl.py``), returning (height, width).

    Unlike the stock one it never raises: a side under ``factor`` or an aspect ratio over 200
    first makes the frame square, with side ``max(factor, height, width)``.
    """
    if height < factor or width < factor or max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        height = width = max(factor, height, width)
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def load_video(ref: VideoRef, min_pixels: int, max_pixels: int) -> list[Image.Image]:
    """The sampled frames, RGB, all resized (PIL bicubic) to the first frame's smart-resize size."""
    frames = load_video_frames(ref)
    target_h, target_w = video_frame_size(frames[0].size, min_pixels, max_pixels)
    return [
        frame if frame.size == (target_w, target_h) else frame.resize((target_w, target_h), Image.Resampling.BICUBIC)
        for frame in frames
    ]


def video_frame_size(first: tuple[int, int], min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The ``(height, width)`` :func:`load_video` resizes every frame to, from the first frame's ``(width, height)``."""
    width, height = first
    return reference_smart_resize(height, width, min_pixels, max_pixels)


PROCESSOR_CLASSES = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}


def build_processor(
    checkpoint: str,
    revision: str | None,
    min_pixels: int,
    max_pixels: int,
    trust_remote_code: bool,
    model_type: str = "qwen2_vl",
) -> Any:
    """A Qwen2-VL (or Qwen2.5-VL) processor with the PIL image backend, the given pixel bounds, left padding.

    The video processor neither resizes nor samples: ``load_video`` hands it frames already at
    their final size, and the task already picked the frames.
    """
    import transformers
    from transformers import AutoImageProcessor, AutoVideoProcessor

    common: dict[str, Any] = {"revision": revision or "main", "trust_remote_code": trust_remote_code}
    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    image_processor = load_part(
        AutoImageProcessor,
        checkpoint,
        "image processor",
        backend="pil",
        size=size,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        **common,
    )
    video_processor = load_part(
        AutoVideoProcessor,
        checkpoint,
        "video processor",
        size=size,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        do_resize=False,
        do_sample_frames=False,
        cap_pixels_per_frame=False,
        **common,
    )
    tokenizer = load_tokenizer(checkpoint, **common)
    # Pooling takes position -1, which is the last real token only with left padding.
    tokenizer.padding_side = "left"
    processor_class = getattr(transformers, PROCESSOR_CLASSES[model_type])
    return processor_class(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor)
