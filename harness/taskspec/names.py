"""The one rule for task, group and tag names.

Names become output file prefixes (``{task}_score.json``) and are typed on the command line,
so a name holds only letters, digits and ``._-``, in segments separated by ``/`` (MMEB-V3's keys
such as ``text/BRIGHT/aops``, whose files go in sub-folders of the output folder, as the
reference writes them): no segment starts with ``.`` (no ``..``, no hidden file), no empty
segment (no leading or doubled ``/``), at most :data:`NAME_MAX_LENGTH` characters. A segment may
hold single inner spaces (MMEB-V3's ``text/MultiConIR/Legal Document``; the leaderboard keys
allow them too), never a leading, trailing or doubled one. Every layer
that takes a name from a file (the task schema, the VLM2Vec-config compatibility path, the
output writer) checks it with :func:`check_name`.
"""

from __future__ import annotations

import re

NAME_MAX_LENGTH = 128
"""Longest task, group or tag name (the longest built-in name has 45 characters)."""

SEGMENT = r"[A-Za-z0-9_-](?:[A-Za-z0-9._-]| (?=[A-Za-z0-9._-]))*"
"""One segment of a name: letters, digits, ``.``, ``_`` and ``-``, not starting with ``.``; single
spaces between them."""
NAME_PATTERN = re.compile(rf"{SEGMENT}(?:/{SEGMENT})*")
"""A name: segments separated by single ``/`` (full match)."""

NAME_RULE = (
    f"letters, digits and ._- only (single inner spaces allowed), in segments separated by '/', "
    f"none starting with '.', "
    f"at most {NAME_MAX_LENGTH} characters"
)
"""The rule in words, for error messages and documentation."""


def check_name(value: str, what: str) -> str:
    """Return ``value`` if it is a valid name; else raise ``ValueError`` naming ``what`` and the rule."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > NAME_MAX_LENGTH or NAME_PATTERN.fullmatch(value) is None:
        raise ValueError(f"{what} {_shown(value)} is not a valid name ({NAME_RULE})")
    return value


def _shown(value: str) -> str:
    """``value`` quoted on one line, cut to a readable length."""
    cut = value if len(value) <= 60 else value[:57] + "..."
    return repr(cut)
