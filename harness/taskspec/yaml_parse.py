"""Parse one task file's YAML within fixed bounds, keeping the line of every key.

PyYAML's ``SafeLoader`` builds no Python objects beyond plain data, but it does not bound what a
file may cost: aliases expand a few hundred bytes into gigabytes ("billion laughs"), and deep
nesting makes its recursive composer overflow the stack (and its scanner slow down with the
square of the depth). So the composer here refuses anchors and aliases outright, counts nodes
and nesting depth as it goes (never recursing past :data:`~harness.taskspec.limits.YAML_MAX_DEPTH`),
and the bytes read are capped before parsing starts; the limits live in
:mod:`harness.taskspec.limits`. One pass composes the node tree and the data is constructed
from that same tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import TaskFileError
from harness.taskspec.limits import YAML_MAX_BYTES, YAML_MAX_DEPTH, YAML_MAX_NODES


class PythonEvents(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python reader, scanner and parser as one source of events (what libyaml's
    ``CParser`` is), for a PyYAML built without libyaml."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


try:  # libyaml's scanner and parser (bundled with PyYAML's wheels): about six times faster
    from yaml._yaml import CParser as _EventParser
except ImportError:  # the same events, from Python
    _EventParser = PythonEvents  # type: ignore[misc,assignment]

Location = tuple[Path, int]
KeyPath = tuple[str | int, ...]

ALIASES_REFUSED = "YAML anchors and aliases are not allowed in task files"
"""The error for ``&anchor``, ``*alias`` and ``<<: *alias`` (the merge key is an alias too)."""


@dataclass
class ParseBudget:
    """What is left to read for one task file and its includes (shared across the includes)."""

    bytes_left: int = YAML_MAX_BYTES
    nodes_left: int = YAML_MAX_NODES


def parse_file(path: Path, budget: ParseBudget) -> tuple[dict[str, Any], dict[KeyPath, Location]]:
    """The top-level mapping of ``path`` and the line of every key and list item in it."""
    text = _read_text(path, budget)
    try:
        loader = _BoundedLoader(text, path, budget)  # the reader checks for control characters here
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise TaskFileError(_yaml_error_message(path, text, error)) from None
    if not isinstance(data, dict) or node is None:
        raise TaskFileError(f"{path}:1: expected a mapping of keys (task:, dataset:, ...) at top level")
    locations: dict[KeyPath, Location] = {}
    _collect_locations(node, (), path, locations)
    return data, locations


def _read_text(path: Path, budget: ParseBudget) -> str:
    """The file's text, refusing before reading more than the bytes left in ``budget``."""
    try:
        with path.open("rb") as file:
            raw = file.read(budget.bytes_left + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(f"{path}:1: cannot read file: {_one_line(str(error))}") from None
    if len(raw) > budget.bytes_left:
        raise TaskFileError(
            f"{path}:1: task file and its includes exceed {YAML_MAX_BYTES} bytes of YAML (file size limit)"
        )
    budget.bytes_left -= len(raw)
    return text


class _BoundedLoader(yaml.composer.Composer, _EventParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """``SafeLoader``'s parts (safe constructor and resolver), with libyaml's event parser where
    PyYAML has it, and a composer (in Python, so that it can be bounded) that refuses aliases and
    counts nodes and depth."""

    def __init__(self, text: str, path: Path, budget: ParseBudget) -> None:
        _EventParser.__init__(self, text)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        yaml.composer.Composer.__init__(self)
        self._path = path
        self._budget = budget
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        mark = event.start_mark if event is not None else None
        line = mark.line + 1 if mark is not None else 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise TaskFileError(f"{self._path}:{line}: {ALIASES_REFUSED}")
        self._budget.nodes_left -= 1
        if self._budget.nodes_left < 0:
            raise TaskFileError(
                f"{self._path}:{line}: task file and its includes have more than {YAML_MAX_NODES} "
                "YAML values (node limit)"
            )
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > YAML_MAX_DEPTH:
            raise TaskFileError(f"{self._path}:{line}: {_depth_error()}")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as error:  # e.g. a timestamp 2001-13-45
            line = node.start_mark.line + 1
            raise TaskFileError(f"{self._path}:{line}: malformed YAML: {_one_line(str(error))}") from None


def _yaml_error_message(path: Path, text: str, error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.reader.ReaderError):  # a control character; it has a position, no mark
        line = text.count("\n", 0, error.position) + 1
        return f"{path}:{line}: malformed YAML: unacceptable character #x{error.character:04x}: {error.reason}"
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(error, "problem", None) or str(error)
    if problem == _LIBYAML_DEPTH_PROBLEM:  # libyaml's own bound (1,000 levels) met before ours
        return f"{path}:{line}: {_depth_error()}"
    return f"{path}:{line}: malformed YAML: {_one_line(problem)}"


_LIBYAML_DEPTH_PROBLEM = "exceeded maximum nesting depth"
"""libyaml's message for nesting past its limit; its scanner can look that far ahead of our composer."""


def _depth_error() -> str:
    return f"YAML nests deeper than {YAML_MAX_DEPTH} levels (depth limit)"


def _one_line(message: str) -> str:
    return " ".join(message.split())


def dotted(key_path: KeyPath) -> str:
    """``query.template`` for a key path, on one line: odd or very long keys are quoted and cut."""
    return ".".join(_shown_key(part) for part in key_path)


def _shown_key(part: str | int) -> str:
    text = str(part)
    if isinstance(part, int) or (len(text) <= 80 and text.isprintable()):
        return text
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _collect_locations(node: yaml.Node, prefix: KeyPath, path: Path, out: dict[KeyPath, Location]) -> None:
    # Recursion is bounded: the composer refused anything deeper than YAML_MAX_DEPTH.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise TaskFileError(f"{path}:{line}: {dotted((*prefix, key))}: duplicate key")
            seen.add(key)
            out[(*prefix, key)] = (path, line)
            _collect_locations(value_node, (*prefix, key), path, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*prefix, index)] = (path, item.start_mark.line + 1)
            _collect_locations(item, (*prefix, index), path, out)
