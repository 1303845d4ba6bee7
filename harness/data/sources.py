"""Load a task's dataset rows from local files or a hub dataset.

Local files are read under ``--data_basedir`` (glob patterns from the task file, kept inside the
base folder). JSON Lines files are read line by line so that errors can name ``file:line``.
The hub path calls ``datasets.load_dataset`` with the pinned revision. ``data_source="auto"``
uses local files when the task names some and they exist, else the hub; the choice is recorded.
Image and audio columns (the ``datasets.Image`` and ``datasets.Audio`` features of hub and
parquet data) are kept encoded: each value is a ``{"bytes": ..., "path": ...}`` dict, never a
decoded picture or waveform.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.data.paths import resolve_inside
from harness.errors import DataError
from harness.taskspec.schema import DatasetSource
from harness.taskspec.templates import TemplateError, render

DataSourceMode = Literal["auto", "local", "hub"]
_LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass
class DatasetRows:
    """Rows of one task with where each came from, and the provenance for the results."""

    rows: list[dict[str, Any]]
    locations: list[str]
    """Per row, a human-readable location such as ``data/foo.jsonl:12`` or ``hub row 7``."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """What was loaded: kind (local/hub), files or hub path, name, split, revision."""


def load_rows(
    source: DatasetSource,
    data_basedir: Path,
    mode: DataSourceMode = "auto",
    limit: int | None = None,
) -> DatasetRows:
    """Load the rows of ``source``, at most ``limit`` of them (counted after ``where`` and ``keep_template``)."""
    if source.keep_template is not None:
        unfiltered = load_rows(source.model_copy(update={"keep_template": None}), data_basedir, mode)
        return _kept(unfiltered, source.keep_template, limit)
    if source.where is not None:
        return _filtered(load_rows(source.model_copy(update={"where": None}), data_basedir, mode), source.where, limit)
    if source.explode is not None:
        return _exploded(load_rows(source.model_copy(update={"explode": None}), data_basedir, mode), source, limit)
    if source.generate is not None:
        if mode == "hub":
            raise DataError(f"dataset.generate ({source.generate.generator}) reads local data; it has no hub source")
        from harness.data.generators import generated_rows  # its generators read files with this module

        return generated_rows(source.generate, data_basedir, limit)
    if source.subsets is not None:
        return _load_subsets(source, data_basedir, mode, limit)
    if source.discover is not None:
        if mode == "hub":
            raise DataError(f"discover.root '{source.discover.root}' is local data; it has no hub source")
        from harness.data.discovered_tables import load_discovered  # it reads files with this module

        return load_discovered(source.discover, data_basedir, limit)
    if source.rows is not None:
        rows = [dict(row) for row in source.rows[:limit]]
        return DatasetRows(
            rows=rows, locations=[f"inline row {i}" for i in range(len(rows))], provenance={"kind": "inline"}
        )
    data_basedir = Path(os.path.abspath(data_basedir))  # a relative --data_basedir works too
    found = local_files(source, data_basedir) if source.files else []
    if mode == "local" or (mode == "auto" and found):
        if not found:
            patterns = ", ".join(source.files) or "(none)"
            raise DataError(f"no local data files match {patterns} under {data_basedir}")
        return _load_local(found, data_basedir, limit)
    if source.path is None:
        patterns = ", ".join(source.files)
        raise DataError(f"no local data files match {patterns} under {data_basedir}, and no hub 'path' is set")
    return _load_hub(source, limit)


def _filtered(loaded: DatasetRows, where: dict[str, Any], limit: int | None) -> DatasetRows:
    """The rows of ``loaded`` whose columns equal ``where``'s values, at most ``limit`` of them."""
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for row, location in zip(loaded.rows, loaded.locations, strict=True):
        if limit is not None and len(rows) >= limit:
            break
        missing = [column for column in where if column not in row]
        if missing:
            raise DataError(
                f"{location}: dataset.where: missing column '{missing[0]}' (columns: {', '.join(sorted(row))})"
            )
        if all(row[column] == value for column, value in where.items()):
            rows.append(row)
            locations.append(location)
    return DatasetRows(rows=rows, locations=locations, provenance={**loaded.provenance, "where": dict(where)})


