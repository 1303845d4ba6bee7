"""MMEB-V3's TUTSound grounding rows: each event of a file, against that file's candidate segments.

The reference (VLM2Vec ``tutsound_dataset.py`` and ``tutsound_hard_dataset.py``) reads the
evaluation lists of TUT Sound Events 2017 (``file scene onset offset label`` per line), groups the
events by audio file, and gives every event of a file the same candidates: the file's event
segments (kept inside the file), then the earliest 1 s windows (every 0.5 s from 0) that overlap
no event by an IoU of 0.1 or more, at most 50. The query is the whole file with the event's label;
the task file says which candidates are relevant (any segment of the label, or the exact one).
The arithmetic here is the reference's, operation for operation (the window start is accumulated,
``t += stride``; ids round to 3 decimals), so the windows and ids are the same floats and strings.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.paths import resolve_inside
from harness.data.sources import DatasetRows
from harness.data.text_lines import read_text_lines, split_fields
from harness.errors import DataError, MediaError
from harness.media.audio import audio_info
from harness.taskspec.schema_rows import TutSoundEvents

MIN_EVENT_SECONDS = 0.05
"""Length given to an event segment that ends before it starts (the reference's ``min_dur``)."""
MAX_WINDOW_STEPS = 1_000_000
"""Most window positions tried per file (a 139-hour file at the reference's 0.5 s stride)."""


@dataclass(frozen=True)
class Event:
    """One line of an evaluation list."""

    file: str
    scene: str
    onset: float
    offset: float
    label: str
    location: str
    """``list-file:line``."""


def read_events(path: Path) -> list[Event]:
    """The events of one evaluation list; a line without five fields or with a time that is no
    finite number is an error naming ``path:line`` (the reference skips the first, fails on a
    non-number and reads NaN or infinity as a segment the list never named)."""
    events: list[Event] = []
    for number, raw in enumerate(read_text_lines(path, "event list"), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = split_fields(line, 5)
        if len(parts) < 5:
            raise DataError(f"{path}:{number}: expected 'file scene onset offset label', got {len(parts)} fields")
        try:
            onset, offset = float(parts[2]), float(parts[3])
        except ValueError:
            raise DataError(
                f"{path}:{number}: onset and offset must be numbers, got {parts[2]!r}, {parts[3]!r}"
            ) from None
        if not (math.isfinite(onset) and math.isfinite(offset)):  # float() reads nan and inf too
            raise DataError(f"{path}:{number}: onset and offset must be finite numbers, got {parts[2]!r}, {parts[3]!r}")
        label = parts[4].strip()
        events.append(Event(parts[0].strip(), parts[1].strip(), onset, offset, label, f"{path}:{number}"))
    return events


def kept_segment(
    start: float, end: float, duration: float, min_seconds: float = MIN_EVENT_SECONDS
) -> tuple[float, float]:
    """An event's segment kept non-empty and inside ``[0, duration]``, as the reference normalises it."""
    s = max(0.0, float(start))
    e = float(end)
    if e <= s:
        e = s + float(min_seconds)
    if e > duration:
        e = duration
    if e <= s:
        s = max(0.0, duration - float(min_seconds))
        e = duration
    if e <= s:
        e = s + 1e-3
    return s, e


def segment_iou(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Intersection over union of two segments (0 for an empty union)."""
    inter = max(0.0, min(a_end, b_end) - max(a_start, b_start))
    union = max(a_end, b_end) - min(a_start, b_start)
    return 0.0 if union <= 0 else inter / union


def segment_id(file: str, start: float, end: float) -> str:
    """A segment's candidate id: ``<file>|<start>-<end>``, seconds to 3 decimals."""
    return f"{file}|{start:.3f}-{end:.3f}"


def negative_windows(
    duration: float, segments: list[tuple[float, float]], window: float, stride: float, max_iou: float, cap: int
) -> list[tuple[float, float]]:
    """The earliest ``cap`` windows (all for ``cap`` 0) of ``window`` seconds every ``stride`` from
    0 that end inside the file and overlap every segment with an IoU below ``max_iou``."""
    windows: list[tuple[float, float]] = []
    if duration < window:
        return windows
    t, steps = 0.0, 0
    while t + window <= duration and (cap == 0 or len(windows) < cap):
        steps += 1
        if steps > MAX_WINDOW_STEPS:
            raise DataError(f"more than {MAX_WINDOW_STEPS:,} window positions in one file ({duration:g} s)")
        if all(segment_iou(t, t + window, start, end) < max_iou for start, end in segments):
            windows.append((t, t + window))
        t += stride
    return windows


def tut_sound_rows(spec: TutSoundEvents, data_basedir: Path) -> DatasetRows:
    """One row per event of ``spec.files`` (columns as ``TutSoundEvents`` documents them)."""
    root = resolve_inside(Path(os.path.abspath(data_basedir)), spec.root, "generate.root")
    by_file: dict[str, list[Event]] = {}
    lists: list[str] = []
    for name in spec.files:
        path = resolve_inside(root, name, "generate.files entry")
        if not path.is_file():
            raise DataError(f"generate.files: event list not found: {path}")
        lists.append(str(path))
        for event in read_events(path):
            by_file.setdefault(event.file, []).append(event)
    if not by_file:
        raise DataError(f"generate.files: no events in {', '.join(spec.files)} under {root}")
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for file in sorted(by_file):
        events = by_file[file]
        for row in _file_rows(spec, root, file, events):
            rows.append(row)
        locations += [event.location for event in events]
    provenance = {"kind": "local", "generator": spec.generator, "files": lists, "audio_files": len(by_file)}
    return DatasetRows(rows=rows, locations=locations, provenance=provenance)


def _file_rows(spec: TutSoundEvents, root: Path, file: str, events: list[Event]) -> list[dict[str, Any]]:
    """The rows of one audio file's events, all with the file's candidates."""
    first = events[0].location
    try:
        duration = audio_info(resolve_inside(root, file, "audio file")).seconds
    except (DataError, MediaError) as error:
        raise DataError(f"{first}: {error}") from None
    kept = [kept_segment(event.onset, event.offset, duration) for event in events]
    try:
        negatives = negative_windows(
            duration, kept, spec.window_seconds, spec.stride_seconds, spec.max_iou, spec.max_negatives
        )
    except DataError as error:
        raise DataError(f"{first}: {file}: {error}") from None
    candidates = [{"id": segment_id(file, s, e), "start": s, "end": e} for s, e in kept + negatives]
    by_label: dict[str, list[str]] = {}
    for event, (start, end) in zip(events, kept, strict=True):
        by_label.setdefault(event.label, []).append(segment_id(file, start, end))
    positives = {label: list(dict.fromkeys(ids)) for label, ids in by_label.items()}
    return [
        {
            "file": file,
            "scene": events[0].scene,
            "label": event.label,
            "onset": start,
            "offset": end,
            "segment_id": segment_id(file, start, end),
            "positives": positives[event.label],
            "candidates": candidates,
        }
        for event, (start, end) in zip(events, kept, strict=True)
    ]
