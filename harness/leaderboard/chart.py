"""An inline SVG bar chart of meta-task scores per model (no script, no external assets)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.leaderboard.folder import StoredEntry
from harness.leaderboard.table import meta_tasks_of

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
_BAR, _GAP, _LABEL_W, _PLOT_W, _LEGEND_ROW = 9, 10, 130, 520, 18


def meta_task_chart(entries: Sequence[StoredEntry], title: str) -> str:
    """Grouped horizontal bars: one group per meta-task, one bar (colour) per entry."""
    metas = meta_tasks_of(entries)
    if not metas or not entries:
        return ""
    legend_h = _LEGEND_ROW * len(entries) + 8
    group_h = _BAR * len(entries) + _GAP
    height = legend_h + group_h * len(metas) + 24
    width = _LABEL_W + _PLOT_W + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for i, stored in enumerate(entries):
        y = i * _LEGEND_ROW + 4
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{_LABEL_W}" y="{y}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{_LABEL_W + 18}" y="{y + 10}">{escape(stored.entry.model.name)}</text>')
    for g, meta in enumerate(metas):
        top = legend_h + g * group_h
        parts.append(f'<text x="{_LABEL_W - 6}" y="{top + group_h / 2}" text-anchor="end">{escape(meta)}</text>')
        for i, stored in enumerate(entries):
            value = stored.entry.aggregates.meta_tasks.get(meta)
            if value is None:
                continue
            y = top + i * _BAR
            label = f"{stored.entry.model.name} — {meta}: {100 * value:.1f}"
            parts.append(
                f'<rect x="{_LABEL_W}" y="{y}" width="{_PLOT_W * value:.1f}" height="{_BAR - 1}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}</title></rect>'
            )
    axis_y = legend_h + group_h * len(metas)
    for tick in range(0, 101, 20):
        x = _LABEL_W + _PLOT_W * tick / 100
        parts.append(f'<line x1="{x}" y1="{legend_h}" x2="{x}" y2="{axis_y}" class="grid"/>')
        parts.append(f'<text x="{x}" y="{axis_y + 14}" text-anchor="middle">{tick}</text>')
    parts.append("</svg>")
    return "".join(parts)
