"""Every limit on task files and their templates, in one place.

Task files come from strangers (a benchmark pull request), so reading one, and rendering its
templates for every dataset row, must end soon and stay small whatever the file says. Each
limit here is far above what the built-in tasks need (the figure in brackets), and each error
that enforces one names it, e.g. ``template output exceeds 1048576 characters (render limit)``.
``docs/task_format.md`` lists them for task authors.
"""

from __future__ import annotations

# --- reading YAML (harness.taskspec.yaml_parse, harness.taskspec.yaml_source) --------------------

YAML_MAX_BYTES = 1024 * 1024
"""Bytes of YAML read for one task file, its includes included [largest built-in: 27 KB]."""

YAML_MAX_NODES = 20_000
"""YAML nodes (scalars, lists, mappings) in one task file and its includes [largest: ~1,500]."""

YAML_MAX_DEPTH = 64
"""Nesting depth of lists and mappings in a task file [built-in: 5]."""

INCLUDE_MAX_FILES = 32
"""Files read for one task file: itself and everything it includes, however nested [built-in: 4]."""

# --- rendering templates (harness.taskspec.template_sandbox, harness.taskspec.templates) ---------

TEMPLATE_MAX_CHARS = 64 * 1024
"""Characters of one template's source [largest built-in: ~800, MCMR's candidate template]."""

RENDER_MAX_CHARS = 1024 * 1024
"""Characters (or list items) of any one string or list a render builds: products, joins, padding,
literals, filter and method results, namespace attributes."""

RENDER_OUTPUT_MAX_CHARS = 16 * 1024 * 1024
"""Characters a render may write: its output and text captured by ``{% set %}``, ``{% filter %}``
and macro calls, counted together while they stream [largest built-in: an MMEB-V3 LongEmbed
document of ~476k tokens, about 2 M characters, written whole by ``{{ cand.text }}``; the adapter
decides what the model sees]."""

RANGE_MAX = 10_000
"""Items of one ``range()``, and the ``slices``/``linecount`` of the ``slice``/``batch`` filters."""

LOOP_MAX_ITERATIONS = 100_000
"""``{% for %}`` iterations in one render, all loops together [built-in: a few dozen]."""

CALL_MAX_DEPTH = 32
"""Nesting of calls (macros calling macros, recursive loops) in one render [built-in: 1]."""

INT_MAX_BITS = 4096
"""Bits of an integer that ``*`` or ``**`` may produce (about 1,233 decimal digits)."""

RENDER_TIME_LIMIT_S = 2.0
"""Wall-clock seconds one render may take, checked at every loop step, call and output chunk."""

JSON_MAX_DEPTH = 64
"""Nesting depth of the lists and objects the ``fromjson`` and ``dumpjson`` filters read or write
[MMEB-V3 tool documentation: under 10]."""