def _exploded(loaded: DatasetRows, source: DatasetSource, limit: int | None) -> DatasetRows:
    """One row per non-null value of ``source.explode``'s columns, at most ``limit`` of them."""
    assert source.explode is not None
    columns, into = source.explode.columns, source.explode.into
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for row, location in zip(loaded.rows, loaded.locations, strict=True):
        missing = [column for column in columns if column not in row]
        if missing:
            raise DataError(
                f"{location}: dataset.explode: missing column '{missing[0]}' (columns: {', '.join(sorted(row))})"
            )
        if into in row:
            raise DataError(f"{location}: dataset.explode: the row already has a column '{into}'")
        for column in columns:
            if limit is not None and len(rows) >= limit:
                break
            if row[column] is not None:
                rows.append({**row, into: row[column]})
                locations.append(f"{location} {column}")
    provenance = {**loaded.provenance, "explode": {"columns": list(columns), "into": into}}
    return DatasetRows(rows=rows, locations=locations, provenance=provenance)


def _kept(loaded: DatasetRows, template: str, limit: int | None) -> DatasetRows:
    """The rows of ``loaded`` for which ``template`` renders ``True``, at most ``limit`` of them."""
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for row, location in zip(loaded.rows, loaded.locations, strict=True):
        if limit is not None and len(rows) >= limit:
            break
        try:
            verdict = render(template, {**row, "row": row}).strip()
        except TemplateError as error:
            raise DataError(f"{location}: dataset.keep_template: {error}") from None
        if verdict not in ("True", "False"):
            raise DataError(f"{location}: dataset.keep_template: must render True or False, got {verdict[:40]!r}")
        if verdict == "True":
            rows.append(row)
            locations.append(location)
    provenance = {**loaded.provenance, "keep_template": template}
    return DatasetRows(rows=rows, locations=locations, provenance=provenance)


def _load_subsets(source: DatasetSource, data_basedir: Path, mode: DataSourceMode, limit: int | None) -> DatasetRows:
    """Every subset in order, each row tagged with its subset's name in ``subset_column``.

    Local files or the hub is decided once for all subsets: ``auto`` uses local files only when
    every subset has some, and refuses a mix (a half-local benchmark would be silently different).
    """
    assert source.subsets is not None
    parts = {
        name: source.model_copy(
            update={"subsets": None, "name": name, "files": [p.replace("{subset}", name) for p in source.files]}
        )
        for name in source.subsets
    }
    if mode != "hub" and source.files:
        base = Path(os.path.abspath(data_basedir))
        missing = [name for name, part in parts.items() if not local_files(part, base)]
        if mode == "auto" and len(missing) == len(parts) and source.path is not None:
            mode = "hub"
        elif missing:
            patterns = ", ".join(source.files)
            raise DataError(f"no local data files for subsets {', '.join(missing)} ({patterns} under {base})")
        else:
            mode = "local"
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    provenance: list[dict[str, Any]] = []
    for name, part in parts.items():
        remaining = None if limit is None else limit - len(rows)
        if remaining is not None and remaining <= 0:
            break
        loaded = load_rows(part, data_basedir, mode, remaining)
        for row, location in zip(loaded.rows, loaded.locations, strict=True):
            held = row.get(source.subset_column, name)
            if held != name:
                raise DataError(f"{location}: column '{source.subset_column}' already holds {held!r}, not {name!r}")
            rows.append({**row, source.subset_column: name})
            locations.append(location)
        provenance.append({"subset": name, **loaded.provenance})
    kind = provenance[0]["kind"] if provenance else mode
    return DatasetRows(rows=rows, locations=locations, provenance={"kind": kind, "subsets": provenance})


def local_files(source: DatasetSource, data_basedir: Path) -> list[Path]:
    """The local data files ``source``'s patterns match under ``data_basedir`` (kept inside it), in order."""
    files: list[Path] = []
    for pattern in source.files:
        resolve_inside(data_basedir, pattern, what="dataset file pattern")
        matches = sorted(glob.glob(str(data_basedir / pattern)))
        for match in matches:
            path = resolve_inside(data_basedir, str(Path(match).relative_to(data_basedir)), what="dataset file")
            if path.suffix in _LOCAL_FORMATS and path not in files:
                files.append(path)
    return files


def _load_local(files: list[Path], data_basedir: Path, limit: int | None) -> DatasetRows:
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for path in files:
        if path.suffix == ".jsonl":
            _read_jsonl(path, rows, locations, limit)
        else:
            _read_tabular(path, rows, locations, limit)
        if limit is not None and len(rows) >= limit:
            break
    provenance = {
        "kind": "local",
        "files": [str(p.relative_to(data_basedir)) for p in files],
    }
    return DatasetRows(rows=rows[:limit], locations=locations[:limit], provenance=provenance)


MAX_JSONL_LINE_BYTES = 64 << 20
"""Longest JSON Lines row read (64 MiB, room for an inline base64 page image); a longer line is
refused rather than held in memory whole."""


