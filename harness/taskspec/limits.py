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
