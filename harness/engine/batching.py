"""The batch plan: inputs sorted by their sequence length and cut into batches.

A batch is padded to its longest input, so the plan sorts inputs by the number of tokens the
model will see for each (longest first) and cuts the sorted list every ``batch_size`` inputs,
or earlier when ``max_batch_tokens`` would be exceeded. The lengths are exact for an encoder
with a :class:`~harness.models.base.BatchPreparer` (text tokens from its tokenizer, visual tokens
from the image header's size after resizing) and estimated otherwise (:func:`estimated_length`).
Which inputs share a batch changes an embedding by float rounding only (other padding lengths
change the kernels' summation order; within 1e-6 in float32 on the tests' inputs, more in
bfloat16), so the plan changes speed and memory, not the results beyond that rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.inputs import EncodeInput

IMAGE_COST = 1024
"""Estimated tokens of one image, for an encoder that cannot say (a mid-size page or photo)."""
FRAME_COST = 256
"""Estimated tokens of one video frame, for an encoder that cannot say."""
AUDIO_TOKENS_PER_SECOND = 25
"""Estimated tokens per second of audio, for an encoder that cannot say (Whisper-style encoders,
as in Qwen2.5-Omni, give 25 per second after pooling: 100 mel frames per second, / 4)."""
CHARS_PER_TOKEN = 4
"""Characters per text token, for an encoder that cannot say."""


def estimated_length(item: EncodeInput) -> int:
    """A guess at ``item``'s sequence length (no tokenizer, no media opened)."""
    cost = -(-len(item.text) // CHARS_PER_TOKEN)
    cost += IMAGE_COST * len(item.all_images())
    if item.video is not None:
        cost += FRAME_COST * len(item.video.frame_indices)
    if item.audio is not None:  # the longest the clip can be; its header is not read
        audio = item.audio
        seconds = audio.max_seconds if audio.end is None else min(audio.end - audio.start, audio.max_seconds)
        cost += math.ceil(AUDIO_TOKENS_PER_SECOND * seconds)
    return max(cost, 1)


def plan_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None = None) -> list[list[int]]:
    """Batches of input indices, longest inputs first, each at most ``batch_size`` inputs and (when
    given) at most ``max_batch_tokens`` padded tokens (an input longer than that is a batch alone).

    Equal lengths keep their input order, so the plan is a function of the lengths alone.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if max_batch_tokens is not None and max_batch_tokens < 1:
        raise ValueError("max_batch_tokens must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted longest first: the batch's first input sets its padded length.
        longest = lengths[current[0]] if current else lengths[index]
        full = len(current) == batch_size
        over = max_batch_tokens is not None and (len(current) + 1) * longest > max_batch_tokens
        if current and (full or over):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def batch_cost(lengths: Sequence[int], batch: Sequence[int]) -> int:
    """Padded tokens of a batch: its size times its longest input."""
    return len(batch) * max(lengths[i] for i in batch)
