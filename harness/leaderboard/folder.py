"""A leaderboard folder: validated entry files under ``entries/<benchmark>@<version>/``.

Adding is one atomic file write, after the checks: no duplicate (same benchmark version, model
and revision) and task versions that agree with the entries already there for that benchmark
version. Whole-folder writes (the importer, the site) build a sibling folder and swap it in,
so readers see the old tree or the new one, never a half-written one.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.leaderboard.checks import EntryError
from harness.leaderboard.display import printable
from harness.leaderboard.entry import LeaderboardEntry
from harness.leaderboard.files import load_entry, write_entry

ENTRIES_DIR = "entries"


@dataclass(frozen=True)
class StoredEntry:
    """An entry and the file it was read from."""

    path: Path
    entry: LeaderboardEntry

    @property
    def label(self) -> str:
        """``model (benchmark@version)``, how listings name an entry."""
        return f"{self.entry.model.name} ({self.entry.benchmark.key()})"


def entry_slug(entry: LeaderboardEntry) -> str:
    """A file-name-safe name for the entry's model (and revision, when set)."""
    name = entry.model.name if entry.model.revision is None else f"{entry.model.name}--{entry.model.revision[:12]}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"
    return slug[:120]


def entry_path(root: Path, entry: LeaderboardEntry) -> Path:
    """Where ``entry`` lives inside the leaderboard folder ``root``."""
    return root / ENTRIES_DIR / entry.benchmark.key() / f"{entry_slug(entry)}.json"


def list_entries(root: Path) -> list[StoredEntry]:
    """Every entry of the folder, validated, sorted by benchmark and file name."""
    if not root.is_dir():
        raise EntryError(f"{root}: no such leaderboard folder")
    paths = sorted((root / ENTRIES_DIR).glob("*/*.json"))
    return [StoredEntry(path=path, entry=load_entry(path)) for path in paths]


def find_duplicate(entries: list[StoredEntry], entry: LeaderboardEntry) -> StoredEntry | None:
    """The stored entry with the same benchmark version, model name and revision, if any.

    Names are compared as shown (:func:`printable`): one that differs only by invisible or
    control characters would look like the same model.
    """
    shown = printable(entry.model.name)
    for stored in entries:
        other = stored.entry
        same_model = (printable(other.model.name), other.model.revision) == (shown, entry.model.revision)
        if same_model and other.benchmark == entry.benchmark:
            return stored
    return None


def check_task_versions(entries: list[StoredEntry], entry: LeaderboardEntry) -> None:
    """Refuse an entry whose tasks disagree (version, modality, main metric) with its benchmark's entries."""
    for stored in entries:
        if stored.entry.benchmark != entry.benchmark:
            continue
        known = stored.entry.tasks()
        for task, (modality, result) in entry.tasks().items():
            if task not in known:
                continue
            other_modality, other = known[task]
            for field, mine, theirs in (
                ("task_version", result.task_version, other.task_version),
                ("main_metric", result.main_metric, other.main_metric),
                ("modality", modality, other_modality),
            ):
                if mine != theirs:
                    raise EntryError(
                        f"scores.{modality}.{task}.{field}: {mine!r} but benchmark {entry.benchmark.key()} has "
                        f"{theirs!r} (in {stored.path})"
                    )


def add_entry(root: Path, entry: LeaderboardEntry) -> Path:
    """Check ``entry`` against the folder and write it; returns the new file."""
    entries = list_entries(root) if root.exists() else []
    duplicate = find_duplicate(entries, entry)
    if duplicate is not None:
        raise EntryError(
            f"{entry.model.name!r} (revision {entry.model.revision}) on {entry.benchmark.key()} is already in "
            f"the leaderboard: {duplicate.path}"
        )
    check_task_versions(entries, entry)
    path = entry_path(root, entry)
    if path.exists():
        raise EntryError(f"{path}: a different entry already uses this file name; give the model another name")
    write_entry(path, entry)
    return path


def replace_folder(target: Path, build: Callable[[Path], None]) -> None:
    """Fill a fresh sibling folder with ``build`` and swap it in place of ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a published folder must be readable
    try:
        build(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}"
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
