"""What one template render may still spend, and the size checks every guard shares.

A render gets a :class:`RenderBudget` (time, loop steps, call depth, characters produced) for
its duration; the sandbox's hooks draw on it. Sizes are checked *before* an operation that can
multiply its input (``'x' * n``, ``center(n)``, ``'%*s'``, ``sep.join(items)``), because one
such C-level operation cannot be interrupted once it runs; anything else is checked on its
result with :func:`check_built`. The limits themselves are in :mod:`harness.taskspec.limits`.
"""

from __future__ import annotations

import math
import re
import string
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from jinja2.utils import Namespace

from harness.taskspec.limits import (
    CALL_MAX_DEPTH,
    INT_MAX_BITS,
    LOOP_MAX_ITERATIONS,
    RENDER_MAX_CHARS,
    RENDER_OUTPUT_MAX_CHARS,
    RENDER_TIME_LIMIT_S,
)


class TemplateError(ValueError):
    """A template failed to compile or render; the message says why in one line."""


def over_limit(what: str) -> TemplateError:
    """The error for a value that would be too long: ``<what> would exceed N characters (render limit)``."""
    return TemplateError(f"{what} would exceed {RENDER_MAX_CHARS} characters (render limit)")


@dataclass(slots=True)
class RenderBudget:
    """What is left to one render; every guard that runs during the render draws on it."""

    deadline: float = field(default_factory=lambda: time.monotonic() + RENDER_TIME_LIMIT_S)
    chars_left: int = RENDER_OUTPUT_MAX_CHARS
    loop_steps_left: int = LOOP_MAX_ITERATIONS
    depth: int = 0

    def tick(self) -> None:
        """Raise once the render has run past its time limit."""
        if time.monotonic() > self.deadline:
            raise TemplateError(f"template rendering took more than {RENDER_TIME_LIMIT_S:g} s (time limit)")

    def steps(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable``, counting each ``{% for %}`` step against the loop limit (and the time
        limit, every 16 steps: the loop body's own output and calls check it too)."""
        for item in iterable:
            self.loop_steps_left -= 1
            if self.loop_steps_left < 0:
                raise TemplateError(f"template loops ran more than {LOOP_MAX_ITERATIONS} iterations (loop limit)")
            if not self.loop_steps_left & 15:
                self.tick()
            yield item

    def produce(self, chars: int) -> None:
        """Count ``chars`` characters of output or captured text."""
        self.chars_left -= chars
        if self.chars_left < 0:
            raise TemplateError(f"template output exceeds {RENDER_OUTPUT_MAX_CHARS} characters (output limit)")
        self.tick()

    def enter_call(self) -> None:
        """One more level of nested calls; pair with :meth:`leave_call`."""
        self.tick()
        if self.depth >= CALL_MAX_DEPTH:
            raise TemplateError(f"template calls nest deeper than {CALL_MAX_DEPTH} levels (call depth limit)")
        self.depth += 1

    def leave_call(self) -> None:
        """Back out of one level of nested calls."""
        self.depth -= 1


_ACTIVE: ContextVar[RenderBudget | None] = ContextVar("harness_render_budget", default=None)


def begin_render() -> tuple[RenderBudget, Token[RenderBudget | None]]:
    """A fresh budget, active for :func:`active_budget` until :func:`end_render` with the token."""
    budget = RenderBudget()
    return budget, _ACTIVE.set(budget)


def end_render(token: Token[RenderBudget | None]) -> None:
    """Deactivate the budget of :func:`begin_render`."""
    _ACTIVE.reset(token)


def active_budget() -> RenderBudget:
    """The budget of the render in progress (a fresh one when called outside a render, e.g. while
    jinja folds constants at compile time, so a guard never depends on being inside one)."""
    budget = _ACTIVE.get()
    return budget if budget is not None else RenderBudget()


# --- sizes ---------------------------------------------------------------------------------------


_TEXT = (str, bytes, bytearray)
_SEQUENCES = (list, tuple, set, frozenset)
_SHORT_SIZES = {bool: 5, type(None): 5, float: 24, range: 32}
"""Text lengths of values whose text is short whatever they hold."""


def text_size(value: Any, limit: int = RENDER_MAX_CHARS) -> int:
    """About how many characters ``str(value)`` has (lists and mappings walked, no text built),
    counting up to just past ``limit`` and no further, so a huge value costs little to measure."""
    if type(value) in _TEXT:
        return len(value)
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        kind = type(item)
        if kind in _TEXT:
            total += len(item) + 4  # quotes and a separator
        elif kind is int:
            total += item.bit_length() * 3 // 10 + 3
        elif kind in _SEQUENCES:
            total += 2 + 2 * len(item)
            pending.extend(item)
        elif kind is dict:
            total += 2 + 2 * len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += _other_size(item, pending)
    return total


def _other_size(item: Any, pending: list[Any]) -> int:
    """:func:`text_size`'s rule for types other than the built-in containers and text."""
    if type(item) in _SHORT_SIZES:
        return _SHORT_SIZES[type(item)]
    if isinstance(item, BoundedNamespace):  # before the ABCs: attribute access reads its attributes
        return BoundedNamespace.size(item)
    if isinstance(item, _TEXT):  # subclasses, e.g. Markup
        return len(item) + 4
    if isinstance(item, int):
        return item.bit_length() * 3 // 10 + 3
    if isinstance(item, Mapping):
        pending.extend(item.keys())
        pending.extend(item.values())
        return 2 + 2 * len(item)
    if isinstance(item, Collection):
        pending.extend(item)
        return 2 + 2 * len(item)
    return 64  # jinja's loop, cycler, macro objects, dates, generators: short texts


def check_chars(size: int, what: str) -> None:
    """Refuse ``what`` if it would make a value of more than the render limit."""
    if size > RENDER_MAX_CHARS:
        raise over_limit(what)


def check_built(value: Any, what: str = "a template value") -> Any:
    """Return ``value`` if it is within the render limit as text (or as a count of items)."""
    kind = type(value)
    if kind is str:  # the common case, kept cheap
        if len(value) > RENDER_MAX_CHARS:
            raise over_limit(what)
    elif kind in _SHORT_SIZES or kind is int:
        pass
    elif kind in _SEQUENCES or kind is dict or isinstance(value, BoundedNamespace | Collection | Mapping):
        check_chars(text_size(value), what)
    return value


class BoundedNamespace(Namespace):
    """jinja's ``namespace()`` whose attributes, together, stay within the render limit as text
    (its text shows them all, so a hundred attributes each holding a long list would not)."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # Namespace's own signature: (self, *args, **kwargs)
        self = args[0]
        Namespace.__init__(*args, **kwargs)
        initial = dict(*args[1:], **kwargs)
        object.__setattr__(self, "_sizes", {name: text_size(value) + len(name) for name, value in initial.items()})
        check_chars(BoundedNamespace.size(self), "namespace")

    def __setitem__(self, name: str, value: Any) -> None:
        sizes: dict[str, int] = object.__getattribute__(self, "_sizes")
        size = text_size(value) + len(name)
        check_chars(BoundedNamespace.size(self) - sizes.get(name, 0) + size, "namespace")
        super().__setitem__(name, value)
        sizes[name] = size

    @staticmethod
    def size(namespace: BoundedNamespace) -> int:
        """About the length of the namespace's text (attribute access would read its attributes)."""
        return 16 + sum(object.__getattribute__(namespace, "_sizes").values())


def check_int_bits(bits: float, what: str) -> None:
    """Refuse an integer result of more than :data:`~harness.taskspec.limits.INT_MAX_BITS` bits."""
    if bits > INT_MAX_BITS:
        raise TemplateError(f"{what} would give an integer of more than {INT_MAX_BITS} bits (integer limit)")


def power_bits(base: int, exponent: int) -> float:
    """Bits of ``base ** exponent`` for a non-negative ``exponent`` (0 for 0, 1 and -1)."""
    if abs(base) <= 1:
        return 0.0
    return exponent * math.log2(abs(base))


# --- string formatting ---------------------------------------------------------------------------

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?[diouxXeEfFgGcrsab%]")
"""One %-conversion: the groups are its width and precision (digits, ``*`` or empty)."""


def _spec_number(digits: str) -> int:
    # int() of thousands of digits is itself refused by Python; anything this long is too wide.
    return int(digits) if len(digits) <= 9 else RENDER_MAX_CHARS + 1


def _widest(values: list[Any]) -> int:
    return max((text_size(value) for value in values), default=0)


def check_percent_format(text: Any, args: Any) -> None:
    """Refuse ``text % args`` when its widths, precisions and arguments would make it too long."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("latin-1")  # same length, same conversions
    if not isinstance(text, str):
        return
    fields = _PERCENT_FIELD.findall(text)
    if any("*" in part for spec in fields for part in spec):
        raise TemplateError("'*' widths in %-formatting are not allowed in task templates (format limit)")
    padding = sum(_spec_number(part) for spec in fields for part in spec if part)
    values = list(args.values()) if isinstance(args, Mapping) else list(args) if isinstance(args, tuple) else [args]
    check_chars(len(text) + padding + len(fields) * _widest(values), "%-formatting")


def check_brace_format(text: str, values: list[Any]) -> None:
    """Refuse ``text.format(...)`` when its widths, precisions and arguments would make it too long."""
    padding = 0
    fields = 0
    for _literal, name, spec, _conversion in string.Formatter().parse(text):
        if name is None:
            continue
        fields += 1
        if spec and "{" in spec:
            raise TemplateError("nested {} fields in a format spec are not allowed in task templates (format limit)")
        padding += sum(_spec_number(number) for number in re.findall(r"\d+", spec or ""))
    check_chars(len(text) + padding + fields * _widest(values), "str.format")


# --- methods of plain values that can multiply their input ---------------------------------------


def _width(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str = "width") -> int:
    value = args[0] if args else kwargs.get(name, 0)
    return value if isinstance(value, int) else 0


def _replace_size(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    kind = str if isinstance(text, str) else (bytes, bytearray)
    if len(args) < 2 or not isinstance(args[0], kind) or not isinstance(args[1], kind):
        return len(text)  # the method itself refuses the call
    old, new = args[0], args[1]
    count = args[2] if len(args) > 2 else kwargs.get("count", -1)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _expandtabs_size(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    tab = "\t" if isinstance(text, str) else b"\t"
    tabsize = args[0] if args else kwargs.get("tabsize", 8)
    return len(text) + text.count(tab) * (tabsize if isinstance(tabsize, int) else 0)


def _join_size(separator: Any, items: list[Any]) -> int:
    return sum(len(item) if isinstance(item, str | bytes) else 0 for item in items) + len(separator) * len(items)


def _translate_size(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    table = args[0] if args else kwargs.get("table")
    if not isinstance(table, Mapping):
        return len(text)  # a str or bytes table maps one character to one
    longest = max((len(v) for v in table.values() if isinstance(v, str | bytes)), default=1)
    return len(text) * max(longest, 1)


_GROWTH: dict[str, Callable[[Any, tuple[Any, ...], Mapping[str, Any]], int]] = {
    "center": lambda text, args, kwargs: _width(args, kwargs),
    "ljust": lambda text, args, kwargs: _width(args, kwargs),
    "rjust": lambda text, args, kwargs: _width(args, kwargs),
    "zfill": lambda text, args, kwargs: _width(args, kwargs),
    "expandtabs": _expandtabs_size,
    "replace": _replace_size,
    "translate": _translate_size,
}
"""Result length of each ``str``/``bytes`` method whose result can be much longer than its
input; every other method's result is at most a few times its input (``upper``, ``encode``)."""


def check_method_call(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a ``str``/``bytes``/``int`` method that would build too much; returns
    ``args``, with a ``join``'s iterable made a list (it is measured, then joined).

    jinja's sandbox hands out ``str.format`` wrapped (``__wrapped__`` is the method itself).
    """
    method = getattr(method, "__wrapped__", method)
    owner = getattr(method, "__self__", None)
    if isinstance(owner, str | bytes | bytearray):
        name = method.__name__
        if name == "join" and args:
            items = list(args[0])
            check_chars(_join_size(owner, items), "join")
            return (items, *args[1:])
        if name in ("format", "format_map") and isinstance(owner, str):
            mapping = args[0] if name == "format_map" and args and isinstance(args[0], Mapping) else {}
            check_brace_format(owner, [*args, *kwargs.values(), *mapping.values()])
        growth = _GROWTH.get(name)
        if growth is not None:
            check_chars(growth(owner, args, kwargs), name)
    elif isinstance(owner, int) and method.__name__ == "to_bytes":
        check_chars(_width(args, kwargs, "length"), "to_bytes")
    return args
