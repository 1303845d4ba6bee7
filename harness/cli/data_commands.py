"""``harness data check`` and ``harness data download``: is a task's data all there, and fetch it.

``check`` exits 0 when every selected task's rows, tables and media are present and 1 when
anything is missing or unreadable (the table says what); input errors (an unknown task, a bad
flag) are one line and status 2, as for every command. See ``docs/data.md``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.cli import add_common_flags
from harness.data import DataSourceMode
from harness.datasetup import CheckReport, HubFetcher, MirrorFetcher, check_tasks, download_items, plan_downloads
from harness.datasetup.fetch import check_repo_id
from harness.datasetup.report import TaskCheck
from harness.errors import HarnessError
from harness.taskspec import LoadedTask, TaskIndex

_ERR = Console(stderr=True, soft_wrap=True)


def add_parsers(subparsers: Any) -> None:
    """Register ``harness data`` and its subcommands."""
    parser = subparsers.add_parser("data", help="check or download the data of tasks")
    commands = parser.add_subparsers(title="data commands", required=True)

    check = commands.add_parser("check", help="report rows, tables and media present or missing, per task")
    _task_flags(check)
    check.add_argument("--data_basedir", type=Path, default=Path("."))
    check.add_argument("--data_source", choices=["auto", "local", "hub"], default="auto")
    check.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON to FILE")
    add_common_flags(check)
    check.set_defaults(handler=check_data)

    download = commands.add_parser("download", help="fetch the archives and hub tables tasks need, then check")
    _task_flags(download)
    download.add_argument("--to", type=Path, required=True, metavar="DIR", help="the data folder (--data_basedir)")
    download.add_argument(
        "--revision",
        action="append",
        default=[],
        metavar="REPO=COMMIT",
        help="pin the revision of a hub repository (repeatable); overrides the task files",
    )
    download.add_argument(
        "--hub_mirror", type=Path, metavar="DIR", help="copy from DIR/<owner>/<name>/ instead of the hub (offline)"
    )
    download.add_argument("--json", type=Path, metavar="FILE", help="also write the check report as JSON to FILE")
    add_common_flags(download)
    download.set_defaults(handler=download_data)


def _task_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", required=True, help="comma-separated task, group or tag names, or YAML paths")


def selected_tasks(args: argparse.Namespace) -> tuple[TaskIndex, list[LoadedTask]]:
    """The index and the leaf tasks ``--tasks`` names."""
    names = [name.strip() for name in args.tasks.split(",") if name.strip()]
    if not names:
        raise HarnessError(f"--tasks {args.tasks!r} names no task (e.g. --tasks mmeb_v2_image)")
    index = TaskIndex(include_paths=[Path(p) for p in args.include_path])
    return index, index.select(names).tasks


def check_data(args: argparse.Namespace) -> int:
    """``harness data check``: 0 when everything is present, 1 otherwise."""
    _, tasks = selected_tasks(args)
    return _check_and_report(tasks, args.data_basedir, args.data_source, args.json)


def download_data(args: argparse.Namespace) -> int:
    """``harness data download``: fetch, then check with the local files; 1 if an item failed or
    anything is still missing."""
    index, tasks = selected_tasks(args)
    revisions = parse_revisions(args.revision)
    fetcher = MirrorFetcher(args.hub_mirror) if args.hub_mirror is not None else HubFetcher()
    items, errors = plan_downloads(tasks, index)
    for error in errors:
        _say(f"error: {error}")
    report = download_items(items, args.to, fetcher, revisions, _say)
    for result in report.items:
        if result.status != "failed":
            _say(f"{result.status:10} {result.item} ({result.repo} @ {result.revision})")
    status = _check_and_report(tasks, args.to, "local", args.json)
    done = sum(r.status == "downloaded" for r in report.items)
    skipped = sum(r.status == "skipped" for r in report.items)
    _say(f"download: {done} items fetched, {skipped} already done, {len(report.failed) + len(errors)} failed")
    return 1 if report.failed or errors else status


def parse_revisions(values: list[str]) -> dict[str, str]:
    """``REPO=COMMIT`` flags as a mapping; a malformed one is an error."""
    revisions: dict[str, str] = {}
    for value in values:
        repo, separator, commit = value.partition("=")
        if not separator or not commit.strip():
            raise HarnessError(f"--revision {value!r}: expected REPO=COMMIT, e.g. TIGER-Lab/MMEB-V2=<commit>")
        check_repo_id(repo.strip())
        revisions[repo.strip()] = commit.strip()
    return revisions


def _check_and_report(tasks: list[LoadedTask], base: Path, source: DataSourceMode, json_path: Path | None) -> int:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_ERR,
        transient=True,
    ) as progress:
        overall = progress.add_task("checking tasks", total=len(tasks))
        bars: dict[str, Any] = {}

        def media(task: str, done: int, total: int) -> None:
            if task not in bars:
                bars[task] = progress.add_task(f"  {task}: media", total=total)
            progress.update(bars[task], completed=done)

        report = CheckReport(data_basedir=str(base), data_source=source)
        for task in tasks:
            progress.update(overall, description=f"checking {task.spec.task}")
            report.tasks += check_tasks([task], base, source, media).tasks
            if task.spec.task in bars:
                progress.remove_task(bars.pop(task.spec.task))
            progress.advance(overall)
    print_check(report)
    if json_path is not None:
        _write_json(json_path, report)
    return 0 if report.ok else 1


def print_check(report: CheckReport) -> None:
    """The per-task table, the missing paths of each incomplete task, and the summary line."""
    table = Table(title=f"data under {report.data_basedir} ({report.data_source})")
    for column in ("task", "from", "rows", "corpus", "qrels", "images", "videos", "short", "audio", "status"):
        right = column in ("rows", "corpus", "qrels", "short")
        table.add_column(column, justify="right" if right else "left", no_wrap=column in ("task", "status"))
    for task in report.tasks:
        table.add_row(
            task.task,
            str(task.provenance.get("kind", "—")),
            _number(task.rows),
            _number(task.corpus_rows),
            _number(task.qrels_rows),
            _media(task.images.present, task.images.referenced, task.pages),
            _media(task.videos.present, task.videos.referenced, 0),
            str(task.videos.short) if task.videos.referenced else "",
            _media(task.audios.present, task.audios.referenced, task.audios.in_rows),
            task.status,
        )
    console = Console(soft_wrap=True)
    console.print(table)
    for task in report.tasks:
        for line in _details(task):
            console.print(line, markup=False, highlight=False)
    console.print(report.summary(), markup=False, highlight=False)


def _details(task: TaskCheck) -> list[str]:
    lines = [f"{task.task}: rows from {task.source}"] if task.source else []
    lines += [f"{task.task}: error: {error}" for error in task.errors]
    if task.row_errors > len(task.errors):
        lines.append(f"{task.task}: {task.row_errors} rows cannot be built in all (first {len(task.errors)} above)")
    for kind, check in (("image", task.images), ("video", task.videos), ("audio file", task.audios)):
        if check.missing:
            shown = ", ".join(check.first_missing)
            more = (
                f" (+{check.missing - len(check.first_missing)} more)"
                if check.missing > len(check.first_missing)
                else ""
            )
            lines.append(f"{task.task}: {check.missing} {kind}s missing: {shown}{more}")
    if task.videos.short:
        lines.append(
            f"{task.task}: {task.videos.short} frame folders have fewer than {task.videos.num_frames} frames: "
            + ", ".join(task.videos.first_short)
        )
    if task.audios.unreadable:
        lines.append(f"{task.task}: {task.audios.unreadable} audio files cannot be read (counted as missing)")
    if task.audios.longer:
        lines.append(
            f"{task.task}: {task.audios.longer} audio files are longer than {task.audios.max_seconds:g} s "
            f"(a run keeps their first {task.audios.max_seconds:g} s; {task.audios.seconds:.0f} s of audio in all)"
        )
    return lines


def _number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _media(present: int, referenced: int, pages: int) -> str:
    text = f"{present:,}/{referenced:,}" if referenced else ""
    if pages:
        text = (text + " + " if text else "") + f"{pages:,} pages in rows"
    return text or "—"


def _write_json(path: Path, report: CheckReport) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise HarnessError(f"cannot write --json {path}: {error.strerror or error}") from None
    _say(f"report: {path}")


def _say(text: str) -> None:
    _ERR.print(text, markup=False, highlight=False)
