"""MMEB-V3's AVE rows: the lines of an AVE split file (``Category&VideoID&Quality&Start&End``).

The reference (VLM2Vec ``ave_retreival_dateset.py``) reads ``testSet.txt``, names each clip
``<video_id>_<int(start)>_<int(end)>`` (its audio file is ``<video_id>_<clip_id>.wav``) and ranks
every clip's audio against all the split's videos, sorted by id. Where the reference skips a
malformed line, this refuses it, naming ``file:line``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.data.paths import resolve_inside
from harness.data.sources import DatasetRows
from harness.data.text_lines import read_text_lines
from harness.errors import DataError
from harness.taskspec.schema_rows import AveSplit

HEADER_PREFIX = "Category"
"""A line starting with this is the header, skipped as the reference skips it."""


def ave_split_rows(spec: AveSplit, data_basedir: Path) -> DatasetRows:
    """One row per clip line of ``spec.file`` (columns as ``AveSplit`` documents them)."""
    path = resolve_inside(Path(os.path.abspath(data_basedir)), spec.file, "generate.file")
    if not path.is_file():
        raise DataError(f"generate.file: AVE split file not found: {path}")
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for number, raw in enumerate(read_text_lines(path, "AVE split file"), start=1):
        line = raw.strip()
        if not line or line.startswith(HEADER_PREFIX):
            continue
        rows.append(_clip(line, f"{path}:{number}"))
        locations.append(f"{path}:{number}")
    if not rows:
        raise DataError(f"{path}: no clip lines (Category&VideoID&Quality&StartTime&EndTime)")
    videos = sorted({row["video_id"] for row in rows})
    for row in rows:
        row["videos"] = videos
    return DatasetRows(
        rows=rows, locations=locations, provenance={"kind": "local", "generator": spec.generator, "files": [str(path)]}
    )


def _clip(line: str, location: str) -> dict[str, Any]:
    parts = line.split("&")
    if len(parts) < 5:
        raise DataError(f"{location}: expected Category&VideoID&Quality&StartTime&EndTime, got {len(parts)} fields")
    category, video_id, quality, start_text, end_text = parts[:5]
    try:
        start, end = float(start_text), float(end_text)
        clip_id = f"{video_id}_{int(start)}_{int(end)}"
    except (ValueError, OverflowError):
        raise DataError(f"{location}: start and end must be seconds, got {start_text!r}, {end_text!r}") from None
    if not video_id:
        raise DataError(f"{location}: the VideoID field is empty")
    return {
        "category": category,
        "video_id": video_id,
        "quality": quality,
        "start": start,
        "end": end,
        "clip_id": clip_id,
    }
