"""The CPU stage of the omni adapter: media decoded, chat prompts rendered, the processor's tensors.

As the reference does, a text-only prompt is cut to ``max_text_tokens`` while a prompt with media
is never cut, so the two kinds are tokenised in separate processor calls and merged (left padding).
:meth:`OmniPreparer.sequence_lengths` is exact: the prompt's tokens plus each medium's tokens,
counted from image headers, a video's first frame and an audio file's header (nothing decoded
but that one frame), and checked against the processor's output in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from harness.errors import ModelError
from harness.inputs import AudioRef, EncodeInput, Side
from harness.media.audio import audio_info, load_audio, max_samples, min_samples, window_frames
from harness.media.image import image_size, open_image
from harness.media.video import first_frame_size, load_video_frames
from harness.models.omni.prompt import chat_document, render_prompt
from harness.models.omni.styles import StyleRules

AUDIO_MAX_SAMPLES = 2048000
"""The reference's ``audio_kwargs`` ``max_length``: every clip's features are padded to this many samples."""
MODEL_INPUTS = (
    "input_ids",
    "attention_mask",
    "pixel_values",
    "image_grid_thw",
    "pixel_values_videos",
    "video_grid_thw",
    "video_second_per_grid",
    "input_features",
    "feature_attention_mask",
)


class OmniPreparer:
    """Turns a batch of inputs into the thinker's tensors, as the reference's omni collator does."""

    def __init__(
        self, processor: Any, rules: StyleRules, *, min_pixels: int, max_pixels: int, max_text_tokens: int
    ) -> None:
        self.processor = processor
        self.rules = rules
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.max_text_tokens = max_text_tokens
        self.min_side = processor.image_processor.patch_size * processor.image_processor.merge_size

    def prompt(self, item: EncodeInput, has_audio: bool) -> str:
        """The prompt text of one input (``has_audio``: its clip is long enough to be kept)."""
        if item.image is not None and item.video is not None:
            raise ModelError("omni: an input has both an image and a video (the reference refuses that too)")
        document = chat_document(item.text, image=item.image is not None, video=item.video is not None, audio=has_audio)
        return render_prompt(self.processor, document, self.rules)

    def prepare(self, inputs: Sequence[EncodeInput], side: Side) -> dict[str, Any]:
        """The processor's tensors for one batch (left-padded; media in row order)."""
        waves = [self._audio(item.audio) if item.audio is not None else None for item in inputs]
        prompts = [self.prompt(item, wave is not None) for item, wave in zip(inputs, waves, strict=True)]
        has_media = [
            item.image is not None or item.video is not None or wave is not None
            for item, wave in zip(inputs, waves, strict=True)
        ]
        media_rows = [i for i, media in enumerate(has_media) if media]
        text_rows = [i for i, media in enumerate(has_media) if not media]
        parts: list[tuple[list[int], dict[str, Any]]] = []
        if text_rows:
            tokenized = self.processor.tokenizer(
                [prompts[i] for i in text_rows],
                padding=True,
                truncation=True,
                max_length=self.max_text_tokens,
                return_tensors="pt",
            )
            parts.append((text_rows, dict(tokenized)))
        if media_rows:
            parts.append((media_rows, self._media_batch([inputs[i] for i in media_rows], prompts, media_rows, waves)))
        return merge_rows(parts, len(inputs), self.processor.tokenizer.pad_token_id)

    def _media_batch(
        self, items: list[EncodeInput], prompts: list[str], rows: list[int], waves: list[np.ndarray | None]
    ) -> dict[str, Any]:
        images = [self._padded(open_image(item.image)) for item in items if item.image is not None]
        videos = [
            [self._padded(frame) for frame in load_video_frames(item.video)] for item in items if item.video is not None
        ]
        audio = [wave for row in rows if (wave := waves[row]) is not None]
        # Passed in the call (as the reference does): the omni processor's own video defaults differ.
        size = self.size
        batch = self.processor(
            text=[prompts[row] for row in rows],
            images=images or None,
            videos=videos or None,
            audio=audio or None,
            return_tensors="pt",
            text_kwargs={"padding": True, "truncation": False},
            images_kwargs={"size": size},
            videos_kwargs={"size": size, "do_sample_frames": False},
            audio_kwargs={"max_length": AUDIO_MAX_SAMPLES, "sampling_rate": self.feature_rate},
        )
        return {key: batch[key] for key in MODEL_INPUTS if key in batch}

    @property
    def size(self) -> dict[str, int]:
        """The pixel bounds, as the image and video processors take them."""
        return {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}

    @property
    def feature_rate(self) -> int:
        """The sampling rate the feature extractor takes (16 kHz for Qwen2.5-Omni)."""
        return int(self.processor.feature_extractor.sampling_rate)

    def _audio(self, ref: AudioRef) -> np.ndarray | None:
        self._check_rate(ref)
        return load_audio(ref)

    def _check_rate(self, ref: AudioRef) -> None:
        if ref.sample_rate != self.feature_rate:
            raise ModelError(
                f"omni: audio is decoded at {ref.sample_rate} Hz but the model's feature extractor takes "
                f"{self.feature_rate} Hz (set the task's audio sample_rate to {self.feature_rate})"
            )

    def _padded(self, image: Image.Image) -> Image.Image:
        """An image with a side under patch x merge (28 px) centred on a black canvas of at least that
        size, as the reference pads it (not resized)."""
        width, height = image.size
        if width >= self.min_side and height >= self.min_side:
            return image
        canvas = Image.new(image.mode, (max(width, self.min_side), max(height, self.min_side)))
        canvas.paste(image, ((canvas.width - width) // 2, (canvas.height - height) // 2))
        return canvas

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> list[int]:
        """The exact number of tokens of each input, from headers (a video's first frame decoded)."""
        lengths = []
        for item in inputs:
            samples = self._audio_samples(item.audio) if item.audio is not None else None
            ids = self.processor.tokenizer(self.prompt(item, samples is not None))["input_ids"]
            if item.image is None and item.video is None and samples is None:
                lengths.append(min(len(ids), self.max_text_tokens))
            else:
                lengths.append(len(ids) + self._extra_media_tokens(item, samples))
        return lengths

    def _audio_samples(self, ref: AudioRef) -> int | None:
        """Samples the model hears of ``ref`` (window, resampling, head crop); None when under the minimum."""
        self._check_rate(ref)
        info = audio_info(ref.source)
        _, count = window_frames(ref, info)
        if info.sample_rate != ref.sample_rate:
            count = math.ceil(ref.sample_rate * count / info.sample_rate)
        return None if count < min_samples(ref) else min(count, max_samples(ref))

    def _extra_media_tokens(self, item: EncodeInput, samples: int | None) -> int:
        """Tokens added when each placeholder of the input expands to its medium's tokens."""
        extra = 0
        if item.image is not None:
            extra += self._visual_tokens(image_size(item.image), frames=None) - 1
        if item.video is not None:
            extra += self._visual_tokens(first_frame_size(item.video), frames=len(item.video.frame_indices)) - 1
        if samples is not None:
            extra += audio_tokens(samples, self.processor.feature_extractor.hop_length) - 1
        return extra

    def _visual_tokens(self, size: tuple[int, int], frames: int | None) -> int:
        width, height = (max(side, self.min_side) for side in size)
        if frames is None:
            image_processor = self.processor.image_processor
            patches = image_processor.get_number_of_image_patches(height, width, {})
            return int(patches) // image_processor.merge_size**2
        video_processor = self.processor.video_processor
        patches = video_processor.get_num_of_video_patches(frames, height, width, {"size": self.size})
        return int(patches) // video_processor.merge_size**2


def audio_tokens(samples: int, hop_length: int = 160) -> int:
    """The audio tokens Qwen2.5-Omni makes of ``samples`` samples: one mel frame per hop (of at most
    the padded length), then two stride-2 reductions."""
    frames = math.ceil(min(samples, AUDIO_MAX_SAMPLES) / hop_length)
    return ((frames - 1) // 2 + 1 - 2) // 2 + 1


def merge_rows(parts: list[tuple[list[int], dict[str, Any]]], size: int, pad_id: int) -> dict[str, Any]:
    """One batch from processor outputs for disjoint row sets: token rows put back in order,
    left-padded to one length; the media tensors (present in one part only) kept as they are."""
    import torch

    if len(parts) == 1 and parts[0][0] == list(range(size)):
        return parts[0][1]
    length = max(int(part["input_ids"].shape[1]) for _, part in parts)
    input_ids = torch.full((size, length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((size, length), dtype=torch.long)
    merged: dict[str, Any] = {}
    for rows, part in parts:
        width = int(part["input_ids"].shape[1])
        index = torch.tensor(rows)
        input_ids[index, length - width :] = part["input_ids"]
        attention_mask[index, length - width :] = part["attention_mask"]
        merged.update({key: value for key, value in part.items() if key not in ("input_ids", "attention_mask")})
    return {"input_ids": input_ids, "attention_mask": attention_mask, **merged}
