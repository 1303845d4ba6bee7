"""The CPU stage of the VLM2Vec adapter: exact sequence lengths, and batches made ready for the model.

:class:`VLM2VecPreparer` holds the processor (tokenizer, image and video processors) and the
image settings, nothing of the model, so the engine can run :meth:`~VLM2VecPreparer.prepare`
in preprocessing workers. :meth:`~VLM2VecPreparer.sequence_lengths` gives, for every input, the
number of tokens the processor will make of it, from the text's tokens and the visual tokens of
each image or video at its resized size, read from image headers (a video file: one decoded
frame); it is checked against the processor's own output in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER, EncodeInput, Side
from harness.media.image import image_size
from harness.media.video import first_frame_size
from harness.models.qwen2_vl.preprocess import load_image, load_video, loaded_size, video_frame_size

IMAGE_TOKEN = "<|image_pad|>"
VIDEO_TOKEN = "<|video_pad|>"


class VLM2VecPreparer:
    """Turns a batch of inputs into the processor's tensors, as VLM2Vec's collator does."""

    def __init__(self, processor: Any, *, min_pixels: int, max_pixels: int, image_resolution: str | None) -> None:
        self.processor = processor
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.image_resolution = image_resolution

    def text(self, item: EncodeInput) -> str:
        """The text the tokenizer sees: media markers as Qwen2-VL's pad tokens, an empty text as one
        pad token (alone in a batch the model cannot run on nothing, and beside others an empty row
        would be all padding, its embedding depending on the batch)."""
        text = item.text.replace(IMAGE_MARKER, IMAGE_TOKEN).replace(VIDEO_MARKER, VIDEO_TOKEN).replace(AUDIO_MARKER, "")
        return text or self.processor.tokenizer.pad_token

    def prepare(self, inputs: Sequence[EncodeInput], side: Side) -> dict[str, Any]:
        """The processor's tensors for one batch (left-padded; images and videos in token order)."""
        texts = [self.text(item) for item in inputs]
        images = [load_image(i.image, self.image_resolution) for i in inputs if i.image is not None]
        videos = [load_video(i.video, self.min_pixels, self.max_pixels) for i in inputs if i.video is not None]
        batch = self.processor(
            text=texts, images=images or None, videos=videos or None, padding=True, return_tensors="pt"
        )
        return dict(batch)

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> list[int]:
        """The number of tokens the processor makes of each input, no pixel decoded but a video
        file's first frame."""
        if not inputs:
            return []
        encoded = self.processor.tokenizer([self.text(item) for item in inputs])["input_ids"]
        # Each pad token in the text becomes one token per visual token of its image or video.
        return [len(ids) + self._extra_visual_tokens(item) for ids, item in zip(encoded, inputs, strict=True)]

    def _extra_visual_tokens(self, item: EncodeInput) -> int:
        """Tokens added when the pad token of the item's image and of its video are expanded."""
        extra = 0
        if item.image is not None:
            extra += image_tokens(self.processor, loaded_size(image_size(item.image), self.image_resolution)) - 1
        if item.video is not None:
            video_processor = self.processor.video_processor
            height, width = video_frame_size(first_frame_size(item.video), self.min_pixels, self.max_pixels)
            temporal = math.ceil(len(item.video.frame_indices) / video_processor.temporal_patch_size)
            patch = video_processor.patch_size
            extra += temporal * (height // patch) * (width // patch) // video_processor.merge_size**2 - 1
        return extra


def image_tokens(processor: Any, size: tuple[int, int]) -> int:
    """The visual tokens a Qwen2-VL processor makes of an image of ``size`` (width, height): its
    image processor's own resize rule and patch count, merged."""
    width, height = size
    image_processor = processor.image_processor
    patches = image_processor.get_number_of_image_patches(height, width, {})
    return int(patches) // image_processor.merge_size**2
