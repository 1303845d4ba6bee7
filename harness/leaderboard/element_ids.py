"""Element ids for the site, derived from entry keys so that no key can break out of one.

A modality or meta-task name becomes part of an ``id`` or ``data-name`` that the page's script
looks elements up by (``table-<modality>``, ``#sort=<table>:<column>:asc``). The id is the name
itself when it is already a plain id (letters and digits in hyphen-separated runs, as
``image`` or ``I-CLS``), so the documented URLs keep working; any other name becomes a
lowercase slug plus ``--`` and a hash of the name. Plain ids never contain ``--``, hashed ones
always do, and a clash (a hash collision, or a name given twice) gets a numbered suffix, so two
different names never share an id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_PLAIN = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LONGEST_PLAIN = 64
_SLUG_LENGTH = 32
_HASH_LENGTH = 10


def element_ids(names: Iterable[str]) -> list[str]:
    """One distinct id per name, in order; an earlier name keeps its plain id when a later one clashes."""
    used: set[str] = set()
    ids: list[str] = []
    for name in names:
        plain = _PLAIN.fullmatch(name) is not None and len(name) <= _LONGEST_PLAIN
        candidate = name if plain and name not in used else hashed_id(name)
        unique, number = candidate, 2
        while unique in used:
            unique, number = f"{candidate}-{number}", number + 1
        used.add(unique)
        ids.append(unique)
    return ids


def hashed_id(name: str) -> str:
    """``<lowercase slug>--<hash>``: only ``[a-z0-9-]``, stable for a name across builds."""
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:_SLUG_LENGTH].strip("-") or "x"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LENGTH]
    return f"{slug}--{digest}"
