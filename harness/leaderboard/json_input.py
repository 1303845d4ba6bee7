"""JSON from strangers: entry and run files parsed within limits, every value checked.

Python's ``json`` reads ``NaN`` and ``Infinity``, turns ``1e400`` into infinity, fails with a
``ValueError`` on integers of thousands of digits and with a ``RecursionError`` on deep
nesting. Here each of these is a one-line :class:`EntryError`, and so are a file too large
to be an entry and a file that is not UTF-8.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from harness.leaderboard.checks import EntryError

MAX_FILE_BYTES = 4 * 2**20
"""Largest entry or run file read (4 MiB; a full 78-task entry is about 100 KB)."""
MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted (an entry nests about 6 levels)."""
MAX_INTEGER = 2**63 - 1
"""Largest integer magnitude accepted anywhere in a payload."""

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_LONGEST_PART_SHOWN = 60


class _Refused(ValueError):
    """A number JSON does not allow; raised from inside the parser's hooks."""


def read_json_file(path: Path) -> Any:
    """The JSON value in ``path``: an :class:`EntryError` naming the file when it cannot be one."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise EntryError(f"{path}: cannot read ({error.strerror or error})") from None
    return parse_json(raw, str(path))


def parse_json(raw: bytes, source: str) -> Any:
    """``raw`` as UTF-8 JSON, within the limits above; ``source`` names it in errors."""
    if len(raw) > MAX_FILE_BYTES:
        raise EntryError(f"{source}: larger than the {MAX_FILE_BYTES // 2**20} MiB an entry file may be")
    return parse_json_bytes(raw, source)


def parse_json_bytes(raw: bytes, source: str) -> Any:
    """``raw`` as UTF-8 JSON with every check of :func:`parse_json` but the file size: for one line
    of a JSON Lines file, whose reader bounds the line length itself."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EntryError(f"{source}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise EntryError(f"{source}:{error.lineno}: not valid JSON ({error.msg})") from None
    except _Refused as error:
        raise EntryError(f"{source}: not valid JSON ({error})") from None
    except RecursionError:
        raise EntryError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    try:
        check_values(value)
    except EntryError as error:
        raise EntryError(f"{source}: {error}") from None
    return value


def _no_constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON number; write a finite number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:_LONGEST_PART_SHOWN]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    # The length first: int() of thousands of digits is slow, then a ValueError.
    if len(text.lstrip("-")) <= len(str(MAX_INTEGER)):
        value = int(text)
        if abs(value) <= MAX_INTEGER:
            return value
    raise _Refused(f"integer {text[:_LONGEST_PART_SHOWN]} is out of range")


def check_values(payload: Any) -> None:
    """Refuse, naming its path, a non-finite float, an out-of-range integer, a lone surrogate or deep nesting.

    Walks without recursion, so a payload built in memory cannot exhaust the stack either.
    """
    stack: list[tuple[str, Any, int]] = [("", payload, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise EntryError(f"{path or '(top level)'}: nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                child = _child(path, key)
                if isinstance(key, str):
                    _check_text(child, key)
                stack.append((child, item, depth + 1))
        elif isinstance(value, str):
            _check_text(path, value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise EntryError(f"{path or '(top level)'}: {value!r} is not a finite number")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            raise EntryError(f"{path or '(top level)'}: integer out of range (more than {MAX_INTEGER})")


def _check_text(path: str, text: str) -> None:
    if _LONE_SURROGATE.search(text):
        raise EntryError(f"{path or '(top level)'}: text with a lone UTF-16 surrogate (\\ud800-\\udfff)")


def _child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{_part(str(key))}" if path else _part(str(key))


def _part(name: str) -> str:
    return name if len(name) <= _LONGEST_PART_SHOWN else name[:_LONGEST_PART_SHOWN] + "…"
