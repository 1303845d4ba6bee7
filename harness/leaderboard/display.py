"""Entry text made safe to show: the one place that strips what could hide or rewrite it.

Entries come from strangers. A model name may carry ANSI escape sequences (which recolour,
move the cursor or retitle a terminal), C0/C1 control characters, Unicode bidi overrides and
isolates (which reorder what is shown), or zero-width and other invisible characters (which make
two different names look the same). :func:`printable` removes all of them; every place where
entry text reaches a person (terminal, error message, Markdown, the site) passes through it.
Markup escaping (rich, Markdown, HTML) is each renderer's own job, after this.
"""

from __future__ import annotations

import json
import re
import unicodedata

_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: ESC [ parameters intermediates final (colours, cursor moves)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: ESC ] ... BEL or ST (window titles, hyperlinks)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC: ESC P|X|^|_ ... ST
    r"|\x1b[ -/]*[0-~]"  # the other escapes: ESC, intermediates, one final byte
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI in its 8-bit (C1) form
)
"""Terminal escape sequences, removed whole so that their parameters do not show as text."""

_LINE_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029")
"""Whitespace controls that become one space (a name on two lines would break a row)."""

_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Controls, format characters (bidi, zero-width, tags), lone surrogates, line/paragraph separators."""

_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x2060, 0x206F),  # word joiner, invisible operators, deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned specials
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
"""Default-ignorable characters that are not in a removed category: they render as nothing."""


def printable(text: str) -> str:
    """``text`` without escape sequences, control, bidi, zero-width or other invisible characters.

    Tabs and line breaks become single spaces; every other character is kept as is.
    """
    text = _ESCAPE_SEQUENCE.sub("", text)
    if text.isascii() and text.isprintable():
        return text  # the common case, without a per-character look-up
    return "".join(_kept(char) for char in text)


def json_escaped(text: str) -> str:
    """JSON text (from ``json.dumps``) with each character :func:`printable` would drop written as a
    ``\\u`` escape: the same data, safe to show. Newlines outside strings (indentation) are kept."""
    if text.isascii() and "\x7f" not in text:
        return text  # json.dumps already escapes the C0 controls inside strings
    return "".join(json.dumps(c)[1:-1] if c != "\n" and _hidden(c) else c for c in text)


def _kept(char: str) -> str:
    if char in _LINE_BREAKS:
        return " "
    return "" if _hidden(char) else char


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _REMOVED_CATEGORIES or _invisible(ord(char))


def _invisible(code: int) -> bool:
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)
