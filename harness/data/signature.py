"""A cheap signature of where a task's rows come from, to tell an unchanged task from a changed one.

A finished task is kept by a rerun only while its rows cannot have changed: the signature names
every local data file the task's sources match (its path, size and modification time, so no
file is read) and the hub coordinates (id, config, split, revision) of its dataset, corpus and
qrels. Media files are not part of it: they are covered by the embedding cache's content hashes,
not by the finished-task check (see ``docs/cache.md``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.data.discovery import discovered_files
from harness.data.generators import generated_files
from harness.data.sources import local_files
from harness.taskspec.schema import DatasetSource, QrelsRelevance, TaskSpec


def data_signature(spec: TaskSpec, data_basedir: Path) -> list[dict[str, Any]]:
    """The signature of each source of ``spec`` (dataset, corpus, qrels) under ``data_basedir``."""
    sources = [spec.dataset]
    if spec.candidates.corpus is not None:
        sources.append(spec.candidates.corpus)
    if isinstance(spec.relevance, QrelsRelevance):
        sources.append(spec.relevance.dataset)
    base = Path(os.path.abspath(data_basedir))
    return [_source_signature(source, base) for source in sources]


def _source_signature(source: DatasetSource, base: Path) -> dict[str, Any]:
    hub = {"path": source.path, "name": source.name, "split": source.split, "revision": source.revision}
    parts = [source] if source.subsets is None else _subset_parts(source)
    files: list[list[Any]] = []
    if source.discover is not None:
        real_base = Path(os.path.realpath(base))
        for path in discovered_files(source.discover, base):
            stat = path.stat()
            files.append([str(path.relative_to(real_base)), stat.st_size, stat.st_mtime_ns])
    if source.generate is not None:
        for path in generated_files(source.generate, base):
            found = path.stat() if path.is_file() else None  # a missing file is the loader's error to give
            size, mtime = (found.st_size, found.st_mtime_ns) if found is not None else (None, None)
            files.append([str(path.relative_to(base)), size, mtime])
    for part in parts:
        for path in local_files(part, base) if part.files else []:
            stat = path.stat()
            files.append([str(path.relative_to(base)), stat.st_size, stat.st_mtime_ns])
    return {"hub": hub, "subsets": source.subsets, "files": files, "inline": source.rows is not None}


def _subset_parts(source: DatasetSource) -> list[DatasetSource]:
    assert source.subsets is not None
    return [
        source.model_copy(update={"subsets": None, "files": [p.replace("{subset}", name) for p in source.files]})
        for name in source.subsets
    ]
