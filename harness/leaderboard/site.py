"""``harness leaderboard build``: a static site (index.html + the JSON) for any static host.

Everything is rendered here, with every string from an entry escaped; the inline script only
sorts, filters and opens what is already on the page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from harness.leaderboard.chart import meta_task_chart
from harness.leaderboard.files import entry_text
from harness.leaderboard.folder import ENTRIES_DIR, StoredEntry, replace_folder
from harness.leaderboard.site_assets import SCRIPT, STYLE
from harness.leaderboard.table import (
    Column,
    columns_for,
    format_cell,
    meta_tasks_of,
    modalities_of,
    row_for,
    sort_rows,
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


def render_page(entries: Sequence[StoredEntry], stamp: str) -> str:
    """The whole index.html."""
    benchmarks = sorted({s.entry.benchmark.key() for s in entries})
    options = "".join(f'<option value="{escape(b)}">{escape(b)}</option>' for b in benchmarks)
    numbers = {stored.path: number for number, stored in enumerate(entries)}
    sections = [_board("overall", "Overall", entries, columns_for(entries, meta_tasks=False), numbers)]
    for modality in modalities_of(entries):
        columns = [c for c in columns_for(entries, meta_tasks=False) if c.group == "entry" and c.name != "overall"]
        columns.append(Column(modality, True, "modality"))
        columns += [Column(m, True, "meta_task") for m in meta_tasks_of(entries, modality)]
        with_modality = [s for s in entries if modality in s.entry.scores]
        sections.append(_board(modality, modality.capitalize(), with_modality, columns, numbers))
    charts = "".join(
        f"<h3>{escape(b)}</h3>" + meta_task_chart([s for s in entries if s.entry.benchmark.key() == b], f"{b}")
        for b in benchmarks
    )
    details = "".join(_drilldown(number, stored) for number, stored in enumerate(entries))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>MMEB leaderboard</title><style>{STYLE}</style></head><body>"
        "<h1>MMEB leaderboard</h1>"
        f'<p class="note">{len(entries)} entries; scores ×100; generated {escape(stamp)}. '
        'Data: <a href="leaderboard.json">leaderboard.json</a> and one JSON per entry.</p>'
        f'<label>Benchmark <select id="benchmark-filter"><option value="">all</option>{options}</select></label>'
        + "".join(sections)
        + f'<section id="charts"><h2>Meta-task scores</h2>{charts}</section>'
        + f'<section id="tasks"><h2>Per-task scores</h2>{details}</section>'
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def _board(
    key: str, title: str, entries: Sequence[StoredEntry], columns: Sequence[Column], numbers: dict[Path, int]
) -> str:
    score_column = next(c for c in columns if c.group != "entry" or c.name == "overall")
    head = "".join(
        f'<th data-name="{escape(c.name)}" data-type="{"num" if c.numeric else "text"}"{_align(c)}'
        f"{_sorted_attr(c is score_column)}>"
        f'<button type="button">{escape(c.name)}</button></th>'
        for c in columns
    )
    body = []
    # Best first by the table's own score column, as the header arrow says.
    rows = sort_rows([row_for(s) for s in entries], columns, score_column.name, descending=True)
    for row in rows:
        stored = row.stored
        cells = []
        for column in columns:
            value = row.value(column)
            data = "" if value is None else escape(str(value))
            text = escape(format_cell(column, value))
            if column.name == "model":
                text = f'<a href="#entry={numbers[stored.path]}">{text}</a>'
            cells.append(f'<td data-value="{data}"{_align(column)}>{text}</td>')
        body.append(f'<tr data-benchmark="{escape(stored.entry.benchmark.key())}">{"".join(cells)}</tr>')
    return (
        f'<section id="{key}"><h2>{escape(title)}</h2><table class="board" id="table-{key}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _sorted_attr(is_sorted: bool) -> str:
    return ' aria-sort="descending"' if is_sorted else ""


def _align(column: Column) -> str:
    return "" if column.numeric else ' class="text"'


def _drilldown(number: int, stored: StoredEntry) -> str:
    entry = stored.entry
    rows = "".join(
        f'<tr><td class="text">{escape(task)}</td><td class="text">{escape(modality)}</td>'
        f'<td class="text">{escape(result.meta_task or "")}</td><td class="text">{escape(result.main_metric)}</td>'
        f"<td>{100 * result.main_score:.1f}</td><td>{'' if result.num_queries is None else result.num_queries}</td>"
        f'<td class="text">{escape(result.task_version)}</td></tr>'
        for task, (modality, result) in entry.tasks().items()
    )
    source = entry.provenance.source or " ".join(entry.provenance.command)
    return (
        f'<details id="entry-{number}"><summary>{escape(entry.model.name)} ({escape(entry.benchmark.key())})'
        f"</summary><p class=\"note\">{escape(entry.provenance.kind)}, {escape(entry.provenance.date)}: "
        f"{escape(source)}</p><table class=\"tasks\"><thead><tr><th>task</th><th>modality</th><th>meta-task</th>"
        f"<th>metric</th><th>score</th><th>queries</th><th>task version</th></tr></thead><tbody>{rows}</tbody></table>"
        "</details>"
    )
