"""Exports: the MMEB leaderboard's per-model JSON and a Markdown table for a README."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.leaderboard.display import printable
from harness.leaderboard.entry import LeaderboardEntry
from harness.leaderboard.folder import StoredEntry
from harness.leaderboard.table import columns_for, format_cell, row_for, sort_rows


def to_mmeb(entry: LeaderboardEntry) -> dict[str, Any]:
    """``{"metadata": ..., "metrics": {modality: {task: {metric: value, num_pred, num_data}}}}``."""
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    for modality, tasks in entry.scores.items():
        metrics[modality] = {}
        for task, result in tasks.items():
            values: dict[str, Any] = dict(result.metrics)
            if result.num_queries is not None:
                values.update(num_pred=result.num_queries, num_data=result.num_queries)
            metrics[modality][task] = values
    metadata = {
        "model_name": entry.model.name,
        "report_generated_date": entry.provenance.date,
        "benchmark": entry.benchmark.key(),
        "revision": entry.model.revision,
    }
    return {"metadata": metadata, "metrics": metrics}


_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKSLASHED = frozenset("\\`*_[]()!~|$")
"""Characters that start Markdown (or GitHub) syntax: emphasis, code, links, images, strikethrough,
table cells, math. A backslash before any ASCII punctuation shows it literally."""


def markdown_cell(text: str) -> str:
    """Entry text as one Markdown table cell that shows literally: no markup, no HTML, one line."""
    return "".join(_HTML_ENTITIES.get(c) or (f"\\{c}" if c in _BACKSLASHED else c) for c in printable(text))


def to_markdown(entries: Sequence[StoredEntry], meta_tasks: bool = False, sort: str = "overall") -> str:
    """A Markdown table (scores ×100), one row per entry, best first by ``sort``; every cell escaped."""
    columns = columns_for(entries, meta_tasks=meta_tasks)
    rows = sort_rows([row_for(s) for s in entries], columns, sort, descending=True)
    lines = [
        "| " + " | ".join(markdown_cell(c.name) for c in columns) + " |",
        "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|",
    ]
    for row in rows:
        cells = [markdown_cell(format_cell(c, row.value(c))) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
