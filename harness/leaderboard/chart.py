"""The geometry of a bar chart of meta-task scores per model; the site's template draws it as SVG.

Only numbers and label text are computed here. Labels are cleaned with
:func:`~harness.leaderboard.display.printable` and escaped by the template like every other
string; colours come from :data:`PALETTE`, never from an entry, and no id or class is derived
from data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.leaderboard.display import printable
from harness.leaderboard.folder import StoredEntry
from harness.leaderboard.table import meta_tasks_of

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
_BAR, _GAP, _LABEL_W, _PLOT_W, _LEGEND_ROW = 9, 10, 130, 520, 18


@dataclass(frozen=True)
class Label:
    """Text at a point (``anchor``: the SVG ``text-anchor``)."""

    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True)
class Bar:
    """A filled rectangle with a tooltip."""

    x: float
    y: float
    width: float
    height: float
    color: str
    tooltip: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw one chart."""

    title: str
    width: int
    height: int
    bars: list[Bar]
    labels: list[Label]
    grid: list[float]
    """x of each vertical grid line (0, 20, ... 100), from ``grid_top`` to ``grid_bottom``."""
    grid_top: float
    grid_bottom: float


def meta_task_chart(entries: Sequence[StoredEntry], title: str) -> Chart | None:
    """Grouped horizontal bars: one group per meta-task, one bar (colour) per entry; None without data."""
    metas = meta_tasks_of(entries)
    if not metas or not entries:
        return None
    legend_h = _LEGEND_ROW * len(entries) + 8
    group_h = _BAR * len(entries) + _GAP
    axis_y = legend_h + group_h * len(metas)
    bars: list[Bar] = []
    labels: list[Label] = []
    for i, stored in enumerate(entries):
        y = i * _LEGEND_ROW + 4
        name = printable(stored.entry.model.name)
        bars.append(Bar(_LABEL_W, y, 12, 12, PALETTE[i % len(PALETTE)], name))
        labels.append(Label(_LABEL_W + 18, y + 10, name))
    for g, meta in enumerate(metas):
        top = legend_h + g * group_h
        labels.append(Label(_LABEL_W - 6, top + group_h / 2, printable(meta), "end"))
        for i, stored in enumerate(entries):
            value = stored.entry.aggregates.meta_tasks.get(meta)
            if value is None:
                continue
            tooltip = f"{printable(stored.entry.model.name)} — {printable(meta)}: {100 * value:.1f}"
            bars.append(
                Bar(_LABEL_W, top + i * _BAR, round(_PLOT_W * value, 1), _BAR - 1, PALETTE[i % len(PALETTE)], tooltip)
            )
    grid = [_LABEL_W + _PLOT_W * tick / 100 for tick in range(0, 101, 20)]
    labels += [Label(x, axis_y + 14, str(tick), "middle") for x, tick in zip(grid, range(0, 101, 20), strict=True)]
    return Chart(
        title=printable(title),
        width=_LABEL_W + _PLOT_W + 60,
        height=axis_y + 24,
        bars=bars,
        labels=labels,
        grid=grid,
        grid_top=legend_h,
        grid_bottom=axis_y,
    )
