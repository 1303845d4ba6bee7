"""The filters and globals task templates get: jinja's own, each bounded.

Every filter checks the size of its result (:func:`check_built`). The ones whose
result can be far longer than their input are checked before they run: ``center``,
``indent``, ``wordwrap``, ``urlize`` (padding, repeated separators), ``join``, ``replace``,
``format`` (``%`` widths), ``batch``/``slice`` (padding to a count). ``sum`` adds numbers only
(``sum(lists, [])`` copies quadratically inside one C call), ``tojson`` takes no ``indent``
(its output grows with nesting depth), ``pprint`` and the ``lipsum`` global are left out, and
``range`` and ``namespace`` are the bounded ones of :mod:`harness.taskspec.template_budget`.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import Environment
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.utils import pass_environment, pass_eval_context

from harness.taskspec.limits import RANGE_MAX
from harness.taskspec.template_budget import (
    BoundedNamespace,
    TemplateError,
    check_built,
    check_chars,
    check_percent_format,
    text_size,
)

_LEFT_OUT_FILTERS = ("pprint",)
"""Debugging output whose length grows with nesting depth; no prompt needs it."""


def bounded_range(*args: int) -> range:
    """``range()`` of at most :data:`~harness.taskspec.limits.RANGE_MAX` items."""
    items = range(*args)
    try:
        count = len(items)
    except OverflowError:  # more items than a C integer holds
        count = RANGE_MAX + 1
    if count > RANGE_MAX:
        raise TemplateError(f"range() of more than {RANGE_MAX} items (range limit)")
    return items


def bounded_globals() -> dict[str, Any]:
    """Globals replacing jinja's ``range`` and ``namespace`` (``lipsum`` is removed separately)."""
    return {"range": bounded_range, "namespace": BoundedNamespace}


def bounded_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """``filters`` with the growing ones replaced, ``pprint`` left out and every one size-checked."""
    chosen = {name: f for name, f in filters.items() if name not in _LEFT_OUT_FILTERS}
    chosen.update(_REPLACED)
    return {name: _checked(name, f) for name, f in chosen.items()}


def _checked(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """``f``, checking the size of its result (jinja's ``pass_eval_context``-style markers are kept
    by ``functools.wraps``; the time is checked by loops, calls and output, not per filter)."""
    what = f"the {name} filter"

    @functools.wraps(f)
    def checked(*args: Any, **kwargs: Any) -> Any:
        return check_built(f(*args, **kwargs), what)

    return checked


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _center(value: Any, width: int = 80) -> Any:
    check_chars(_count(width), "center")
    return FILTERS["center"](value, width)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> Any:
    text = s if isinstance(s, str) else ""
    pad = len(width) if isinstance(width, str) else _count(width)
    check_chars(len(text) + (text.count("\n") + 1) * pad, "indent")
    return FILTERS["indent"](s, width, first, blank)


@pass_environment
def _wordwrap(environment: Environment, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> Any:
    text = s if isinstance(s, str) else ""
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None) or environment.newline_sequence
    lines = len(text) // max(_count(width), 1) + text.count(" ") + text.count("\n") + 1
    check_chars(len(text) + lines * text_size(wrapstring), "wordwrap")
    return FILTERS["wordwrap"](environment, s, width, *args, **kwargs)


@pass_eval_context
def _urlize(eval_ctx: EvalContext, value: Any, *args: Any, **kwargs: Any) -> Any:
    text = value if isinstance(value, str) else ""
    extra = sum(text_size(v) for v in (*args, *kwargs.values()) if isinstance(v, str))
    check_chars(3 * len(text) + len(text.split()) * (extra + 64), "urlize")
    return FILTERS["urlize"](eval_ctx, value, *args, **kwargs)


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: Any = "", attribute: Any = None) -> Any:
    items = list(value)
    check_chars(sum(text_size(item) for item in items) + len(items) * text_size(d), "join")
    return FILTERS["join"](eval_ctx, items, d, attribute)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
    old_text, new_text = str(old), str(new)
    if len(new_text) > len(old_text):  # only a longer replacement can grow the text
        check_chars(text_size(s), "replace")
        text = str(s)
        found = text.count(old_text) if old_text else len(text) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        check_chars(len(text) + found * (len(new_text) - len(old_text)), "replace")
    return FILTERS["replace"](eval_ctx, s, old, new, count)


def _format(value: Any, *args: Any, **kwargs: Any) -> Any:
    check_chars(text_size(value), "format")
    check_percent_format(str(value), kwargs or args)
    return FILTERS["format"](value, *args, **kwargs)


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    if _count(linecount) > RANGE_MAX:
        raise TemplateError(f"batch of more than {RANGE_MAX} items (range limit)")
    return FILTERS["batch"](value, linecount, fill_with)


def _slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Any:
    if _count(slices) > RANGE_MAX:
        raise TemplateError(f"slice into more than {RANGE_MAX} parts (range limit)")
    return FILTERS["slice"](value, slices, fill_with)


@pass_environment
def _sum(environment: Environment, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    values = list(iterable) if attribute is None else list(map(make_attrgetter(environment, attribute), iterable))
    if not all(isinstance(value, int | float | decimal.Decimal) for value in (*values, start)):
        raise TemplateError("the sum filter adds numbers only in task templates (join text, + lists)")
    return sum(values, start)


@pass_eval_context
def _tojson(eval_ctx: EvalContext, value: Any, indent: Any = None) -> Any:
    if indent is not None:
        raise TemplateError("tojson's indent is not available in task templates (its output grows with nesting)")
    return FILTERS["tojson"](eval_ctx, value)


_REPLACED: dict[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "urlize": _urlize,
    "join": _join,
    "replace": _replace,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
    "sum": _sum,
    "tojson": _tojson,
}
"""Filters checked before they run; each delegates to jinja's own."""
