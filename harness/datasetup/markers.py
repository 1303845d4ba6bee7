"""Done-markers: one JSON file per downloaded item, under ``<to>/.harness-data/done/``.

A marker is written in two steps. ``placing`` is written before the downloaded files are moved
into place and lists them, so an interrupted placement can be undone exactly (only the paths the
harness placed are ever removed); ``done`` is written after the last move. A rerun skips an item
whose marker is ``done`` for the same revision, and redoes any other.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import DataError

MARKER_VERSION = 1
"""Format version of the marker files; a marker of another version is redone."""
STATE_DIR = ".harness-data"
"""Folder under ``--to`` holding markers and the temporary download and extraction folders."""


class DoneMarker(BaseModel):
    """What one item's download placed, from which repository commit."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: int = MARKER_VERSION
    """Format version of this file."""
    item: str
    """The item's id (also the marker's file name)."""
    status: Literal["placing", "done"]
    """``placing`` while files are being moved into place, ``done`` once all are."""
    repo: str
    """Hub dataset repository, ``owner/name``."""
    revision_requested: str | None
    """The revision asked for (task file or ``--revision``); None: not pinned, the default branch."""
    revision_resolved: str
    """The commit the files came from (``local`` for a mirror without a ``.commit`` file)."""
    source: str
    """Where the files came from: ``hub`` or the mirror folder."""
    files: list[str]
    """Repository files downloaded (archive parts, or the table's data files)."""
    sha256: dict[str, str] = Field(default_factory=dict)
    """Repository file → SHA-256 of its bytes."""
    placed: list[str] = Field(default_factory=list)
    """Paths (relative to ``--to``) this item placed; only these are removed when it is redone."""
    notes: list[str] = Field(default_factory=list)
    """Facts about the download worth keeping (layout used, members outside a stripped prefix)."""
    date: str
    """When the marker was written (UTC, ISO 8601)."""


def marker_path(to: Path, item: str) -> Path:
    """Where the marker of ``item`` lives."""
    return to / STATE_DIR / "done" / f"{item}.json"


def read_marker(to: Path, item: str) -> DoneMarker | None:
    """The marker of ``item``, or None when there is none or it is unreadable (the item is redone)."""
    path = marker_path(to, item)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        marker = DoneMarker.model_validate(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, ValidationError):
        return None
    return marker if marker.version == MARKER_VERSION else None


def write_marker(to: Path, marker: DoneMarker) -> None:
    """Write ``marker`` atomically (a temporary file renamed over the old one)."""
    marker = marker.model_copy(update={"date": now()})
    path = marker_path(to, marker.item)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".marker-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(marker.model_dump_json(indent=2) + "\n")
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {error.strerror or error}") from None


def now() -> str:
    """The current time, UTC, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
