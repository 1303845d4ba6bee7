"""Turn a task's rows into query and candidate inputs.

This is where templates are rendered and media paths resolved. Candidates are de-duplicated by
id across the whole task, first occurrence wins (the reference's ``cand_name`` rule); each
query keeps its own candidate id list, duplicates included, for local ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.paths import resolve_inside
from harness.data.sources import DatasetRows
from harness.errors import DataError
from harness.inputs import EncodeInput
from harness.taskspec.schema import TaskSpec
from harness.taskspec.templates import IMAGE_MARKER, VIDEO_MARKER, TemplateError, render


@dataclass(frozen=True)
class QueryRecord:
    """One query: its input, its own candidate ids (local ranking) and its relevant ids."""

    input: EncodeInput
    candidate_ids: tuple[str, ...]
    relevance: Mapping[str, float]
    """Relevant candidate id → grade (> 0)."""
    location: str
    """Where the row came from, for error messages."""


@dataclass
class TaskData:
    """Everything the engine needs to evaluate one task."""

    queries: list[QueryRecord] = field(default_factory=list)
    candidates: dict[str, EncodeInput] = field(default_factory=dict)
    """Candidate id → input, in first-seen order (this order is the global tie-break)."""
    candidate_locations: dict[str, str] = field(default_factory=dict)


def build_task_data(spec: TaskSpec, rows: DatasetRows, media_root: Path, check_media: bool = True) -> TaskData:
    """Render every row of ``rows`` into query and candidate inputs."""
    data = TaskData()
    for row, location in zip(rows.rows, rows.locations, strict=True):
        data.queries.append(_build_query(spec, row, location, media_root, data, check_media))
    return data


def _build_query(
    spec: TaskSpec,
    row: Mapping[str, Any],
    location: str,
    media_root: Path,
    data: TaskData,
    check_media: bool,
) -> QueryRecord:
    context = _RowContext(spec.task, location, media_root, check_media)
    text = context.render("query.template", spec.query.template, row)
    image = context.media_path("query.image_column", row, spec.query.image_column)
    query_input = context.make_input("query", text, image)

    candidate_ids: list[str] = []
    for element in _zip_candidate_columns(spec, row, context):
        variables = {**row, "cand": element}
        candidate_id = context.render("candidates.id_template", spec.candidates.id_template, variables)
        candidate_ids.append(candidate_id)
        if candidate_id in data.candidates:
            continue  # first occurrence wins, as in the reference
        cand_text = context.render("candidates.template", spec.candidates.template, variables)
        cand_image = context.media_path("candidates.image_column", element, spec.candidates.image_column)
        data.candidates[candidate_id] = context.make_input("candidate", cand_text, cand_image)
        data.candidate_locations[candidate_id] = location

    relevance = _relevance(spec, row, candidate_ids, context)
    return QueryRecord(query_input, tuple(candidate_ids), relevance, location)


def _zip_candidate_columns(spec: TaskSpec, row: Mapping[str, Any], context: _RowContext) -> list[dict[str, Any]]:
    lists: dict[str, Sequence[Any]] = {}
    for column in spec.candidates.columns:
        if column not in row:
            raise context.error("candidates.columns", f"missing column '{column}' (columns: {', '.join(sorted(row))})")
        value = row[column]
        if not isinstance(value, list | tuple):
            raise context.error("candidates.columns", f"column '{column}' must be a list, got {type(value).__name__}")
        lists[column] = value
    lengths = {column: len(values) for column, values in lists.items()}
    if len(set(lengths.values())) > 1:
        raise context.error("candidates.columns", f"candidate lists differ in length: {lengths}")
    count = next(iter(lengths.values()))
    if count == 0:
        raise context.error("candidates.columns", "the row has no candidates")
    return [{column: values[i] for column, values in lists.items()} for i in range(count)]


def _relevance(
    spec: TaskSpec, row: Mapping[str, Any], candidate_ids: list[str], context: _RowContext
) -> dict[str, float]:
    if spec.relevance.kind == "first_candidate":
        return {candidate_ids[0]: 1.0}
    positive = context.render("relevance.template", spec.relevance.template, row)
    return {positive: 1.0}


@dataclass(frozen=True)
class _RowContext:
    """Renders and resolves for one row, turning failures into one-line errors."""

    task: str
    location: str
    media_root: Path
    check_media: bool

    def error(self, key: str, message: str) -> DataError:
        return DataError(f"task '{self.task}', {self.location}: {key}: {message}")

    def render(self, key: str, template: str, variables: Mapping[str, Any]) -> str:
        try:
            return render(template, variables)
        except TemplateError as error:
            raise self.error(key, str(error)) from None

    def media_path(self, key: str, values: Mapping[str, Any], column: str | None) -> Path | None:
        if column is None:
            return None
        if column not in values:
            raise self.error(key, f"missing column '{column}' (columns: {', '.join(sorted(values))})")
        relative = values[column]
        if relative in (None, ""):
            return None
        if not isinstance(relative, str):
            raise self.error(key, f"column '{column}' must hold a path, got {type(relative).__name__}")
        try:
            path = resolve_inside(self.media_root, relative, what="media path")
        except DataError as error:
            raise self.error(key, str(error)) from None
        if self.check_media and not path.is_file():
            raise self.error(key, f"media file not found: {path}")
        return path

    def make_input(self, side: str, text: str, image: Path | None) -> EncodeInput:
        markers = text.count(IMAGE_MARKER)
        if image is not None and markers != 1:
            raise self.error(
                f"{side} template", f"an input with an image needs exactly one {{{{ IMAGE }}}} marker, found {markers}"
            )
        if image is None and markers:
            raise self.error(f"{side} template", "the text has an {{ IMAGE }} marker but the row has no image")
        if VIDEO_MARKER in text:
            raise self.error(f"{side} template", "video inputs are not supported by this task format yet")
        return EncodeInput(text=text, image=image)
