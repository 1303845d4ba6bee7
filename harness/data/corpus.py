"""Corpus candidates, image data in rows, and graded relevance from qrels (the BEIR layout).

A visual-document task is three tables, usually three configs of one hub repository (or three
local files): ``queries`` (the task's rows), ``corpus`` (every document page, each a candidate)
and ``qrels`` (query id, document id, grade). As in the reference, qrels keep only grades > 0
and the maximum grade of a repeated pair; every qrels document must be a candidate.

Corpus images arrive as data, not files: a ``{"bytes": ..., "path": ...}`` dict (how parquet
files and ``datasets`` store images), raw bytes, or a decoded PIL image. They become
:class:`~harness.inputs.ImageData` inputs kept in memory; nothing is written to disk (the
reference writes each page to ``{image_root}/{corpus-id}.png`` first).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.sources import DatasetRows, DataSourceMode, load_rows
from harness.errors import DataError
from harness.inputs import ImageData
from harness.taskspec.schema import DatasetSource, QrelsRelevance


def image_value(value: Any) -> str | ImageData | None:
    """A row's image value as a path (``str``, resolved by the caller), image data, or None.

    Image data is decoded as ``datasets.Image`` decodes it (turned by its EXIF orientation), as
    the reference reads images held in a dataset. Raises ``TypeError`` for a value that is neither.
    """
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bytes | bytearray | memoryview):
        return ImageData(bytes(value), exif_transpose=True) if len(value) else None
    if isinstance(value, Mapping):
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, bytes | bytearray | memoryview) and len(data):
            return ImageData(bytes(data), exif_transpose=True)
        if isinstance(path, str) and path:
            return path
        if data is None and path in (None, ""):
            return None
        raise TypeError(f"an image dict needs 'bytes' or a 'path', got keys {sorted(value)}")
    from PIL import Image

    if isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")  # lossless; encoded once, decoded by the adapter
        return ImageData(buffer.getvalue())
    raise TypeError(f"expected an image path or image data, got {type(value).__name__}")


def id_text(value: Any) -> str:
    """An id from a data cell as text: ``7`` and ``7.0`` both give ``"7"`` (as a template renders ``7``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def basedir_of(media_root: Path, relative_media_root: str) -> Path:
    """The ``--data_basedir`` that ``media_root`` was resolved in (``relative_media_root`` is the
    task's ``media_root``, checked to stay inside it)."""
    base = Path(os.path.abspath(media_root))
    normalised = os.path.normpath(relative_media_root) if relative_media_root else os.curdir
    for part in Path(normalised).parts:
        if part != os.curdir:
            base = base.parent
    return base


def load_corpus(task: str, source: DatasetSource, data_basedir: Path, mode: DataSourceMode) -> DatasetRows:
    """Every row of the corpus (``--limit`` caps queries, never the corpus)."""
    try:
        corpus = load_rows(source, data_basedir, mode)
    except DataError as error:
        raise DataError(f"task '{task}', candidates.corpus: {error}") from None
    return corpus


@dataclass
class Qrels:
    """Graded relevance: query id → {document id: grade > 0}, in first-seen order."""

    grades: dict[str, dict[str, float]] = field(default_factory=dict)
    locations: dict[tuple[str, str], str] = field(default_factory=dict)
    """(query id, document id) → the first qrels row that names the pair with a grade > 0."""
    raw_ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Query id → {document id: the document id as stored in that first row} (an ``int`` stays
    an ``int``): the reference's ``set()`` of labels orders them by these values
    (:mod:`harness.metrics.reference_pairing`)."""
    provenance: dict[str, Any] = field(default_factory=dict)


def load_qrels(task: str, relevance: QrelsRelevance, data_basedir: Path, mode: DataSourceMode) -> Qrels:
    """Read the qrels rows: keep grades > 0; a repeated pair keeps the maximum or the last grade
    (``relevance.repeated``)."""
    try:
        table = load_rows(relevance.dataset, data_basedir, mode)
    except DataError as error:
        raise DataError(f"task '{task}', relevance.dataset: {error}") from None
    qrels = Qrels(provenance=table.provenance)
    for row, location in zip(table.rows, table.locations, strict=True):
        grade = _row_grade(task, location, relevance, row)
        if grade <= 0:
            continue
        query_column = _id_column(task, location, relevance.query_id_column, "query_id_column", row)
        doc_column = _id_column(task, location, relevance.doc_id_column, "doc_id_column", row)
        for column in (query_column, doc_column):
            if isinstance(row[column], bool) or not isinstance(row[column], str | int | float):
                raise DataError(
                    f"task '{task}', {location}: relevance: '{column}' must be a text or number id, "
                    f"got {type(row[column]).__name__}"
                )
        query_id, doc_id = id_text(row[query_column]), id_text(row[doc_column])
        documents = qrels.grades.setdefault(query_id, {})
        documents[doc_id] = grade if relevance.repeated == "last" else max(grade, documents.get(doc_id, grade))
        qrels.locations.setdefault((query_id, doc_id), location)
        raw = str(row[doc_column]) if relevance.reference_ids == "text" else row[doc_column]
        qrels.raw_ids.setdefault(query_id, {}).setdefault(doc_id, raw)
    return qrels


def _id_column(task: str, location: str, columns: str | list[str], key: str, row: Mapping[str, Any]) -> str:
    """The qrels column holding the id: the one column named, or the first listed one whose value is set."""
    if isinstance(columns, str):
        if columns not in row:
            raise DataError(
                f"task '{task}', {location}: relevance: missing qrels column '{columns}' "
                f"(columns: {', '.join(sorted(row))})"
            )
        return columns
    for column in columns:
        if row.get(column):  # the reference's row.get(a) or row.get(b) or ...
            return column
    raise DataError(
        f"task '{task}', {location}: relevance.{key}: none of {', '.join(columns)} is set "
        f"(columns: {', '.join(sorted(row))})"
    )


def _row_grade(task: str, location: str, relevance: QrelsRelevance, row: Mapping[str, Any]) -> float:
    """The row's grade: from the first grade column it has, else ``grade_default``."""
    columns = [relevance.grade_column] if isinstance(relevance.grade_column, str) else relevance.grade_column
    column = next((c for c in columns if c in row), None)
    if column is not None:
        return _grade(task, location, column, row[column])
    if relevance.grade_default is not None:
        return relevance.grade_default
    raise DataError(
        f"task '{task}', {location}: relevance: missing qrels column '{columns[0]}' (columns: {', '.join(sorted(row))})"
    )


def _grade(task: str, location: str, column: str, value: Any) -> float:
    try:
        grade = float(value)
    except (TypeError, ValueError):
        grade = math.nan
    if isinstance(value, bool) or math.isnan(grade):
        raise DataError(
            f"task '{task}', {location}: relevance.grade_column: '{column}' must be a number, got {value!r}"
        )
    return grade


def check_qrels_documents(task: str, qrels: Qrels, candidates: Mapping[str, Any]) -> None:
    """Every document the qrels name (grade > 0) must be a candidate of the task."""
    for (_, doc_id), location in qrels.locations.items():
        if doc_id not in candidates:
            raise DataError(
                f"task '{task}', {location}: relevance: corpus id '{doc_id}' is not a candidate "
                f"(the task has {len(candidates)} candidates; check candidates.id_template)"
            )
