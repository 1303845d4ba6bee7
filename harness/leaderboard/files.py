"""Read and write entry files: every read and every write validates the entry.

A file of schema 2.0 is read as is; a ``harness run`` results file (schema 1.x) is migrated;
any other version is refused. Errors name the file and the field. Files are read within the
limits of :mod:`harness.leaderboard.json_input` (size, nesting, finite numbers, UTF-8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.leaderboard.checks import EntryError, check_entry, validated
from harness.leaderboard.entry import ENTRY_SCHEMA_VERSION, Benchmark, LeaderboardEntry
from harness.leaderboard.json_input import check_values, read_json_file
from harness.leaderboard.migrate import RUN_SCHEMA_VERSIONS, migrate_run_entry
from harness.results.files import atomic_writer

_LONGEST_VERSION_SHOWN = 40


def read_payload(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a missing, oversized, non-UTF-8 or bad JSON file is an :class:`EntryError`."""
    payload = read_json_file(path)
    if not isinstance(payload, dict):
        raise EntryError(f"{path}: expected a JSON object, got {type(payload).__name__}")
    return payload


def load_entry(path: Path, benchmark: Benchmark | None = None, model_name: str | None = None) -> LeaderboardEntry:
    """Read, migrate if needed, and validate one entry; ``benchmark``/``model_name`` apply to run files."""
    payload = read_payload(path)
    try:
        return entry_from_payload(payload, benchmark, model_name)
    except EntryError as error:
        raise EntryError(f"{path}: {error}") from None


def entry_from_payload(
    payload: dict[str, Any], benchmark: Benchmark | None = None, model_name: str | None = None
) -> LeaderboardEntry:
    """Validate a 2.0 payload, or migrate a run payload; raise :class:`EntryError` naming the field."""
    if not isinstance(payload, dict):
        raise EntryError(f"(top level): expected a JSON object, got {type(payload).__name__}")
    check_values(payload)
    version = payload.get("schema_version")
    if version in RUN_SCHEMA_VERSIONS:
        entry = migrate_run_entry(payload, benchmark, model_name)
        check_values(entry.model_dump())  # migrating nests values deeper than the run file had them
    elif version == ENTRY_SCHEMA_VERSION:
        if benchmark is not None or model_name is not None:
            overrides = {"benchmark": benchmark.model_dump() if benchmark else None, "model_name": model_name}
            given = ", ".join(k for k, v in overrides.items() if v is not None)
            raise EntryError(
                f"{given}: only a harness run results file (schema 1.x) takes these; this entry names its own"
            )
        entry = validated(LeaderboardEntry, payload)
    else:
        readable = ", ".join([ENTRY_SCHEMA_VERSION, *RUN_SCHEMA_VERSIONS])
        shown = repr(version)[:_LONGEST_VERSION_SHOWN]
        raise EntryError(f"schema_version: {shown} is not supported (this harness reads {readable})")
    check_entry(entry)
    return entry


def entry_text(entry: LeaderboardEntry) -> str:
    """The canonical file text of an entry (validated first): stable key order, two-space indent."""
    check_values(entry.model_dump())  # before JSON mode, which would write NaN as null
    payload = entry.model_dump(mode="json")
    check_entry(validated(LeaderboardEntry, payload))
    return json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_entry(path: Path, entry: LeaderboardEntry) -> None:
    """Validate ``entry`` and write it atomically to ``path``."""
    text = entry_text(entry)
    with atomic_writer(path) as handle:
        handle.write(text)
