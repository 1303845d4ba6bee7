"""Download what the selected tasks need into ``--to``: media archives and hub tables.

Each item (one archive, or one table of a hub dataset) is fetched into
``<to>/.harness-data/staging/<item>/``, extracted or sorted there, and only then moved into
place, after a ``placing`` marker listing what it will place (see :mod:`.markers`). An item
whose ``done`` marker matches the requested revision is skipped without a fetch, so a rerun
downloads nothing; a changed revision redoes the item, removing only what it placed before.
Every path written is resolved inside ``--to``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.data.paths import resolve_inside
from harness.data.sources import local_files
from harness.datasetup.archives import ExtractLimits, extract_archive, remove_tree, replace_path
from harness.datasetup.fetch import Fetcher, MirrorFetcher
from harness.datasetup.hub_tables import README, config_patterns, matching_files, placement
from harness.datasetup.manifest import ArchiveSpec, HubTable, archives_for, hub_tables_for
from harness.datasetup.markers import STATE_DIR, DoneMarker, marker_path, now, read_marker, write_marker
from harness.errors import DataError, HarnessError
from harness.taskspec import LoadedTask, TaskIndex
from harness.taskspec.schema import DatasetSource

Item = ArchiveSpec | HubTable


@dataclass
class ItemResult:
    """How one item went."""

    item: str
    repo: str
    kind: Literal["archive", "table"]
    status: Literal["downloaded", "skipped", "failed"]
    revision: str | None = None
    """The commit the item's files are from (None when it failed before resolving one)."""
    message: str = ""


