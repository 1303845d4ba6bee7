"""Task files with their ``include:`` files merged, and where each key was written.

``include:`` pulls in shared defaults (a path or a list of paths relative to the including
file); included values come first and the including file's values win, merged recursively for
mappings and replaced wholesale for lists. A path starting with ``harness:`` names a file among
the built-in task files, so a user's task can reuse a built-in parser's templates.

Where an include may point: task files come from strangers, so an include never reads an
arbitrary file. After resolving symlinks (``Path.resolve``), every include target, however deeply
nested, must lie inside one of

- the folder of the task file being loaded (the top-level file, not the including one), and
  everything below it;
- the built-in tasks folder (``harness:<path>`` must stay inside it; built-in parsers include
  their siblings);
- an ``--include_path`` root (``include_roots``).

An absolute path is refused even when it points inside one of them (task files are shared, so
their includes are relative). The error names the include line and the path as written, never
anything read from the target. Each file is parsed within the bounds of
:mod:`harness.taskspec.yaml_parse`, and one task file with all its includes shares one budget
of bytes, nodes and :data:`~harness.taskspec.limits.INCLUDE_MAX_FILES` files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.errors import TaskFileError
from harness.taskspec.limits import INCLUDE_MAX_FILES
from harness.taskspec.yaml_parse import KeyPath, Location, ParseBudget, parse_file

BUILTIN_PREFIX = "harness:"
"""``include: harness:mmeb_v2/image/_image_cls.yaml`` names a file among the built-in tasks."""

ALLOWED_FOLDERS = "the loaded task file's folder, the built-in tasks, --include_path"
"""The folders an include may read from, in words (see the module docstring for the rule)."""


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


@dataclass
class _Reading:
    """One top-level read: the folders includes may use and what is left of the budget."""

    roots: tuple[Path, ...]
    builtin: Path
    budget: ParseBudget = field(default_factory=ParseBudget)
    files_left: int = INCLUDE_MAX_FILES


def builtin_task_dir() -> Path:
    """The folder of task files shipped with the package."""
    return Path(str(resources.files("harness.builtin_tasks")))


def read_document(path: Path, include_roots: Sequence[Path] = ()) -> SourcedDocument:
    """Read ``path`` and everything it includes into one :class:`SourcedDocument`.

    Includes may read from ``path``'s folder, the built-in tasks and ``include_roots``.
    """
    top = path.resolve()
    builtin = builtin_task_dir().resolve()
    roots = (top.parent, builtin, *(Path(root).resolve() for root in include_roots))
    return _read(top, chain=(), reading=_Reading(roots=roots, builtin=builtin))


def _read(path: Path, chain: tuple[Path, ...], reading: _Reading) -> SourcedDocument:
    reading.files_left -= 1
    if reading.files_left < 0:
        top = chain[0] if chain else path
        raise TaskFileError(f"{top}:1: include: more than {INCLUDE_MAX_FILES} files read (include limit)")
    data, locations = parse_file(path, reading.budget)
    includes = data.pop("include", None)
    include_line = locations.get(("include",), (path, 1))
    merged = SourcedDocument(data={}, locations={}, path=path)
    for index, name in enumerate(_include_list(includes, include_line)):
        where = locations.get(("include", index), include_line) if isinstance(includes, list) else include_line
        target = _include_target(path, name, where, reading)
        if target in (*chain, path):  # name the include line that closes the cycle
            cycle = " -> ".join(str(p) for p in (*chain, path, target))
            raise TaskFileError(f"{where[0]}:{where[1]}: include: include cycle: {cycle}")
        if not is_file(target):
            raise TaskFileError(f"{where[0]}:{where[1]}: include: no such file '{name}'")
        _merge(merged, _read(target, (*chain, path), reading))
    own = SourcedDocument(data=data, locations=locations, path=path)
    _merge(merged, own)
    return merged


def _include_target(including: Path, name: str, where: Location, reading: _Reading) -> Path:
    """``name`` relative to the including file, or ``harness:<path>`` inside the built-in tasks;
    refused unless it resolves inside an allowed folder."""
    prefix = f"{where[0]}:{where[1]}: include: {name!r}"
    if name.startswith(BUILTIN_PREFIX):
        target = _resolved(reading.builtin / name.removeprefix(BUILTIN_PREFIX), prefix)
        if not target.is_relative_to(reading.builtin):
            raise TaskFileError(f"{prefix} is outside the built-in tasks folder")
        return target
    target = _resolved(including.parent / name, prefix)
    if not any(target.is_relative_to(root) for root in reading.roots):
        raise TaskFileError(f"{prefix} is outside the allowed folders ({ALLOWED_FOLDERS})")
    if Path(name).is_absolute():
        raise TaskFileError(f"{prefix} must be a relative path (or harness:<path> for a built-in file)")
    return target


def _resolved(path: Path, prefix: str) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError) as error:  # a NUL byte, a symlink loop
        raise TaskFileError(f"{prefix} is not a usable path: {error}") from None


def is_file(path: Path) -> bool:
    """``path.is_file()``, but ``False`` for names the OS refuses (a NUL byte, too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _include_list(value: Any, where: Location) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TaskFileError(f"{where[0]}:{where[1]}: include: expected a path or a list of paths")


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
