"""The three tables of a discovered folder (queries, pooled corpus, qrels) as ordinary rows.

What each row holds is documented on ``FolderDiscovery.table``; the walk and the id prefixes are
:mod:`harness.data.discovery`'s. Rows the reference drops (no id, or no text) are dropped and
counted; qrels keep grades > 0 and, of a repeated (query, document) pair in one file, the last
grade, as the reference's ``dict`` assignment does.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from harness.data.discovery import (
    DISCOVERED_COLUMN,
    DOC_ID_FIELDS,
    QRELS_DOC_FIELDS,
    QRELS_QUERY_FIELDS,
    QUERY_ID_FIELDS,
    QUERY_TEXT_FIELDS,
    Discovered,
    SubTask,
    discover,
    first_truthy,
    load_instructions,
    prefixed,
    resolve_instruction,
)
from harness.data.sources import DatasetRows, _load_local
from harness.data.text_lines import split_fields
from harness.errors import DataError
from harness.taskspec.schema import FolderDiscovery

_Table = tuple[list[dict[str, Any]], list[str]]


def load_discovered(spec: FolderDiscovery, data_basedir: Path, limit: int | None = None) -> DatasetRows:
    """The rows of ``spec.table`` over every discovered sub-task (``limit`` caps query rows only)."""
    base = Path(os.path.realpath(data_basedir))
    found = discover(spec, base)
    if not found.subtasks:
        raise DataError(
            f"discover.root '{spec.root}': no sub-task found (a query file {'/'.join(spec.query_files)} "
            f"with a qrels file beside it and a corpus file in its folder or above)"
        )
    dropped = 0
    if spec.table == "queries":
        rows, locations, dropped = _queries(spec, found, base, limit)
    elif spec.table == "corpus":
        rows, locations, dropped = _corpus(found, base)
    else:
        rows, locations = _qrels(found, base)
    provenance = {
        "kind": "local",
        "discover": spec.root,
        "table": spec.table,
        "subtasks": [
            {
                "subtask": sub.subtask,
                **{name: str(getattr(sub, name).relative_to(base)) for name in ("queries", "qrels", "corpus")},
            }
            for sub in found.subtasks
        ],
        "skipped_query_files": found.skipped,
        "dropped_rows": dropped,
    }
    return DatasetRows(rows=rows, locations=locations, provenance=provenance)


def _queries(
    spec: FolderDiscovery, found: Discovered, base: Path, limit: int | None
) -> tuple[list[dict[str, Any]], list[str], int]:
    instructions = load_instructions(spec, base)
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    dropped = 0
    for sub in found.subtasks:
        instruction = resolve_instruction(instructions, spec.instruction_key or "", sub.subtask)
        table = _load_local([sub.queries], base, None)
        for row, location in zip(table.rows, table.locations, strict=True):
            if limit is not None and len(rows) >= limit:
                return rows, locations, dropped
            raw_id = first_truthy(row, QUERY_ID_FIELDS)
            text = first_truthy(row, QUERY_TEXT_FIELDS) or ""
            if not isinstance(text, str):
                raise DataError(f"{location}: query text must be text, got {type(text).__name__}")
            if raw_id is None or not (f"{instruction} {text}".strip() if instruction else text):
                dropped += 1
                continue
            found_values = {
                "subtask": sub.subtask,
                "id": prefixed(str(raw_id), sub.subtask),
                "text": text,
                "instruction": instruction,
            }
            rows.append(_tagged(row, location, found_values))
            locations.append(location)
    return rows, locations, dropped


def _corpus(found: Discovered, base: Path) -> tuple[list[dict[str, Any]], list[str], int]:
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    dropped = 0
    read: set[Path] = set()
    for sub in found.subtasks:
        if sub.corpus in read:  # one pooled corpus: each file once
            continue
        read.add(sub.corpus)
        table = _load_local([sub.corpus], base, None)
        for row, location in zip(table.rows, table.locations, strict=True):
            raw_id = first_truthy(row, DOC_ID_FIELDS)
            title = row.get("title") or ""
            text = row.get("text") or row.get("content") or ""
            if title and text:
                text = f"{title}\n{text}"
            if raw_id is None or not text:
                dropped += 1
                continue
            if not isinstance(text, str):
                raise DataError(f"{location}: document text must be text, got {type(text).__name__}")
            found_values = {"subtask": sub.corpus_key, "id": prefixed(str(raw_id), sub.corpus_key), "text": text}
            rows.append(_tagged(row, location, found_values))
            locations.append(location)
    return rows, locations, dropped


def _tagged(row: dict[str, Any], location: str, values: dict[str, str]) -> dict[str, Any]:
    if DISCOVERED_COLUMN in row:
        raise DataError(f"{location}: the row has a column '{DISCOVERED_COLUMN}', which discovery adds")
    return {**row, DISCOVERED_COLUMN: values}


def _qrels(found: Discovered, base: Path) -> _Table:
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    for sub in found.subtasks:
        grades = _read_tsv_qrels(sub.qrels) if sub.qrels.suffix == ".tsv" else _read_table_qrels(sub, base)
        for (query_id, doc_id), (grade, location) in grades.items():
            rows.append(
                {
                    "query-id": prefixed(query_id, sub.subtask),
                    "corpus-id": prefixed(doc_id, sub.corpus_key),
                    "score": grade,
                }
            )
            locations.append(location)
    return rows, locations


_Grades = dict[tuple[str, str], tuple[float, str]]
"""(query id, document id) → (grade > 0, location of the line that set it), in first-seen order."""


def _read_tsv_qrels(path: Path) -> _Grades:
    """``qid did score`` or ``qid Q0 did score`` lines (tab-separated, else any whitespace)."""
    grades: _Grades = {}
    try:
        lines = _bounded_lines(path)
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the qrels ({_reason(error)})") from None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        parts = split_fields(line, 3)
        if len(parts) < 3:
            raise DataError(f"{path}:{number}: a qrels line needs 'qid did score' or 'qid Q0 did score'")
        if len(parts) >= 4 and parts[1].upper() == "Q0":
            query_id, doc_id, value = parts[0], parts[2], parts[3]
        else:
            query_id, doc_id, value = parts[0], parts[1], parts[2]
        grade = _number(value)
        if grade is None and number == 1:  # a header line such as "query-id corpus-id score"
            continue
        _keep(grades, query_id, doc_id, grade, f"{path}:{number}")
    return grades


MAX_TSV_LINE_BYTES = 1 << 20
"""Longest qrels.tsv line read (1 MiB); a longer one is refused rather than held whole."""


def _bounded_lines(path: Path) -> list[str]:
    """The file's lines as text, each at most :data:`MAX_TSV_LINE_BYTES` (bytes read bounded per line)."""
    lines: list[str] = []
    with path.open("rb") as handle:
        while raw := handle.readline(MAX_TSV_LINE_BYTES + 1):
            if len(raw) > MAX_TSV_LINE_BYTES:
                raise DataError(f"{path}:{len(lines) + 1}: a qrels line of more than {MAX_TSV_LINE_BYTES:,} bytes")
            lines.append(raw.decode("utf-8"))
    return lines


def _reason(error: OSError | UnicodeDecodeError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start}"
    return error.strerror or str(error)


def _read_table_qrels(sub: SubTask, base: Path) -> _Grades:
    """Qrels rows of a JSON Lines or parquet file, with the reference's field fallbacks."""
    grades: _Grades = {}
    table = _load_local([sub.qrels], base, None)
    for row, location in zip(table.rows, table.locations, strict=True):
        query_id, doc_id = first_truthy(row, QRELS_QUERY_FIELDS), first_truthy(row, QRELS_DOC_FIELDS)
        if query_id is None or doc_id is None:
            raise DataError(
                f"{location}: a qrels row needs a query id ({'|'.join(QRELS_QUERY_FIELDS)}) "
                f"and a document id ({'|'.join(QRELS_DOC_FIELDS)})"
            )
        value = row["label"] if "label" in row else row.get("score", 1)
        _keep(grades, str(query_id), str(doc_id), _number(value), location)
    return grades


def _keep(grades: _Grades, query_id: str, doc_id: str, grade: float | None, location: str) -> None:
    if grade is None:
        raise DataError(f"{location}: the qrels score must be a number")
    if grade > 0:
        grades[(query_id, doc_id)] = (grade, location)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        grade = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(grade) else grade
