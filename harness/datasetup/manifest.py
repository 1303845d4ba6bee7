"""What the selected tasks need downloaded: media archives per task family, and hub tables.

This module is the one owner of the list of media archives. A task family is a built-in group
(``mmeb_v2_image``, ``mmeb_v2_video``); each archive says which media folder it fills, and a task
of the family needs it when one of the task's media folders (its ``media_root`` and the fixed
start of its video templates) lies in that folder, so MSR-VTT fetches only the retrieval frames.

The archive list follows the reference's ``experiments/public/data/download_data.sh`` (VLM2Vec):
where each archive is extracted and that ``mmeb_v1.tar.gz`` holds its images under ``MMEB/``,
which the script moves up into ``image-tasks/``. Hub tables (rows, corpus, qrels) are not listed
here: they come from each task file's ``dataset`` / ``candidates.corpus`` / ``relevance.dataset``
(hub id, config, split, revision, and the local ``files`` patterns they are placed under).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.errors import DataError
from harness.taskspec import LoadedTask, TaskIndex
from harness.taskspec.schema import DatasetSource, QrelsRelevance, TaskSpec

MMEB_V2_REPO = "TIGER-Lab/MMEB-V2"
"""The dataset repository of the MMEB-V2 media archives."""


@dataclass(frozen=True)
class ArchiveSpec:
    """One archive of a dataset repository and where its content goes."""

    repo: str
    files: tuple[str, ...]
    """Repository paths of the archive; several are parts, concatenated in this order."""
    extract_to: str
    """Folder (relative to ``--to``) the archive is extracted in."""
    serves: str
    """The media folder (relative to ``--to``) that the archive fills."""
    strip_prefix: str = ""
    """A leading folder of the members that is dropped (``MMEB/`` of ``mmeb_v1.tar.gz``)."""

    @property
    def item_id(self) -> str:
        """A name for the archive's done-marker."""
        return _safe_id(f"{self.repo}/{self.files[0]}")


@dataclass(frozen=True)
class HubTable:
    """One table (config and split) of a hub dataset, and the local patterns it is placed under."""

    task: str
    role: str
    """``dataset``, ``corpus`` or ``qrels``."""
    repo: str
    config: str | None
    split: str
    revision: str | None
    """The task file's revision (None: not pinned)."""
    patterns: tuple[str, ...]
    """The task's local ``files`` patterns (``{subset}`` filled in), relative to ``--to``."""

    @property
    def item_id(self) -> str:
        """A name for the table's done-marker."""
        return _safe_id(f"{self.repo}/{self.config or 'default'}/{self.split}/{self.patterns[0]}")


_FRAMES = "video-tasks/frames"
FAMILY_ARCHIVES: dict[str, tuple[ArchiveSpec, ...]] = {
    "mmeb_v2_image": (
        ArchiveSpec(MMEB_V2_REPO, ("image-tasks/mmeb_v1.tar.gz",), "image-tasks", "image-tasks", strip_prefix="MMEB/"),
    ),
    "mmeb_v2_video": (
        ArchiveSpec(MMEB_V2_REPO, (f"{_FRAMES}/video_cls.tar.gz",), f"{_FRAMES}/video_cls", f"{_FRAMES}/video_cls"),
        ArchiveSpec(MMEB_V2_REPO, (f"{_FRAMES}/video_ret.tar.gz",), f"{_FRAMES}/video_ret", f"{_FRAMES}/video_ret"),
        # These two hold their top folder (video_mret/, video_qa/) themselves.
        ArchiveSpec(MMEB_V2_REPO, (f"{_FRAMES}/video_mret.tar.gz",), _FRAMES, f"{_FRAMES}/video_mret"),
        ArchiveSpec(
            MMEB_V2_REPO, tuple(f"{_FRAMES}/video_qa.tar.gz-0{i}" for i in range(5)), _FRAMES, f"{_FRAMES}/video_qa"
        ),
    ),
}
"""Per task family (a built-in group), the archives its tasks may need."""


def archives_for(task: LoadedTask, index: TaskIndex) -> list[ArchiveSpec]:
    """The archives of ``task``'s family that hold its media."""
    folders = media_folders(task.spec)
    needed: list[ArchiveSpec] = []
    for family, archives in FAMILY_ARCHIVES.items():
        if family not in index.groups or task.spec.task not in index.expand(family):
            continue
        needed += [a for a in archives if any(_under(folder, a.serves) for folder in folders)]
    return needed


def media_folders(spec: TaskSpec) -> set[str]:
    """The folders (relative to the data folder) the task's media paths start in: its
    ``media_root`` when it has images, and the fixed start of each video or folder template."""
    root = os.path.normpath(spec.media_root) if spec.media_root else ""
    folders: set[str] = set()
    images = (
        spec.query.image_column,
        spec.query.image_template,
        spec.candidates.image_column,
        spec.candidates.image_template,
        spec.query.image_list_column,
        spec.candidates.image_list_column,
    )
    if any(source is not None for source in images):
        folders.add(root)
    templates = (spec.query.video_template, spec.candidates.video_template, spec.candidates.folders_template)
    for template in templates:
        if template is not None:
            fixed = template.split("{", 1)[0]
            folders.add(os.path.normpath(os.path.join(root, fixed)) if fixed else root)
    return {folder.replace(os.sep, "/") for folder in folders}


def hub_tables_for(spec: TaskSpec) -> list[HubTable]:
    """The hub tables of ``spec`` (rows, corpus, qrels) that have a hub id; each must also have
    local ``files`` patterns to be placed under (``DataError`` naming the table otherwise)."""
    sources: list[tuple[str, DatasetSource]] = [("dataset", spec.dataset)]
    if spec.candidates.corpus is not None:
        sources.append(("corpus", spec.candidates.corpus))
    if isinstance(spec.relevance, QrelsRelevance):
        sources.append(("qrels", spec.relevance.dataset))
    tables: list[HubTable] = []
    for role, source in sources:
        if source.path is None or source.rows is not None:
            continue
        if not source.files:
            raise DataError(
                f"task '{spec.task}', {role}: hub dataset {source.path} has no local 'files' pattern to download into"
            )
        configs = [(name, name) for name in source.subsets] if source.subsets is not None else [(source.name, None)]
        for config, subset in configs:
            patterns = tuple(p.replace("{subset}", subset) if subset else p for p in source.files)
            tables.append(HubTable(spec.task, role, source.path, config, source.split, source.revision, patterns))
    return tables


def _under(folder: str, root: str) -> bool:
    return folder == root or folder.startswith(root.rstrip("/") + "/")


def _safe_id(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "--" if c == "/" else "_" for c in text)[:200]