@dataclass
class DownloadReport:
    """Every item's result and the warnings printed."""

    items: list[ItemResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[ItemResult]:
        """The items that failed."""
        return [item for item in self.items if item.status == "failed"]


def plan_downloads(tasks: Sequence[LoadedTask], index: TaskIndex) -> tuple[list[Item], list[str]]:
    """The items the tasks need (each once, in task order), and one error line per task that
    cannot be planned."""
    items: dict[str, Item] = {}
    errors: list[str] = []
    for task in tasks:
        try:
            needed: list[Item] = [*archives_for(task, index), *hub_tables_for(task.spec)]
        except HarnessError as error:
            errors.append(str(error))
            continue
        for item in needed:
            items.setdefault(item.item_id, item)
    return list(items.values()), errors


def download_items(
    items: Sequence[Item],
    to: Path,
    fetcher: Fetcher,
    revisions: Mapping[str, str],
    say: Callable[[str], None],
    limits: ExtractLimits | None = None,
) -> DownloadReport:
    """Fetch and place each item (skipping the done ones); a failing item is reported and the
    next one is still tried."""
    to = Path(os.path.abspath(to))
    if to.exists() and not to.is_dir():
        raise DataError(f"--to {to}: not a folder")
    to.mkdir(parents=True, exist_ok=True)
    report = DownloadReport()
    warned: set[str] = set()
    source = str(fetcher.root) if isinstance(fetcher, MirrorFetcher) else "hub"
    for item in items:
        kind: Literal["archive", "table"] = "archive" if isinstance(item, ArchiveSpec) else "table"
        requested = revisions.get(item.repo, item.revision if isinstance(item, HubTable) else None)
        marker = read_marker(to, item.item_id)
        if marker is not None and marker.status == "done" and _same_revision(marker, requested):
            report.items.append(ItemResult(item.item_id, item.repo, kind, "skipped", marker.revision_resolved))
            continue
        if requested is None and item.repo not in warned:
            warned.add(item.repo)
            line = (
                f"warning: {item.repo}: no revision pinned (task file or --revision); downloading the default "
                f"branch and recording the commit it resolves to in {to / STATE_DIR / 'done'}/"
            )
            report.warnings.append(line)
            say(line)
        say(f"{item.item_id}: fetching from {item.repo}")
        try:
            if marker is not None:
                _undo(to, marker)
            commit = _download(item, to, fetcher, requested, source, limits)
        except HarnessError as error:
            report.items.append(ItemResult(item.item_id, item.repo, kind, "failed", message=str(error)))
            say(f"error: {item.item_id}: {error}")
            continue
        finally:
            remove_tree(_work(to, "staging", item.item_id))
            remove_tree(_work(to, "extract", item.item_id))
        report.items.append(ItemResult(item.item_id, item.repo, kind, "downloaded", commit))
    return report


def _same_revision(marker: DoneMarker, requested: str | None) -> bool:
    """A done item is kept when nothing is pinned, or when the pin names its commit (or the
    revision it was downloaded for)."""
    return requested is None or requested in (marker.revision_requested, marker.revision_resolved)


def _work(to: Path, kind: str, item: str) -> Path:
    return to / STATE_DIR / kind / item


def _download(
    item: Item, to: Path, fetcher: Fetcher, requested: str | None, source: str, limits: ExtractLimits | None
) -> str:
    staging = _work(to, "staging", item.item_id)
    remove_tree(staging)
    staging.mkdir(parents=True)
    if isinstance(item, ArchiveSpec):
        return _download_archive(item, to, fetcher, requested, source, staging, limits)
    return _download_table(item, to, fetcher, requested, source, staging)


def _download_archive(
    item: ArchiveSpec,
    to: Path,
    fetcher: Fetcher,
    requested: str | None,
    source: str,
    staging: Path,
    limits: ExtractLimits | None,
) -> str:
    commit = fetcher.snapshot(item.repo, requested, list(item.files), staging)
    parts = [staging / name for name in item.files]
    missing = [name for name, part in zip(item.files, parts, strict=True) if not part.is_file()]
    if missing:
        raise DataError(f"{item.repo} at {commit}: no file {missing[0]}")
    extracted = _work(to, "extract", item.item_id)
    remove_tree(extracted)
    result = extract_archive(parts, extracted, item.strip_prefix, limits)
    destination = resolve_inside(to, item.extract_to, what="extraction folder")
    moves = [(entry, destination / entry.name) for entry in sorted(extracted.iterdir())]
    notes = [f"{result.members} members, {result.bytes:,} bytes"]
    if item.strip_prefix:
        notes.append(f"prefix {item.strip_prefix!r} dropped; {result.outside_prefix} members were outside it")
    sha = {name: result.sha256.get(Path(name).name, "") for name in item.files}
    _place(to, item, requested, commit, source, list(item.files), sha, moves, notes)
    return commit


def _download_table(
    item: HubTable, to: Path, fetcher: Fetcher, requested: str | None, source: str, staging: Path
) -> str:
    where = f"task '{item.task}', {item.role}: {item.repo} (config {item.config}, split {item.split})"
    try:
        commit = fetcher.snapshot(item.repo, requested, [README], staging)
        patterns, layout = config_patterns(staging / README, item.config, item.split)
        commit = fetcher.snapshot(item.repo, commit, patterns, staging)  # the very commit the README came from
        files = [f for f in matching_files(staging, patterns) if f != README]
        if not files:
            raise DataError(f"at {commit}: no files match {', '.join(patterns)} ({layout})")
        targets = [placement(name, item.patterns) for name in files]
    except DataError as error:
        raise DataError(f"{where}: {error}") from None
    if len(set(targets)) != len(targets):
        raise DataError(f"{where}: two repository files would be placed at the same path ({targets})")
    sha = {name: _sha256(staging / name) for name in files}
    moves = [
        (staging / name, resolve_inside(to, target, what="data file"))
        for name, target in zip(files, targets, strict=True)
    ]
    _refuse_foreign_matches(to, item, {target for _, target in moves}, where)
    _place(to, item, requested, commit, source, files, sha, moves, [f"files found by the {layout}"])
    return commit


def _refuse_foreign_matches(to: Path, item: HubTable, ours: set[Path], where: str) -> None:
    """Files the task's patterns already match that this item does not place would be read as
    rows too (twice the rows, silently): refuse them."""
    present = local_files(DatasetSource(files=list(item.patterns)), to)
    foreign = [p for p in present if p not in ours]  # an earlier download's files are undone by now
    if foreign:
        raise DataError(
            f"{where}: {foreign[0]} already matches the task's files pattern and was not placed by a download; "
            "the run would read both: move it away first"
        )


def _place(
    to: Path,
    item: Item,
    requested: str | None,
    commit: str,
    source: str,
    files: list[str],
    sha: dict[str, str],
    moves: list[tuple[Path, Path]],
    notes: list[str],
) -> None:
    """Move the prepared files into place between a ``placing`` and a ``done`` marker."""
    for _, target in moves:
        if os.path.lexists(target):
            raise DataError(
                f"{target} already exists and was not placed by `harness data download`; move it away and rerun"
            )
    marker = DoneMarker(
        item=item.item_id,
        status="placing",
        repo=item.repo,
        revision_requested=requested,
        revision_resolved=commit,
        source=source,
        files=files,
        sha256=sha,
        placed=[str(target.relative_to(to)) for _, target in moves],
        notes=notes,
        date=now(),
    )
    write_marker(to, marker)
    for prepared, target in moves:
        try:
            replace_path(prepared, target)
        except OSError as error:
            raise DataError(f"cannot move {prepared} to {target}: {error.strerror or error}") from None
    write_marker(to, marker.model_copy(update={"status": "done"}))


def _undo(to: Path, marker: DoneMarker) -> None:
    """Remove what an earlier download of the item placed (only those paths), then its marker."""
    for relative in marker.placed:
        remove_tree(resolve_inside(to, relative, what="placed path"))
    marker_path(to, marker.item).unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
