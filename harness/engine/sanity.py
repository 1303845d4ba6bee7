"""Checks that tell a meaningful score from a meaningless one, and the words for what failed.

A broken model (NaN weights, a pooling bug) can still "score": with NaN or constant embeddings
every candidate ties, ties keep file order, and a positive listed first wins. Non-finite
embeddings are therefore an error (raised in :mod:`harness.engine.encoding`); embeddings that do
not depend on the input are a loud warning that keeps the run off the leaderboard.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.data import TaskData
from harness.engine.finite import NonFiniteEmbeddingError
from harness.errors import ModelError
from harness.inputs import EncodeInput, Side
from harness.media.audio import audio_name
from harness.media.image import image_name

DEGENERATE_TOLERANCE = 1e-6
"""Distinct inputs whose embeddings differ by no more than this (max absolute difference) are
taken as one embedding repeated."""


def degenerate_warning(task: str, side: Side, embeddings: np.ndarray) -> str | None:
    """A warning when two or more distinct inputs all got the same embedding, else None."""
    if embeddings.ndim != 2 or embeddings.shape[0] < 2:
        return None
    spread = float(np.abs(embeddings - embeddings[0]).max())
    if spread > DEGENERATE_TOLERANCE:
        return None
    return (
        f"task '{task}': all {embeddings.shape[0]} distinct {side} inputs have the same embedding "
        f"(max difference {spread:.1e}): the model ignores its input, so these scores say nothing "
        "and the run is not a leaderboard entry"
    )


def duplicate_candidate_rows(data: TaskData) -> int:
    """Queries whose own candidate list names one id more than once."""
    return sum(len(set(query.candidate_ids)) != len(query.candidate_ids) for query in data.queries)


def duplicate_warning(task: str, count: int, total: int) -> str:
    """The warning for rows with duplicate candidate ids (scored as the reference does)."""
    return (
        f"task '{task}': {count} of {total} rows list a candidate id more than once; they are scored as "
        "the reference does (each copy counts, so nDCG can exceed 1)"
    )


def unmatched_warning(task: str, locations: Sequence[str], total: int) -> str:
    """The warning for rows whose positive is not a candidate (``relevance.unmatched: score_zero``)."""
    return (
        f"task '{task}': {len(locations)} of {total} rows have a positive that is not among their candidates "
        f"and score 0, as in the reference (relevance.unmatched: score_zero; first: {locations[0]})"
    )


def missing_images_warning(task: str, missing: Sequence[str]) -> str:
    """The warning for listed image files that are missing (``image_lists.missing_file: empty_slot``)."""
    return (
        f"task '{task}': {len(missing)} listed images name a missing file and were read as slots without an "
        f"image, as in the reference (image_lists.missing_file: empty_slot; first: {missing[0]})"
    )


def non_finite_error(
    error: NonFiniteEmbeddingError, task: str, side: Side, inputs: Sequence[EncodeInput], data: TaskData
) -> ModelError:
    """The one-line error naming the task, the side and the first input whose embedding is not finite."""
    item = inputs[error.index]
    return ModelError(
        f"task '{task}': the {side} embedding of {row_of_input(data, item, side)} ({describe_input(item)}) "
        "is NaN or infinite: the model's weights or dtype are broken; no scores were written"
    )


def row_of_input(data: TaskData, item: EncodeInput, side: Side) -> str:
    """Where the first query or candidate with input ``item`` came from."""
    if side == "query":
        return next((query.location for query in data.queries if query.input == item), "unknown row")
    for candidate_id, candidate in data.candidates.items():
        if candidate == item:
            return f"{data.candidate_locations[candidate_id]}, candidate {candidate_id[:60]!r}"
    return "unknown row"


def describe_input(item: EncodeInput) -> str:
    """A short description of an input: the start of its text and its media."""
    parts = [f"text {item.text[:60]!r}{'...' if len(item.text) > 60 else ''}"]
    if item.image is not None:
        parts.append(f"image {image_name(item.image)}")
    if item.images:
        shown = ", ".join("no image" if slot is None else image_name(slot) for slot in item.images[:3])
        parts.append(f"images [{shown}{', ...' if len(item.images) > 3 else ''}]")
    if item.video is not None:
        parts.append(f"video {item.video.source}")
    if item.audio is not None:
        parts.append(f"audio {audio_name(item.audio.source)}")
    return ", ".join(parts)
