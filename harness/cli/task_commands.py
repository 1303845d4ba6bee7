"""``harness tasks``, ``harness validate`` and ``harness models``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.cli import add_common_flags, add_media_flags, positive_int
from harness.data import TaskData, load_task_data
from harness.engine.sanity import duplicate_candidate_rows
from harness.errors import HarnessError, MediaError
from harness.inputs import AudioRef, ImageData
from harness.media.audio import load_audio
from harness.media.image import image_name, image_pixel_budget, open_image
from harness.models import registered_models
from harness.taskspec import LoadedGroup, LoadedTask, TaskIndex


def add_parsers(subparsers: Any) -> None:
    """Register the listing and validation subcommands."""
    tasks = subparsers.add_parser("tasks", help="list tasks, groups and tags with their source files")
    tasks.add_argument(
        "names", nargs="*", help="list only these tasks, groups or tags and everything under them (e.g. mmeb_v3)"
    )
    add_common_flags(tasks)
    tasks.set_defaults(handler=list_tasks)

    validate = subparsers.add_parser(
        "validate", help="check task files: schema, templates rendered on real rows, media present"
    )
    validate.add_argument("paths", nargs="+", type=Path, help="task files or folders of task files")
    validate.add_argument("--data_basedir", type=Path, default=Path("."))
    validate.add_argument("--data_source", choices=["auto", "local", "hub"], default="auto")
    validate.add_argument(
        "--limit", type=positive_int, help="check the rows a run with --limit N reads (the first min(num_rows, N))"
    )
    add_media_flags(validate)
    add_common_flags(validate)
    validate.set_defaults(handler=validate_files)

    models = subparsers.add_parser("models", help="list the registered model adapters")
    add_common_flags(models)
    models.set_defaults(handler=list_models)


def list_tasks(args: argparse.Namespace) -> int:
    """Print every task, group and tag."""
    index = TaskIndex(include_paths=[Path(p) for p in args.include_path])
    shown = _listed_names(index, args.names)
    tasks = {name: loaded for name, loaded in sorted(index.tasks.items()) if shown is None or name in shown}
    groups = {name: group for name, group in sorted(index.groups.items()) if shown is None or name in shown}
    tags = {
        tag: members
        for tag, members in sorted(index.tags.items())
        if tag not in index.groups and tag not in index.tasks and (shown is None or tag in shown)
    }
    names = [*tasks, *groups, *tags]
    table = Table(title=f"tasks ({len(tasks)} tasks, {len(groups)} groups, {len(tags)} tags)")
    # Names are shown whole, never cut (a reference key such as text/BRIGHT/theoremqa_theorems):
    # the other columns give way, the source column folds.
    table.add_column("name", no_wrap=True, min_width=max(map(len, names), default=4))
    for column in ("kind", "modality", "ranking", "main metric"):
        table.add_column(column, no_wrap=True)
    table.add_column("members / source", overflow="fold")
    for name, loaded in tasks.items():
        spec = loaded.spec
        table.add_row(name, "task", spec.modality, spec.ranking, spec.metrics.main, str(loaded.source))
    for name, group in groups.items():
        count = len(index.expand(name))
        table.add_row(name, "group", "", "", group.spec.aggregate, f"{count} tasks, {group.source}")
    for tag, members in tags.items():
        table.add_row(tag, "tag", "", "", "", f"{len(members)} tasks")
    console = Console()
    if not console.is_terminal:  # piped into grep or a file: whole rows, one line each
        console = Console(width=100_000)
    console.print(table)
    return 0


def _listed_names(index: TaskIndex, requested: list[str]) -> set[str] | None:
    """The names to list for ``harness tasks NAME ...``: each name and everything under it (None:
    list everything); an unknown name is a one-line error."""
    if not requested:
        return None
    shown: set[str] = set()
    pending = list(requested)
    while pending:
        name = pending.pop()
        if name in shown:
            continue
        if name not in index.tasks and name not in index.groups and name not in index.tags:
            raise HarnessError(index.unknown_name_message(name))
        shown.add(name)
        if name in index.groups:
            pending.extend(index.groups[name].spec.task)
        elif name in index.tags:
            pending.extend(index.tags[name])
    return shown


def list_models(args: argparse.Namespace) -> int:
    """Print the registered adapters."""
    table = Table(title="model adapters")
    table.add_column("name")
    table.add_column("description")
    for name, description in registered_models().items():
        table.add_row(name, description)
    Console().print(table)
    return 0


def validate_files(args: argparse.Namespace) -> int:
    """Validate each file; print one line per file; exit 2 if any failed (as every input error)."""
    with image_pixel_budget(args.max_image_pixels):
        return _validate_files(args)


def _validate_files(args: argparse.Namespace) -> int:
    files = _expand_paths(args.paths)
    index = TaskIndex(include_paths=[Path(p) for p in args.include_path])
    console = Console(soft_wrap=True)  # one line per file, however long: never wrap at the width
    # Load every file first, so a group may name tasks of files that sort after it.
    loaded: dict[Path, LoadedTask | LoadedGroup | HarnessError] = {}
    for path in files:
        try:
            loaded[path] = index.load(path)  # includes may read the --include_path folders
            index.add(loaded[path])  # type: ignore[arg-type]
        except HarnessError as error:
            loaded[path] = error
    failures = 0
    for path in files:
        try:
            summary = _validate_one(loaded[path], index, args)
            console.print(f"ok    {path}: {summary}", markup=False, highlight=False)
        except HarnessError as error:
            failures += 1
            message = str(error)
            if str(path) not in message and str(path.resolve()) not in message:
                message = f"{path}: {message}"
            console.print(f"FAIL  {message}", markup=False, highlight=False)
    console.print(f"{len(files) - failures} passed, {failures} failed", markup=False)
    return 2 if failures else 0


def _expand_paths(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [p for p in sorted(path.rglob("*.yaml")) if not p.name.startswith("_")]
        elif path.is_file():
            files.append(path)
        else:
            raise HarnessError(f"{path}: no such file or folder")
    return files


def _validate_one(loaded: LoadedTask | LoadedGroup | HarnessError, index: TaskIndex, args: argparse.Namespace) -> str:
    if isinstance(loaded, HarnessError):
        raise loaded
    if not isinstance(loaded, LoadedTask):
        return f"group of {len(index.expand(loaded.spec.group))} tasks"
    spec = loaded.spec
    data = load_task_data(spec, args.data_basedir, args.data_source, args.limit).data  # the rows a run reads
    images: dict[Path | ImageData, str] = _first_images(data)
    for image in sorted(images, key=image_name):
        _check_decodable(image, spec.task, images[image])
    clips = _check_audio(spec.task, data)
    summary = f"{len(data.queries)} rows, {len(data.candidates)} candidates, {len(images)} images checked"
    if clips:
        summary += f", {clips} audio clips decoded"
    duplicates = duplicate_candidate_rows(data)
    if duplicates:
        first = next(q.location for q in data.queries if len(set(q.candidate_ids)) != len(q.candidate_ids))
        summary += f"; warning: {duplicates} rows list a candidate id twice (scored as the reference; first: {first})"
    if data.unmatched_positive_rows:
        summary += (
            f"; warning: {len(data.unmatched_positive_rows)} rows have a positive that is no candidate "
            f"(score 0; first: {data.unmatched_positive_rows[0]})"
        )
    if data.missing_images:
        summary += (
            f"; warning: {len(data.missing_images)} listed images name a missing file (read as no image, "
            f"image_lists.missing_file: empty_slot; first: {data.missing_images[0]})"
        )
    return summary


def _first_images(data: TaskData) -> dict[Path | ImageData, str]:
    """Each distinct image of the task's inputs (single images and image lists) -> the first row using it."""
    uses: dict[Path | ImageData, str] = {}
    for query in data.queries:
        for image in query.input.all_images():
            uses.setdefault(image, query.location)
    for candidate_id, candidate in data.candidates.items():
        for image in candidate.all_images():
            uses.setdefault(image, data.candidate_locations[candidate_id])
    return uses


def _first_uses(data: TaskData, medium: str) -> dict[Any, str]:
    """Each distinct ``audio`` (or other single medium) of the task's inputs -> the first row that uses it."""
    uses: dict[Any, str] = {}
    for query in data.queries:
        if getattr(query.input, medium) is not None:
            uses.setdefault(getattr(query.input, medium), query.location)
    for candidate_id, candidate in data.candidates.items():
        if getattr(candidate, medium) is not None:
            uses.setdefault(getattr(candidate, medium), data.candidate_locations[candidate_id])
    return uses


def _check_audio(task: str, data: TaskData) -> int:
    """Decode every distinct audio clip as a run would (bounded by its head crop); the count."""
    clips: dict[AudioRef, str] = _first_uses(data, "audio")
    for clip, location in clips.items():
        try:
            load_audio(clip)
        except MediaError as error:
            raise HarnessError(f"task '{task}', {location}: {error}") from None
    return len(clips)


def _check_decodable(image: Path | ImageData, task: str, location: str) -> None:
    try:
        open_image(image)
    except MediaError as error:
        raise HarnessError(f"task '{task}', {location}: {error}") from None
