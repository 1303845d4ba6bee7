"""The leaderboard as rows and columns, shared by ``show``, the Markdown export and the site."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.leaderboard.checks import EntryError
from harness.leaderboard.folder import StoredEntry

MODALITY_ORDER = ("image", "video", "visdoc", "audio", "text", "tool", "gui", "memory")
"""Columns in the order of MMEB-V3's report_score_v3.py (MMEB-V2 has the first three)."""


@dataclass(frozen=True)
class Column:
    """One column: its header, the kind of value, and for scores the aggregate it shows."""

    name: str
    numeric: bool
    group: str  # "entry", "modality" or "meta_task"

    @property
    def key(self) -> str:
        """Group and name: a meta-task may share its name with a modality or an entry column."""
        return f"{self.group}:{self.name}"


@dataclass(frozen=True)
class Row:
    """One entry as cells keyed by :attr:`Column.key` (scores as fractions, None when absent)."""

    stored: StoredEntry
    cells: dict[str, str | float | int | None]

    def value(self, column: Column) -> str | float | int | None:
        """This row's value in ``column`` (None when the entry has none)."""
        return self.cells.get(column.key)


def modalities_of(entries: Sequence[StoredEntry]) -> list[str]:
    """Modalities present, in the MMEB order, unknown ones after."""
    found = {m for s in entries for m in s.entry.scores}
    return [m for m in MODALITY_ORDER if m in found] + sorted(found - set(MODALITY_ORDER))


def meta_tasks_of(entries: Sequence[StoredEntry], modality: str | None = None) -> list[str]:
    """Meta-tasks in order of first appearance among the entries' tasks."""
    order: list[str] = []
    for stored in entries:
        for task_modality, result in stored.entry.tasks().values():
            if result.meta_task and result.meta_task not in order and modality in (None, task_modality):
                order.append(result.meta_task)
    return order


def columns_for(entries: Sequence[StoredEntry], meta_tasks: bool = True) -> list[Column]:
    """Model, benchmark, task count, overall, each modality, then each meta-task."""
    columns = [Column("model", False, "entry"), Column("benchmark", False, "entry"), Column("tasks", True, "entry")]
    columns.append(Column("overall", True, "entry"))
    columns += [Column(m, True, "modality") for m in modalities_of(entries)]
    if meta_tasks:
        columns += [Column(m, True, "meta_task") for m in meta_tasks_of(entries)]
    return columns


def row_for(stored: StoredEntry) -> Row:
    """Every column's value for one entry."""
    entry = stored.entry
    cells: dict[str, str | float | int | None] = {
        "entry:model": entry.model.name,
        "entry:benchmark": entry.benchmark.key(),
        "entry:tasks": len(entry.tasks()),
        "entry:overall": entry.aggregates.overall,
    }
    cells.update({f"modality:{name}": value for name, value in entry.aggregates.modalities.items()})
    cells.update({f"meta_task:{name}": value for name, value in entry.aggregates.meta_tasks.items()})
    return Row(stored=stored, cells=cells)


def sort_rows(rows: list[Row], columns: Sequence[Column], by: str, descending: bool) -> list[Row]:
    """Rows sorted by a column (case-insensitive name, the first of that name); empty cells always last."""
    names: dict[str, Column] = {}
    for c in columns:
        names.setdefault(c.name.casefold(), c)
    column = names.get(by.casefold())
    if column is None:
        raise EntryError(f"--sort: unknown column {by!r} (columns: {', '.join(c.name for c in columns)})")
    return sort_rows_by(rows, column, descending)


def sort_rows_by(rows: list[Row], column: Column, descending: bool) -> list[Row]:
    """Rows sorted by ``column``; empty cells always last."""
    present = [r for r in rows if r.value(column) is not None]
    missing = [r for r in rows if r.value(column) is None]

    def key(row: Row) -> str | float:
        value = row.value(column)
        return float(value) if column.numeric and isinstance(value, int | float) else str(value).casefold()

    return sorted(present, key=key, reverse=descending) + missing


def percent(value: str | float | int | None, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals; '–' when absent."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return f"{100 * value:.{digits}f}"


def format_cell(column: Column, value: str | float | int | None) -> str:
    """How a cell reads in text tables: scores ×100 with one decimal, counts and names as is."""
    if column.group == "entry" and column.name != "overall":
        return "–" if value is None else str(value)
    return percent(value)
