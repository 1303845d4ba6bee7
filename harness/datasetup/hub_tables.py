"""Find a hub dataset's table (config + split) among its repository files, and place those files
where a task's local ``files`` patterns look.

A dataset repository says which files make up each config in the YAML header of its
``README.md`` (the ``configs:`` list of the hub's manual configuration, which ``datasets`` reads
too): ``config_name`` and ``data_files``, a list of ``{split, path}`` entries (or a path pattern
or list of them, meaning split ``train``). A repository without that header is read by the
layout convention ``<config>/<split>-*`` / ``<config>/<split>/*`` (``data/`` for the default
config); which of the two was used is recorded in the done-marker.

Placement: each file goes to the first of the task's patterns (e.g.
``visdoc-tasks/data/ViDoRe_arxivqa/queries*``) that can name it: the pattern's folder, and the
file's name (prefixed by the pattern's fixed start when the name does not already match).
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.errors import DataError

README = "README.md"
MAX_README_BYTES = 1 << 20
"""Longest README header read (1 MiB); dataset cards are a few KiB."""
DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")
"""The formats the local loader reads (``harness.data.sources``)."""
_GLOB = "*?["


def config_patterns(readme: Path | None, config: str | None, split: str) -> tuple[list[str], str]:
    """The repository path patterns of ``config``'s ``split``, and where they were read
    (``README.md configs`` or ``layout convention``)."""
    configs = _readme_configs(readme) if readme is not None and readme.is_file() else None
    if configs is None:
        folder = config or "data"
        return [f"{folder}/{split}-*", f"{folder}/{split}.*", f"{folder}/{split}/*"], "layout convention"
    name = config or "default"
    entry = next((c for c in configs if isinstance(c, dict) and c.get("config_name") == name), None)
    if entry is None:
        names = ", ".join(str(c.get("config_name")) for c in configs if isinstance(c, dict))
        raise DataError(f"{README}: no config {name!r} (configs: {names or 'none'})")
    files = entry.get("data_files")
    by_split: dict[str, list[str]] = {}
    if isinstance(files, str | list) and not (isinstance(files, list) and files and isinstance(files[0], dict)):
        by_split["train"] = [files] if isinstance(files, str) else [str(f) for f in files]
    elif isinstance(files, list):
        for item in files:
            if isinstance(item, dict) and "split" in item and "path" in item:
                paths = item["path"]
                by_split.setdefault(str(item["split"]), []).extend(
                    [paths] if isinstance(paths, str) else [str(p) for p in paths]
                )
    if split not in by_split:
        raise DataError(f"{README}: config {name!r} has no split {split!r} (splits: {', '.join(by_split) or 'none'})")
    return by_split[split], f"{README} configs"


def _readme_configs(readme: Path) -> list[Any] | None:
    """The ``configs:`` list of the README's YAML header, or None when it has none."""
    with readme.open("rb") as handle:
        raw = handle.read(MAX_README_BYTES + 1)
    if len(raw) > MAX_README_BYTES:
        raise DataError(f"{readme.name}: longer than {MAX_README_BYTES:,} bytes; refused")
    text = raw.decode("utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    header = text[3:].split("\n---", 1)[0]
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(header, Loader=yaml.SafeLoader)):
            raise DataError(f"{readme.name}: YAML aliases in the header are refused")
        data = yaml.safe_load(header)
    except yaml.YAMLError as error:
        raise DataError(f"{readme.name}: unreadable YAML header: {str(error).splitlines()[0]}") from None
    configs = data.get("configs") if isinstance(data, dict) else None
    return configs if isinstance(configs, list) else None


def matching_files(snapshot: Path, patterns: Sequence[str]) -> list[str]:
    """Repository paths (posix) under ``snapshot`` that match one of ``patterns``, sorted."""
    found = []
    for path in sorted(snapshot.rglob("*")):
        relative = path.relative_to(snapshot).as_posix()
        if path.is_file() and any(fnmatch.fnmatch(relative, p) for p in patterns):
            found.append(relative)
    return found


def placement(repo_file: str, patterns: Sequence[str]) -> str:
    """Where (relative to ``--to``) a repository data file goes so that one of ``patterns`` reads it."""
    name = posixpath.basename(repo_file)
    if not name.endswith(DATA_SUFFIXES):
        raise DataError(f"{repo_file}: not a data file the harness reads ({', '.join(DATA_SUFFIXES)})")
    for pattern in patterns:
        folder, wanted = posixpath.split(pattern)
        if any(c in folder for c in _GLOB):
            continue  # a wildcard folder names no single place
        fixed = wanted
        for char in _GLOB:
            fixed = fixed.split(char, 1)[0]
        for candidate in (name, f"{fixed}-{name}" if fixed else name):
            if fnmatch.fnmatch(candidate, wanted):
                return posixpath.join(folder, candidate)
    raise DataError(f"{repo_file}: no local pattern of the task can name it ({', '.join(patterns)})")
