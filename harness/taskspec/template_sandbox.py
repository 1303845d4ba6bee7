"""jinja2's immutable sandbox, bounded: no template can run long or build much.

The stock ``ImmutableSandboxedEnvironment`` stops attribute tricks and mutation, not work:
``{% for i in range(10**5) %}{% for j in range(10**5) %}`` runs for hours and ``'a' * 10**9``
allocates a gigabyte. :class:`BoundedEnvironment` adds, on top of it:

- operators: ``*``, ``**``, ``+`` and ``%`` are intercepted (so never folded at compile time)
  and refused before they run when the result would be too large;
- compiled code: every ``{% for %}`` counts its steps, every ``~`` and every list, tuple or
  dict literal is size-checked (through guard filters), and every capture buffer
  (``{% set %}...{% endset %}``, ``{% filter %}``, macro bodies) counts what is written to it;
- filters and globals: those of :mod:`harness.taskspec.template_filters`;
- calls: methods that multiply their input are checked before they run (``center``,
  ``join``, ``replace``, ``str.format``), every result after; a call that runs template code
  again (a macro, ``caller``, a recursive loop) counts time and nesting depth; methods may
  only be called on plain values (text, numbers, lists, mappings, dates) and jinja's own
  loop, namespace and cycler objects, so a rich object in a row (a decoded image) cannot be
  asked to do work;
- ``{% block %}``, ``{% extends %}``, ``{% include %}`` and ``{% import %}`` are refused: a task
  template is one string, and a block called through ``self`` would escape the output count.

The budget each render draws on is in :mod:`harness.taskspec.template_budget`, the limits in
:mod:`harness.taskspec.limits`.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Namespace, pass_eval_context
from jinja2.visitor import NodeTransformer

from harness.taskspec.limits import RENDER_MAX_CHARS
from harness.taskspec.template_budget import (
    TemplateError,
    active_budget,
    check_built,
    check_chars,
    check_int_bits,
    check_method_call,
    check_percent_format,
    power_bits,
    text_size,
)
from harness.taskspec.template_filters import bounded_filters, bounded_globals

_PLAIN_TYPES = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    list,
    tuple,
    dict,
    set,
    frozenset,
    range,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    LoopContext,
    Namespace,
    Cycler,
    Macro,
)
"""Values whose methods a template may call."""

_REFUSED_TAGS = {
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
}


class _CountingBuffer(list[str]):
    """A capture buffer: text appended to it counts against the render's output limit (an
    empty piece counts as one character, so the pieces held stay bounded too). Kept lean: the
    compiled code calls it for every piece of captured output."""

    __slots__ = ("budget",)

    def __init__(self) -> None:
        self.budget = active_budget()

    def append(self, chunk: str) -> None:
        self.budget.produce(len(chunk) or 1)
        list.append(self, chunk)

    def extend(self, chunks: Iterable[str]) -> None:
        if type(chunks) is not tuple:  # the compiled code passes a tuple
            chunks = tuple(chunks)
        self.budget.produce(sum(map(len, chunks)) + chunks.count(""))
        list.extend(self, chunks)


def _check_multiply(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        check_int_bits(left.bit_length() + right.bit_length(), "'*'")
        return
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(count, int) and isinstance(sequence, str | bytes | list | tuple) and count > 0:
        check_chars(text_size(sequence) * count, "'*'")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        check_int_bits(power_bits(base, exponent), "'**'")


def _check_add(left: Any, right: Any) -> None:
    if isinstance(left, str | bytes) and isinstance(right, str | bytes):
        check_chars(len(left) + len(right), "'+'")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):  # what else '+' joins
        check_chars(text_size(left) + text_size(right), "'+'")


_LOOP_GUARD, _CONCAT_GUARD, _VALUE_GUARD = "harness-loop", "harness-concat", "harness-value"
"""Filters the compiled code routes loops, ``~`` and literals through. A filter compiles to a
direct call (the sandbox's :meth:`BoundedEnvironment.call` would cost every loop and literal
twice), and a name with ``-`` cannot be written in a template."""


class _Bounding(NodeTransformer):
    """Routes loops, ``~`` and literals of a parsed template through the guard filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guard(_LOOP_GUARD, node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guard(_CONCAT_GUARD, nodes.Tuple(list(node.nodes), "load", lineno=node.lineno))

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._literal(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._literal(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._literal(node) if node.ctx == "load" else self.generic_visit(node)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return _guard(_VALUE_GUARD, node)


def _guard(name: str, value: nodes.Node) -> nodes.Filter:
    return nodes.Filter(value, name, [], [], None, None, lineno=value.lineno)


def _bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """``iterable``, counting each step against the loop and time limits."""
    return active_budget().steps(iterable)


@pass_eval_context
def _bounded_concat(eval_ctx: EvalContext, parts: tuple[Any, ...]) -> str:
    """``a ~ b ~ c``, refused before joining when the text would be too long."""
    check_chars(sum(text_size(part) for part in parts), "'~'")
    return str((markup_join if eval_ctx.autoescape else str_join)(parts))


def _built_value(value: Any) -> Any:
    """A list, tuple or dict literal, refused when too long as text."""
    return check_built(value, "a list or dict literal")


_GUARDS = {_LOOP_GUARD: _bounded_loop, _CONCAT_GUARD: _bounded_concat, _VALUE_GUARD: _built_value}


class _BoundingCodeGenerator(CodeGenerator):
    """jinja's code generator, compiling the guarded tree and counting capture buffers."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for kind, tag in _REFUSED_TAGS.items():
            found = node.find(kind)
            if found is not None:
                raise TemplateError(f"{tag} is not available in task templates (template line {found.lineno})")
        _Bounding().visit(node)
        super().visit_Template(node, frame)

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.capture_buffer()")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every operation bounded in time and size (see the module)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundingCodeGenerator

    def __init__(self, filters: Mapping[str, Callable[..., Any]] | None = None, **options: Any) -> None:
        """``options`` as for jinja's ``Environment``; ``filters`` are added to jinja's own.
        All of them are bounded; ``range`` and ``namespace`` are bounded and ``lipsum`` removed."""
        super().__init__(**options)
        self.filters = {**bounded_filters({**self.filters, **(filters or {})}), **_GUARDS}
        self.globals.pop("lipsum", None)  # lorem ipsum of any length: no prompt needs it
        self.globals.update(bounded_globals())

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would exceed a limit, then apply them."""
        if operator_name == "*":
            _check_multiply(left, right)
        elif operator_name == "**":
            _check_power(left, right)
        elif operator_name == "+":
            _check_add(left, right)
        elif operator_name == "%":
            check_percent_format(left, right)
        return self.binop_table[operator_name](left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``obj`` from a template: size checked before and after; a call that runs template
        code again (a macro, ``caller``, a recursive ``loop``) also counts time and depth."""
        if isinstance(obj, Macro | LoopContext):
            return self._call_template_code(context, obj, args, kwargs)
        args = check_method_call(obj, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        if type(result) is str and len(result) <= RENDER_MAX_CHARS or _looked_up(obj, args, result):
            return result
        return check_built(result, f"{getattr(obj, '__name__', 'call')}()")

    def _call_template_code(self, context: Context, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        budget = active_budget()
        if isinstance(obj, LoopContext) and args:  # loop(children) of a recursive loop
            args = (budget.steps(args[0]), *args[1:])
        budget.enter_call()
        try:
            result = super().call(context, obj, *args, **kwargs)
        finally:
            budget.leave_call()
        return check_built(result, "a macro or loop call")

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rule, and methods only of plain values (see ``_PLAIN_TYPES``)."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        return not callable(value) or isinstance(obj, _PLAIN_TYPES)

    def capture_buffer(self) -> list[str]:
        """The buffer of ``{% set %}``/``{% filter %}`` blocks and macro bodies, counting its text."""
        return _CountingBuffer()


def _looked_up(method: Any, args: tuple[Any, ...], result: Any) -> bool:
    """True when ``result`` is a value the call only looked up, nothing built: a mapping's
    ``get`` returning the value it holds under the key (or the default passed). A row's long
    document (``row.get('text')``) passes through whole; what a template builds stays bounded."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, Mapping) or getattr(method, "__name__", "") != "get" or not args:
        return False
    key = args[0]
    try:
        held = owner[key] if key in owner else (args[1] if len(args) > 1 else None)
    except TypeError:  # an unhashable key
        return False
    return held is result