def _read_jsonl(path: Path, rows: list[dict[str, Any]], locations: list[str], limit: int | None) -> None:
    with path.open("rb") as handle:  # bytes, so that a non-UTF-8 line is named by its number
        line_number = 0
        while limit is None or len(rows) < limit:
            raw = handle.readline(MAX_JSONL_LINE_BYTES + 1)
            if not raw:
                return
            line_number += 1
            if len(raw) > MAX_JSONL_LINE_BYTES:
                raise DataError(f"{path}:{line_number}: line longer than {MAX_JSONL_LINE_BYTES:,} bytes")
            row = _parse_jsonl_line(path, line_number, raw)
            if row is not None:
                rows.append(row)
                locations.append(f"{path}:{line_number}")


def _parse_jsonl_line(path: Path, line_number: int, raw: bytes) -> dict[str, Any] | None:
    """One row of a JSON Lines file, or None for a blank line; ``DataError`` naming ``path:line`` else."""
    try:
        line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")  # tolerate a BOM
    except UnicodeDecodeError as error:
        raise DataError(f"{path}:{line_number}: not UTF-8 text: {error.reason}") from None
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{line_number}: not valid JSON: {error.msg}") from None
    except RecursionError:
        raise DataError(f"{path}:{line_number}: JSON nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise DataError(f"{path}:{line_number}: not valid JSON: {error}") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}:{line_number}: expected a JSON object per line")
    return row


def _read_tabular(path: Path, rows: list[dict[str, Any]], locations: list[str], limit: int | None) -> None:
    import datasets  # heavy import, only when a parquet/csv/json file is used

    try:
        table = datasets.load_dataset(_LOCAL_FORMATS[path.suffix], data_files=str(path), split="train")
    except Exception as error:  # datasets raises many unrelated types for a bad file
        raise DataError(f"{path}: cannot read data file: {error}") from None
    table = undecoded_media(table)
    for index, row in enumerate(table):
        if limit is not None and len(rows) >= limit:
            return
        rows.append(dict(row))
        locations.append(f"{path} row {index}")


def undecoded_media(table: Any) -> Any:
    """``table`` with every top-level image and audio column left encoded: ``{"bytes", "path"}`` dicts.

    A document corpus holds thousands of page images; decoding them all while loading rows
    would hold every page's pixels in memory. The bytes become ``ImageData`` inputs instead,
    decoded one batch at a time by the model adapter. Audio columns (a parquet file written with
    a ``datasets.Audio`` feature) are kept as their bytes too, as the reference casts them to
    ``Audio(decode=False)``: the media layer decodes them, with no torchcodec needed.
    """
    import datasets

    features = getattr(table, "features", None) or {}
    for column, feature in features.items():
        if isinstance(feature, datasets.Image) and feature.decode:
            table = table.cast_column(column, datasets.Image(decode=False))
        elif isinstance(feature, datasets.Audio) and feature.decode:
            table = table.cast_column(column, datasets.Audio(decode=False))
    return table


HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
"""A hub dataset id: ``name`` or ``owner/name``."""


def check_hub_id(path: str) -> None:
    """Refuse a ``dataset.path`` that is no hub id, or that names a local folder or file.

    ``datasets.load_dataset`` reads a local path before it asks the hub, so a task file naming
    ``/home/user/.ssh`` or ``../secrets`` would read those files as rows; local data belongs in
    ``dataset.files``, which stay inside ``--data_basedir``.
    """
    if not HUB_ID.match(path) or ".." in path.split("/"):
        raise DataError(f"dataset path {path[:80]!r} is not a hub dataset id (owner/name); local data goes in 'files'")
    if os.path.exists(path):
        raise DataError(
            f"dataset path {path!r} names a local folder or file, which the hub loader would read instead of "
            "the hub dataset; local data goes in 'files' (under --data_basedir)"
        )


def _load_hub(source: DatasetSource, limit: int | None) -> DatasetRows:
    assert source.path is not None
    check_hub_id(source.path)
    import datasets

    try:
        table = datasets.load_dataset(source.path, source.name, split=source.split, revision=source.revision)
    except Exception as error:  # network, auth, missing config: all user-actionable
        raise DataError(
            f"cannot load hub dataset {source.path} (config {source.name}, split {source.split}, "
            f"revision {source.revision}): {type(error).__name__}: {error}. "
            "Offline? Put the files under --data_basedir (see the task's dataset.files)."
        ) from None
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    table = undecoded_media(table)
    rows = [dict(row) for row in table]
    provenance = {
        "kind": "hub",
        "path": source.path,
        "name": source.name,
        "split": source.split,
        "revision": source.revision,
        "fingerprint": getattr(table, "_fingerprint", None),
    }
    locations = [f"{source.path}/{source.name} row {i}" for i in range(len(rows))]
    return DatasetRows(rows=rows, locations=locations, provenance=provenance)
