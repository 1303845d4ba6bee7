"""Discover task and group files, validate them, and resolve ``--tasks`` names.

Built-in files ship in the package (``tasks/`` in the repository); ``--include_path`` adds
folders of user files. Files whose name starts with ``_`` are include-only defaults and are not
indexed. Every file must parse and validate: a broken file is an error, never skipped.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import TaskFileError
from harness.taskspec.schema import GroupSpec, TaskSpec
from harness.taskspec.templates import TemplateError, check_template
from harness.taskspec.yaml_parse import dotted
from harness.taskspec.yaml_source import SourcedDocument, builtin_task_dir, is_file, read_document


@dataclass(frozen=True)
class LoadedTask:
    """A validated task, the file it came from, and (once selected) its meta-task."""

    spec: TaskSpec
    source: Path
    meta_task: str | None = None
    """The meta-task group that lists the task (see :meth:`TaskIndex.meta_task_of`), filled in by
    :meth:`TaskIndex.select`."""


@dataclass(frozen=True)
class LoadedGroup:
    """A validated group and the file it came from."""

    spec: GroupSpec
    source: Path


@dataclass
class Selection:
    """The result of resolving ``--tasks``: leaf tasks in run order, and the groups asked for."""

    tasks: list[LoadedTask] = field(default_factory=list)
    groups: list[LoadedGroup] = field(default_factory=list)


def load_task_file(path: Path, include_roots: Sequence[Path] = ()) -> LoadedTask | LoadedGroup:
    """Parse and validate one task or group file.

    Its includes may read from its own folder, the built-in tasks and ``include_roots`` (the
    ``--include_path`` folders); see :mod:`harness.taskspec.yaml_source`.
    """
    document = read_document(path, include_roots)
    if "group" in document.data:  # a group file lists its members under 'task:', as in lm-eval
        return LoadedGroup(spec=_validate(GroupSpec, document), source=document.path)
    if "task" in document.data:
        spec = _validate(TaskSpec, document)
        _check_templates(spec, document)
        return LoadedTask(spec=spec, source=document.path)
    raise TaskFileError(f"{path}:1: expected a 'task:' or a 'group:' key")


def _validate(model: type[TaskSpec] | type[GroupSpec], document: SourcedDocument) -> Any:
    try:
        return model.model_validate(document.data)
    except ValidationError as error:
        errors = error.errors()
        # A misspelt key is both an unknown key and a missing one: report the typo, where it is.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        key_path = _schema_path(first["loc"])
        where, line = document.locate(key_path)
        shown = dotted(key_path) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key" + _missing_hint(key_path, errors)
        elif first["type"] == "missing":
            message = "required key is missing"
        raise TaskFileError(f"{where}:{line}: {shown}: {message}") from None


def _missing_hint(key_path: tuple[str | int, ...], errors: Sequence[Any]) -> str:
    """``; did you mean 'template'?`` when a required sibling of the unknown key is missing."""
    missing = [
        str(path[-1])
        for path in (_schema_path(e["loc"]) for e in errors if e["type"] == "missing")
        if path[:-1] == key_path[:-1]
    ]
    close = difflib.get_close_matches(str(key_path[-1]), missing, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


_UNION_TAGS = {"relevance": ("first_candidate", "id_template", "ids_template", "candidate_flag", "qrels")}
"""Discriminated-union fields and their tags, which pydantic inserts into error locations."""


def _schema_path(loc: Sequence[Any]) -> tuple[str | int, ...]:
    # Drop a union tag only right after its field: 'candidates.id_template' is a real key.
    path: list[str | int] = []
    for part in loc:
        if not isinstance(part, str | int):
            continue
        if path and part in _UNION_TAGS.get(str(path[-1]), ()):
            continue
        path.append(part)
    return tuple(path)


def _check_templates(spec: TaskSpec, document: SourcedDocument) -> None:
    templates: list[tuple[tuple[str, ...], str]] = [
        (("query", "template"), spec.query.template),
        (("candidates", "template"), spec.candidates.template),
        (("candidates", "id_template"), spec.candidates.id_template),
    ]
    if spec.relevance.kind in ("id_template", "ids_template", "candidate_flag"):
        templates.append((("relevance", "template"), spec.relevance.template))
    if spec.candidates.items_template is not None:
        templates.append((("candidates", "items_template"), spec.candidates.items_template))
    if spec.candidates.folders_template is not None:
        templates.append((("candidates", "folders_template"), spec.candidates.folders_template))
    for key, image_template in (("query", spec.query.image_template), ("candidates", spec.candidates.image_template)):
        if image_template is not None:
            templates.append(((key, "image_template"), image_template))
    if spec.relevance.kind == "qrels":
        templates.append((("relevance", "query_id_template"), spec.relevance.query_id_template))
    tables = [(("dataset",), spec.dataset), (("candidates", "corpus"), spec.candidates.corpus)]
    if spec.relevance.kind == "qrels":
        tables.append((("relevance", "dataset"), spec.relevance.dataset))
    for prefix, table in tables:
        if table is not None and table.keep_template is not None:
            templates.append(((*prefix, "keep_template"), table.keep_template))
    for key, spec_part in (("query", spec.query), ("candidates", spec.candidates)):
        if spec_part.video_template is not None:
            templates.append(((key, "video_template"), spec_part.video_template))
    for key_path, source in templates:
        try:
            check_template(source)
        except TemplateError as error:
            where, line = document.locate(key_path)
            raise TaskFileError(f"{where}:{line}: {'.'.join(key_path)}: {error}") from None


class TaskIndex:
    """Every known task, group and tag, with the file each came from."""

    def __init__(self, include_paths: Sequence[Path] = (), include_builtin: bool = True) -> None:
        self.tasks: dict[str, LoadedTask] = {}
        self.groups: dict[str, LoadedGroup] = {}
        self.tags: dict[str, list[str]] = {}
        self.include_roots: tuple[Path, ...] = tuple(Path(p) for p in include_paths)
        """The ``--include_path`` folders: indexed, and readable by any task file's includes."""
        roots = ([builtin_task_dir()] if include_builtin else []) + list(self.include_roots)
        for root in roots:
            if not root.is_dir():
                raise TaskFileError(f"{root}: --include_path is not a folder")
            for path in sorted(root.rglob("*.yaml")):
                if not path.name.startswith("_"):
                    self.add(self.load(path))

    def load(self, path: Path) -> LoadedTask | LoadedGroup:
        """:func:`load_task_file` with this index's ``--include_path`` folders as include roots."""
        return load_task_file(path, self.include_roots)

    def add(self, loaded: LoadedTask | LoadedGroup) -> None:
        """Register a loaded file; a name defined twice is an error naming both files."""
        name = loaded.spec.task if isinstance(loaded, LoadedTask) else loaded.spec.group
        previous = self.tasks.get(name) or self.groups.get(name)
        if previous is not None and previous.source != loaded.source:
            raise TaskFileError(f"{loaded.source}:1: '{name}' is already defined in {previous.source}")
        if name in self.tags:  # the tag could never be selected (task and group names win)
            raise TaskFileError(f"{loaded.source}:1: '{name}' is also a tag of task '{self.tags[name][0]}'")
        if isinstance(loaded, LoadedTask):
            for tag in loaded.spec.tag:
                _check_tag_is_free(tag, loaded.source, self.tasks, self.groups)
            self.tasks[name] = loaded
            for tag in loaded.spec.tag:
                self.tags.setdefault(tag, []).append(name)
        else:
            self.groups[name] = loaded

    def meta_task_of(self, task: str) -> str | None:
        """The meta-task of ``task``: the one group with ``meta_task: true`` that lists it, or None.

        Group files are the only statement of meta-task membership; a task in two meta-task
        groups is an error naming both files.
        """
        found = [g for g in self.groups.values() if g.spec.meta_task and task in self.expand(g.spec.group)]
        if len(found) > 1:
            files = " and ".join(str(g.source) for g in found)
            raise TaskFileError(f"task '{task}' is in two meta-task groups ({files}); a task has one meta-task")
        return found[0].spec.group if found else None

    def names(self) -> list[str]:
        """All selectable names: tasks, groups and tags."""
        return sorted({*self.tasks, *self.groups, *self.tags})

    def select(self, requested: Iterable[str]) -> Selection:
        """Resolve names (tasks, groups, tags or YAML paths) into leaf tasks and groups."""
        selection = Selection()
        seen_tasks: set[str] = set()
        for name in requested:
            if name.endswith((".yaml", ".yml")) and is_file(Path(name)):
                loaded = self.load(Path(name))
                self.add(loaded)
                name = loaded.spec.task if isinstance(loaded, LoadedTask) else loaded.spec.group
            elif name.endswith((".yaml", ".yml")) and name not in self.names():
                raise TaskFileError(f"{name}: no such task file")
            for task_name in self.expand(name, selection):
                if task_name not in seen_tasks:
                    seen_tasks.add(task_name)
                    selection.tasks.append(replace(self.tasks[task_name], meta_task=self.meta_task_of(task_name)))
        return selection

    def expand(self, name: str, selection: Selection | None = None, chain: tuple[str, ...] = ()) -> list[str]:
        """Leaf task names under ``name``, in definition order; records groups met on the way."""
        if name in chain:
            raise TaskFileError(f"group cycle: {' -> '.join((*chain, name))}")
        if name in self.tasks:
            return [name]
        if name in self.groups:
            group = self.groups[name]
            if selection is not None and group not in selection.groups:
                selection.groups.append(group)
            leaves: list[str] = []
            for member in group.spec.task:
                for leaf in self.expand(member, selection, (*chain, name)):
                    if leaf not in leaves:
                        leaves.append(leaf)
            return leaves
        if name in self.tags:
            return list(self.tags[name])
        raise TaskFileError(self.unknown_name_message(name, chain))

    def unknown_name_message(self, name: str, chain: tuple[str, ...] = ()) -> str:
        """A one-line error for an unknown name, with the closest known names."""
        group = self.groups.get(chain[-1]) if chain else None
        where = f" (member of group '{chain[-1]}' in {group.source})" if group is not None else ""
        by_folded: dict[str, list[str]] = {}
        for known in self.names():
            by_folded.setdefault(known.casefold(), []).append(known)
        # Case-insensitive: 'imagenet-1k' suggests 'ImageNet-1K' first.
        close = list(by_folded.get(name.casefold(), []))
        for folded in difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.5):
            close += [known for known in by_folded[folded] if known not in close]
        close = close[:3]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see `harness tasks`"
        return f"unknown task, group or tag '{name}'{where}{hint}"


def _check_tag_is_free(tag: str, source: Path, tasks: dict[str, LoadedTask], groups: dict[str, LoadedGroup]) -> None:
    """A tag named like a task or group would never be selected (those names win): refuse it."""
    clash = tasks.get(tag) or groups.get(tag)
    if clash is not None:
        raise TaskFileError(f"{source}:1: tag '{tag}' is also the name of a task or group in {clash.source}")
