"""The CPU stage of the VLM2Vec adapter: exact sequence lengths, and batches made ready for the model.

:class:`VLM2VecPreparer` holds the processor (tokenizer, image and video processors) and the
image settings, nothing of the model, so the engine can run :meth:`~VLM2VecPreparer.prepare`
in preprocessing workers. :meth:`~VLM2VecPreparer.sequence_lengths` gives, for every input, the
number of tokens the processor will make of it, from the text's tokens and the visual tokens of
each image or video at its resized size, read from image headers (a video file: one decoded
frame); it is checked against the processor's own output in the tests.

Image lists (``EncodeInput.images``) follow the reference's ``Qwen2_VL_process_fn`` (VLM2Vec
44f991d, ``src/model/processor.py``): when every slot holds an image, the images go to the
processor in order, each expanding the next ``<|image_pad|>`` of the text; when any slot holds
none (an empty entry or a missing file, which its collator reads as ``None``), the input is
encoded as text alone: the processor runs without images and every image token of the text
stays one plain ``<|image_pad|>`` token (its embedding, no pixels). Such rows are tokenised apart
from the batch (the processor would hand them the other rows' images) and marked in
``TEXT_ONLY_ROWS``, so that the model stage embeds them without the batch's images.
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
TEXT_ONLY_ROWS = "text_only_rows"
"""Key of a prepared batch's boolean row mask: rows whose image tokens are plain tokens (an image
list with a slot without an image); present only when the batch has such rows."""
VISUAL_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")


class VLM2VecPreparer:
    """Turns a batch of inputs into the processor's tensors, as VLM2Vec's collator does."""

    def __init__(
        self,
        processor: Any,
        *,
        min_pixels: int,
        max_pixels: int,
        image_resolution: str | None,
        max_text_tokens: int | None = None,
    ) -> None:
        self.processor = processor
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.image_resolution = image_resolution
        self.max_text_tokens = max_text_tokens
        """Inputs encoded as text alone are cut to their first this many tokens (None: never cut),
        as the reference's text-only path calls its processor with ``truncation=True``."""

    def text(self, item: EncodeInput) -> str:
        """The text the tokenizer sees: media markers as Qwen2-VL's pad tokens, an empty text as one
        pad token (alone in a batch the model cannot run on nothing, and beside others an empty row
        would be all padding, its embedding depending on the batch)."""
        text = item.text.replace(IMAGE_MARKER, IMAGE_TOKEN).replace(VIDEO_MARKER, VIDEO_TOKEN).replace(AUDIO_MARKER, "")
        return text or self.processor.tokenizer.pad_token

    def prepare(self, inputs: Sequence[EncodeInput], side: Side) -> dict[str, Any]:
        """The processor's tensors for one batch (left-padded; images and videos in token order)."""
        if any(drops_images(item) for item in inputs):
            return self._prepare_with_text_only_rows(inputs, side)
        texts = [self.text(item) for item in inputs]
        limit = self.max_text_tokens
        if limit is not None and not any(item.has_media() for item in inputs):
            cut = self.processor(text=texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
            return dict(cut)
        if limit is not None and self._has_long_text_row(inputs, texts, limit):
            return self._prepare_with_text_only_rows(inputs, side)
        images = [load_image(image, self.image_resolution) for item in inputs for image in item.all_images()]
        videos = [load_video(i.video, self.min_pixels, self.max_pixels) for i in inputs if i.video is not None]
        batch = self.processor(
            text=texts, images=images or None, videos=videos or None, padding=True, return_tensors="pt"
        )
        return dict(batch)

    def _has_long_text_row(self, inputs: Sequence[EncodeInput], texts: Sequence[str], limit: int) -> bool:
        """Whether a row without media has more than ``limit`` tokens (a batch beside media rows)."""
        # A byte-level BPE token covers at least one UTF-8 byte: a text of at most ``limit`` bytes
        # cannot be cut, so only longer ones are tokenised (not every text row of every batch).
        plain = [
            text
            for text, item in zip(texts, inputs, strict=True)
            if not item.has_media() and len(text.encode("utf-8")) > limit
        ]
        return bool(plain) and max(map(len, self.processor.tokenizer(plain)["input_ids"])) > limit

    def _prepare_with_text_only_rows(self, inputs: Sequence[EncodeInput], side: Side) -> dict[str, Any]:
        """A batch with rows encoded as text alone (no media, or an image list with an empty slot):
        those tokenised by themselves (cut to ``max_text_tokens``), the others by the processor with
        the batch's images, all left-padded together; the rows with plain image tokens marked."""
        import torch

        alone_rows = [not item.has_media() or drops_images(item) for item in inputs]
        ids: list[list[int]] = [[] for _ in inputs]
        prepared: dict[str, Any] = {}
        rich = [row for row, alone in enumerate(alone_rows) if not alone]
        if rich:
            batch = self.prepare([inputs[row] for row in rich], side)
            for index, row in enumerate(rich):
                ids[row] = batch["input_ids"][index][batch["attention_mask"][index].bool()].tolist()
            prepared = {key: batch[key] for key in VISUAL_KEYS if key in batch}
        alone = [row for row, flag in enumerate(alone_rows) if flag]
        tokenized = self.processor.tokenizer([self.text(inputs[row]) for row in alone])["input_ids"]
        for row, row_ids in zip(alone, tokenized, strict=True):
            ids[row] = list(row_ids)[: self.max_text_tokens]
        padded = self.processor.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        result = {"input_ids": padded["input_ids"], "attention_mask": padded["attention_mask"], **prepared}
        text_only = [drops_images(item) for item in inputs]
        if any(text_only):
            result[TEXT_ONLY_ROWS] = torch.tensor(text_only)
        return result

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> list[int]:
        """The number of tokens the processor makes of each input, no pixel decoded but a video
        file's first frame."""
        if not inputs:
            return []
        encoded = self.processor.tokenizer([self.text(item) for item in inputs])["input_ids"]
        # Each pad token in the text becomes one token per visual token of its image or video; an
        # input encoded as text alone is cut to max_text_tokens.
        limit = self.max_text_tokens
        return [
            min(len(ids), limit)
            if limit is not None and (not item.has_media() or drops_images(item))
            else len(ids) + self._extra_visual_tokens(item)
            for ids, item in zip(encoded, inputs, strict=True)
        ]

    def _extra_visual_tokens(self, item: EncodeInput) -> int:
        """Tokens added when the pad token of the item's image and of its video are expanded."""
        extra = 0
        if drops_images(item):
            return 0  # encoded as text alone: each image token is one token (the reference's rule)
        for image in item.all_images():
            extra += image_tokens(self.processor, loaded_size(image_size(image), self.image_resolution)) - 1
        if item.video is not None:
            video_processor = self.processor.video_processor
            height, width = video_frame_size(first_frame_size(item.video), self.min_pixels, self.max_pixels)
            temporal = math.ceil(len(item.video.frame_indices) / video_processor.temporal_patch_size)
            patch = video_processor.patch_size
            extra += temporal * (height // patch) * (width // patch) // video_processor.merge_size**2 - 1
        return extra


def drops_images(item: EncodeInput) -> bool:
    """Whether the reference encodes ``item`` as text alone: an image list with a slot without an
    image (its ``Qwen2_VL_process_fn`` takes that path when any image of the list is ``None``)."""
    return any(slot is None for slot in item.images)


def image_tokens(processor: Any, size: tuple[int, int]) -> int:
    """The visual tokens a Qwen2-VL processor makes of an image of ``size`` (width, height): its
    image processor's own resize rule and patch count, merged."""
    width, height = size
    image_processor = processor.image_processor
    patches = image_processor.get_number_of_image_patches(height, width, {})
    return int(patches) // image_processor.merge_size**2
