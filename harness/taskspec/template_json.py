"""The ``fromjson`` and ``dumpjson`` template filters: JSON text inside a row, read and re-written.

MMEB-V3's tool tasks keep JSON as text in their data (a tool's documentation, a query's labels),
and the reference re-writes it with ``json.dumps``: keys in their order, Python's separators,
no HTML escaping, none of which jinja's ``tojson`` gives. Both filters are bounded: the text
read, the text written and the values between them stay within the render limit, and nesting
within :data:`~harness.taskspec.limits.JSON_MAX_DEPTH`.
"""

from __future__ import annotations

import json
from typing import Any

from harness.taskspec.limits import JSON_MAX_DEPTH
from harness.taskspec.template_budget import TemplateError, check_built, check_chars, text_size

_NO_DEFAULT: Any = object()


def fromjson(text: Any, default: Any = _NO_DEFAULT) -> Any:
    """``json.loads(text)``; text that is not valid JSON gives ``default`` when one is given
    (``{{ s | fromjson(default=s) }}`` keeps it as it was, as the reference's ``except`` does)."""
    if not isinstance(text, str):
        raise TemplateError(f"the fromjson filter reads text, got {type(text).__name__}")
    check_chars(len(text), "the fromjson filter")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if default is not _NO_DEFAULT:
            return default
        raise TemplateError(f"the fromjson filter: not valid JSON ({error})") from None
    except RecursionError:
        raise TemplateError(_too_deep("fromjson")) from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise TemplateError(f"the fromjson filter: {' '.join(str(error).split())}") from None
    _check_depth(value, "fromjson")
    return value


def dumpjson(value: Any, sort_keys: bool = False) -> str:
    """``json.dumps(value, ensure_ascii=True, sort_keys=sort_keys)``: Python's separators
    (``", "``, ``": "``), keys in their order unless sorted, no HTML escaping."""
    check_chars(text_size(value), "the dumpjson filter")
    _check_depth(value, "dumpjson")
    try:
        text = json.dumps(value, ensure_ascii=True, sort_keys=bool(sort_keys))
    except (TypeError, ValueError) as error:  # a value JSON has no form for, or a cycle
        raise TemplateError(f"the dumpjson filter: {' '.join(str(error).split())}") from None
    return check_built(text, "the dumpjson filter")


def _check_depth(value: Any, name: str) -> None:
    """Refuse lists and mappings nested deeper than the limit (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > JSON_MAX_DEPTH:
            raise TemplateError(_too_deep(name))
        pending.extend((child, depth + 1) for child in children)


def _too_deep(name: str) -> str:
    return f"the {name} filter: JSON nested more than {JSON_MAX_DEPTH} deep (JSON depth limit)"
