"""``harness leaderboard build``: a static site (index.html + the JSON) for any static host.

The page is a Jinja template (:mod:`harness.leaderboard.site_template`) rendered with
autoescaping; this module turns entries into the view it draws, with every entry string
cleaned of controls and invisible characters and every id derived from data by
:func:`~harness.leaderboard.element_ids.element_ids`. The inline script only sorts, filters and
opens what is already on the page, under a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.leaderboard.chart import meta_task_chart
from harness.leaderboard.display import printable
from harness.leaderboard.element_ids import element_ids
from harness.leaderboard.files import entry_text
from harness.leaderboard.folder import ENTRIES_DIR, StoredEntry, replace_folder
from harness.leaderboard.site_template import render_index
from harness.leaderboard.table import (
    Column,
    Row,
    columns_for,
    format_cell,
    meta_tasks_of,
    modalities_of,
    row_for,
    sort_rows_by,
)


def build_site(entries: Sequence[StoredEntry], out: Path, generated_at: str | None = None) -> Path:
    """Write ``out/index.html``, ``out/leaderboard.json`` and every entry's JSON; returns index.html."""
    stamp = generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    page = render_page(entries, stamp)
    summary = json.dumps(summary_payload(entries, stamp), indent=2, ensure_ascii=False) + "\n"

    def build(staging: Path) -> None:
        (staging / "index.html").write_text(page, encoding="utf-8")
        (staging / "leaderboard.json").write_text(summary, encoding="utf-8")
        for number, stored in enumerate(entries):
            path = staging / _entry_file(stored, number)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(entry_text(stored.entry), encoding="utf-8")

    replace_folder(out, build)
    return out / "index.html"


def _entry_file(stored: StoredEntry, number: int) -> str:
    return f"{ENTRIES_DIR}/{number:03d}-{stored.path.name}"


def summary_payload(entries: Sequence[StoredEntry], stamp: str) -> dict[str, object]:
    """The machine-readable table behind the page: aggregates of every entry and its file."""
    return {
        "generated_at": stamp,
        "entries": [
            {
                "file": _entry_file(stored, number),
                "model": stored.entry.model.name,
                "benchmark": stored.entry.benchmark.model_dump(),
                "provenance": stored.entry.provenance.kind,
                "aggregates": stored.entry.aggregates.model_dump(),
            }
            for number, stored in enumerate(entries)
        ],
    }


@dataclass(frozen=True)
class Header:
    """A column header: its text, the id the script sorts it by, and whether it sorts the table on load."""

    label: str
    id: str
    numeric: bool
    sorted: bool


@dataclass(frozen=True)
class Cell:
    """A table cell: its sort value, its text, and the drill-down it links to (model cells)."""

    value: str
    text: str
    numeric: bool
    entry: int | None = None


@dataclass(frozen=True)
class BoardRow:
    """One entry's row of a board."""

    benchmark: str
    cells: list[Cell]


@dataclass(frozen=True)
class Board:
    """One sortable table: the overall one, or one per modality."""

    id: str
    title: str
    headers: list[Header]
    rows: list[BoardRow]


@dataclass(frozen=True)
class TaskLine:
    """One task of a drill-down, as shown."""

    task: str
    modality: str
    meta_task: str
    metric: str
    score: str
    queries: str
    version: str


@dataclass(frozen=True)
class Drilldown:
    """Every task of one entry, and where its scores come from."""

    number: int
    model: str
    benchmark: str
    kind: str
    date: str
    source: str
    tasks: list[TaskLine]


def render_page(entries: Sequence[StoredEntry], stamp: str) -> str:
    """The whole index.html: the entries' text cleaned (:func:`printable`), then escaped by the template."""
    benchmarks = sorted({s.entry.benchmark.key() for s in entries})
    numbers = {stored.path: number for number, stored in enumerate(entries)}
    modalities = modalities_of(entries)
    board_ids = element_ids(["overall", *modalities])
    boards = [_board(board_ids[0], "Overall", entries, columns_for(entries, meta_tasks=False), numbers)]
    for board_id, modality in zip(board_ids[1:], modalities, strict=True):
        columns = [c for c in columns_for(entries, meta_tasks=False) if c.group == "entry" and c.name != "overall"]
        columns.append(Column(modality, True, "modality"))
        columns += [Column(m, True, "meta_task") for m in meta_tasks_of(entries, modality)]
        with_modality = [s for s in entries if modality in s.entry.scores]
        boards.append(_board(board_id, printable(modality).capitalize(), with_modality, columns, numbers))
    charts = [(b, meta_task_chart([s for s in entries if s.entry.benchmark.key() == b], b)) for b in benchmarks]
    return render_index(
        count=len(entries),
        stamp=printable(stamp),
        benchmarks=benchmarks,
        boards=boards,
        charts=charts,
        drilldowns=[_drilldown(number, stored) for number, stored in enumerate(entries)],
    )


def _board(
    board_id: str, title: str, entries: Sequence[StoredEntry], columns: Sequence[Column], numbers: dict[Path, int]
) -> Board:
    score_column = next(c for c in columns if c.group != "entry" or c.name == "overall")
    ids = element_ids(c.name for c in columns)
    headers = [
        Header(printable(c.name), column_id, c.numeric, c is score_column)
        for c, column_id in zip(columns, ids, strict=True)
    ]
    # Best first by the table's own score column, as the header arrow says.
    rows = sort_rows_by([row_for(s) for s in entries], score_column, descending=True)
    return Board(board_id, title, headers, [_board_row(row, columns, numbers) for row in rows])


def _board_row(row: Row, columns: Sequence[Column], numbers: dict[Path, int]) -> BoardRow:
    cells = []
    for column in columns:
        value = row.value(column)
        link = numbers[row.stored.path] if column.group == "entry" and column.name == "model" else None
        shown = "" if value is None else printable(str(value))
        cells.append(Cell(shown, printable(format_cell(column, value)), column.numeric, link))
    return BoardRow(row.stored.entry.benchmark.key(), cells)


def _drilldown(number: int, stored: StoredEntry) -> Drilldown:
    entry = stored.entry
    tasks = [
        TaskLine(
            task=printable(task),
            modality=printable(modality),
            meta_task=printable(result.meta_task or ""),
            metric=printable(result.main_metric),
            score=f"{100 * result.main_score:.1f}",
            queries="" if result.num_queries is None else str(result.num_queries),
            version=printable(result.task_version),
        )
        for task, (modality, result) in entry.tasks().items()
    ]
    source = entry.provenance.source or " ".join(entry.provenance.command)
    return Drilldown(
        number=number,
        model=printable(entry.model.name),
        benchmark=entry.benchmark.key(),
        kind=entry.provenance.kind,
        date=printable(entry.provenance.date),
        source=printable(source),
        tasks=tasks,
    )
