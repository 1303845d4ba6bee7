"""The site's page as a Jinja template, rendered with autoescaping in a sandbox.

Every value the template prints is escaped for HTML text and (double-quoted) attributes;
entry strings reach it only as data, never as template source, so ``{{ 7*7 }}`` in a model
name shows as typed. Only the page's own stylesheet and script are marked safe. Ids and
``data-name`` values come from :func:`~harness.leaderboard.element_ids.element_ids`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from harness.leaderboard.site_assets import SCRIPT, STYLE, content_security_policy

PAGE = """\
{% from "chart.svg" import draw %}
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>MMEB leaderboard</title><style>{{ style }}</style></head><body>
<h1>MMEB leaderboard</h1>
<p class="note">{{ count }} entries; scores ×100; generated {{ stamp }}. \
Data: <a href="leaderboard.json">leaderboard.json</a> and one JSON per entry.</p>
<label>Benchmark <select id="benchmark-filter"><option value="">all</option>
{%- for benchmark in benchmarks %}<option value="{{ benchmark }}">{{ benchmark }}</option>{% endfor -%}
</select></label>
{% for board in boards %}
<section id="board-{{ board.id }}"><h2>{{ board.title }}</h2><table class="board" id="table-{{ board.id }}">
<thead><tr>
{%- for head in board.headers -%}
<th data-name="{{ head.id }}" data-type="{{ 'num' if head.numeric else 'text' }}"
{%- if not head.numeric %} class="text"{% endif %}{% if head.sorted %} aria-sort="descending"{% endif -%}
><button type="button">{{ head.label }}</button></th>
{%- endfor -%}
</tr></thead><tbody>
{%- for row in board.rows %}
<tr data-benchmark="{{ row.benchmark }}">
{%- for cell in row.cells -%}
<td data-value="{{ cell.value }}"{% if not cell.numeric %} class="text"{% endif %}>
{%- if cell.entry is none %}{{ cell.text }}{% else %}<a href="#entry={{ cell.entry }}">{{ cell.text }}</a>{% endif -%}
</td>
{%- endfor -%}
</tr>
{%- endfor %}
</tbody></table></section>
{% endfor %}
<section id="charts"><h2>Meta-task scores</h2>
{% for benchmark, chart in charts %}<h3>{{ benchmark }}</h3>{% if chart %}{{ draw(chart) }}{% endif %}
{% endfor %}</section>
<section id="tasks"><h2>Per-task scores</h2>
{% for entry in drilldowns %}
<details id="entry-{{ entry.number }}"><summary>{{ entry.model }} ({{ entry.benchmark }})</summary>
<p class="note">{{ entry.kind }}, {{ entry.date }}: {{ entry.source }}</p>
<table class="tasks"><thead><tr><th>task</th><th>modality</th><th>meta-task</th><th>metric</th><th>score</th>
<th>queries</th><th>task version</th></tr></thead><tbody>
{%- for task in entry.tasks %}
<tr><td class="text">{{ task.task }}</td><td class="text">{{ task.modality }}</td>\
<td class="text">{{ task.meta_task }}</td><td class="text">{{ task.metric }}</td><td>{{ task.score }}</td>\
<td>{{ task.queries }}</td><td class="text">{{ task.version }}</td></tr>
{%- endfor %}
</tbody></table></details>
{% endfor %}</section>
<script>{{ script }}</script></body></html>
"""
"""index.html."""

CHART = """\
{% macro draw(chart) -%}
<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{{ chart.width }}" \
height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}"><title>{{ chart.title }}</title>
{%- for bar in chart.bars %}
<rect x="{{ bar.x }}" y="{{ bar.y }}" width="{{ bar.width }}" height="{{ bar.height }}" fill="{{ bar.color }}">\
<title>{{ bar.tooltip }}</title></rect>
{%- endfor %}
{%- for x in chart.grid %}
<line x1="{{ x }}" y1="{{ chart.grid_top }}" x2="{{ x }}" y2="{{ chart.grid_bottom }}" class="grid"/>
{%- endfor %}
{%- for label in chart.labels %}
<text x="{{ label.x }}" y="{{ label.y }}" text-anchor="{{ label.anchor }}">{{ label.text }}</text>
{%- endfor %}
</svg>
{%- endmacro %}
"""
"""The inline SVG bar chart of :class:`~harness.leaderboard.chart.Chart`."""

_ENV = ImmutableSandboxedEnvironment(
    loader=DictLoader({"index.html": PAGE, "chart.svg": CHART}),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
)


def render_index(**context: Any) -> str:
    """index.html from the page's view (see :func:`harness.leaderboard.site.render_page`)."""
    return _ENV.get_template("index.html").render(
        csp=content_security_policy(),
        style=Markup(STYLE),  # noqa: S704 - the page's own constant, hashed into the policy
        script=Markup(SCRIPT),  # noqa: S704 - the page's own constant, hashed into the policy
        **context,
    )
