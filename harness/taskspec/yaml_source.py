"""Safe YAML reading with line numbers and ``include:`` resolution.

A task file is read with PyYAML's ``SafeLoader`` only (no object construction), and every key
keeps the file and line it came from, so a validation error can say
``tasks/foo.yaml:12: query.template: ...``. ``include:`` pulls in shared defaults (a path or
a list of paths relative to the including file); included values come first and the including
file's values win, merged recursively for mappings and replaced wholesale for lists. A path
starting with ``harness:`` names a file among the built-in task files, so a user's task can
reuse a built-in parser's templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import TaskFileError

BUILTIN_PREFIX = "harness:"
"""``include: harness:mmeb_v2/image/_image_cls.yaml`` names a file among the built-in tasks."""

Location = tuple[Path, int]
KeyPath = tuple[str | int, ...]


@dataclass
class SourcedDocument:
    """A YAML mapping with includes merged, and where each key was written."""

    data: dict[str, Any]
    locations: dict[KeyPath, Location] = field(default_factory=dict)
    path: Path = Path()

    def locate(self, key_path: KeyPath) -> Location:
        """The deepest known location on ``key_path`` (falls back to the file's first line)."""
        for end in range(len(key_path), 0, -1):
            found = self.locations.get(tuple(key_path[:end]))
            if found is not None:
                return found
        return (self.path, 1)


def read_document(path: Path) -> SourcedDocument:
    """Read ``path`` and everything it includes into one :class:`SourcedDocument`."""
    return _read(path.resolve(), chain=())


def _read(path: Path, chain: tuple[Path, ...]) -> SourcedDocument:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise TaskFileError(f"{chain[-1]}:1: include: include cycle: {cycle}")
    data, locations = _parse(path)
    includes = data.pop("include", None)
    include_line = locations.get(("include",), (path, 1))
    merged = SourcedDocument(data={}, locations={}, path=path)
    for name in _include_list(includes, include_line):
        target = _include_target(path, name)
        if target in (*chain, path):  # name the include line that closes the cycle
            cycle = " -> ".join(str(p) for p in (*chain, path, target))
            raise TaskFileError(f"{include_line[0]}:{include_line[1]}: include: include cycle: {cycle}")
        if not target.is_file():
            raise TaskFileError(f"{include_line[0]}:{include_line[1]}: include: no such file '{name}'")
        _merge(merged, _read(target, (*chain, path)))
    own = SourcedDocument(data=data, locations=locations, path=path)
    _merge(merged, own)
    return merged


def _include_target(including: Path, name: str) -> Path:
    """``name`` relative to the including file, or ``harness:<path>`` inside the built-in tasks."""
    if name.startswith(BUILTIN_PREFIX):
        from importlib import resources

        builtin = Path(str(resources.files("harness.builtin_tasks")))
        return (builtin / name.removeprefix(BUILTIN_PREFIX)).resolve()
    return (including.parent / name).resolve()


def _include_list(value: Any, where: Location) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TaskFileError(f"{where[0]}:{where[1]}: include: expected a path or a list of paths")


def _parse(path: Path) -> tuple[dict[str, Any], dict[KeyPath, Location]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(f"{path}:1: cannot read file: {error}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise TaskFileError(f"{path}:{line}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise TaskFileError(f"{path}:1: expected a mapping of keys (task:, dataset:, ...) at top level")
    locations: dict[KeyPath, Location] = {}
    _collect_locations(node, (), path, locations)
    return data, locations


def _collect_locations(
    node: yaml.Node, prefix: KeyPath, path: Path, out: dict[KeyPath, Location]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join(str(p) for p in (*prefix, key))
                raise TaskFileError(f"{path}:{line}: {dotted}: duplicate key")
            seen.add(key)
            out[(*prefix, key)] = (path, line)
            _collect_locations(value_node, (*prefix, key), path, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*prefix, index)] = (path, item.start_mark.line + 1)
            _collect_locations(item, (*prefix, index), path, out)


def _merge(base: SourcedDocument, over: SourcedDocument) -> None:
    """Merge ``over`` into ``base`` in place: mappings recursively, everything else replaced."""
    _merge_values(base.data, over.data, (), base.locations, over.locations)
    base.path = over.path


def _merge_values(
    base: dict[str, Any],
    over: dict[str, Any],
    prefix: KeyPath,
    base_locs: dict[KeyPath, Location],
    over_locs: dict[KeyPath, Location],
) -> None:
    for key, value in over.items():
        key_path = (*prefix, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge_values(base[key], value, key_path, base_locs, over_locs)
            base_locs[key_path] = over_locs.get(key_path, base_locs.get(key_path, (Path(), 1)))
            continue
        base[key] = value
        for stale in [p for p in base_locs if p[: len(key_path)] == key_path]:
            del base_locs[stale]
        for loc_path, loc in over_locs.items():
            if loc_path[: len(key_path)] == key_path:
                base_locs[loc_path] = loc
