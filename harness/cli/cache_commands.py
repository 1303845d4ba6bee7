"""``harness cache info | prune --older_than 30d | clear``: inspect and maintain the embedding cache.

The folder is ``--cache_dir``, else ``$HARNESS_CACHE_DIR``, else the platform's user cache folder
(``harness.cache.default_cache_dir``). Errors (the cache in use by a run, a foreign index) are
one line and exit status 2, as for every command.
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness.cache import CACHE_DIR_ENV, CacheInfo, EmbeddingCache, default_cache_dir
from harness.cache.schema import INDEX_FILE
from harness.cli import add_common_flags

AGE = re.compile(r"^(\d+)([smhdw])$")
AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_parsers(subparsers: Any) -> None:
    """Register ``harness cache`` and its subcommands."""
    parser = subparsers.add_parser("cache", help="inspect, prune or clear the embedding cache")
    commands = parser.add_subparsers(title="cache commands", required=True)

    _command(commands, "info", "entries, size and age of the cache", show_info)
    prune = _command(commands, "prune", "remove entries not used lately and give their space back", prune_cache)
    prune.add_argument(
        "--older_than", type=age, required=True, metavar="AGE", help="remove entries not used for AGE (30d, 12h, 2w)"
    )
    _command(commands, "clear", "remove every entry (the cache must not be in use)", clear_cache)


def _command(commands: Any, name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    command.add_argument(
        "--cache_dir", type=Path, help=f"the cache folder (default: ${CACHE_DIR_ENV}, else {default_cache_dir()})"
    )
    add_common_flags(command)
    command.set_defaults(handler=handler)
    return command


def age(text: str) -> timedelta:
    """argparse type: ``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` as a ``timedelta``."""
    match = AGE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected an age such as 30d, 12h, 90m or 2w, got {text!r}")
    return timedelta(**{AGE_UNITS[match.group(2)]: int(match.group(1))})


def show_info(args: argparse.Namespace) -> int:
    """Print the cache's folder, entries, sizes and entry ages."""
    with EmbeddingCache.open(args.cache_dir, read_only=True) as cache:
        for line in describe(cache.info()):
            print(line)
    return 0


def prune_cache(args: argparse.Namespace) -> int:
    """Remove entries not used for ``--older_than`` and print what was freed."""
    root = args.cache_dir or default_cache_dir()
    if not (root / INDEX_FILE).exists():
        print(f"no embedding cache in {root}")
        return 0
    with EmbeddingCache.open(root) as cache:
        report = cache.prune(args.older_than)
    print(
        f"embedding cache {root}: removed {report.entries_removed:,} entries not used for {args.older_than} "
        f"({size(report.entry_bytes_removed)} of arrays), {report.damaged_entries_removed:,} damaged; "
        f"shard files: {report.shards_deleted} deleted, {report.shards_rewritten} rewritten; "
        f"freed {size(report.freed_bytes)} ({size(report.disk_bytes_after)} left)"
    )
    return 0


def clear_cache(args: argparse.Namespace) -> int:
    """Remove every entry, file hash and shard of the cache."""
    root = args.cache_dir or default_cache_dir()
    if not (root / INDEX_FILE).exists():
        print(f"no embedding cache in {root}")
        return 0
    with EmbeddingCache.open(root) as cache:
        before = cache.info()
        cache.clear()
        after = cache.info()
    freed = size(before.disk_bytes - after.disk_bytes)
    print(f"embedding cache {root}: removed {before.entries:,} entries, freed {freed}")
    return 0


def describe(info: CacheInfo) -> list[str]:
    """The lines ``harness cache info`` prints."""
    lines = [
        f"embedding cache {info.path}",
        f"entries: {info.entries:,} ({size(info.entry_bytes)} of arrays)",
        f"on disk: {size(info.disk_bytes)} (the index and {info.shards} shard files)",
    ]
    if info.oldest_entry is not None and info.newest_entry is not None:
        lines.append(f"stored: {info.oldest_entry:%Y-%m-%d %H:%M} to {info.newest_entry:%Y-%m-%d %H:%M} UTC")
    return lines


def size(count: int) -> str:
    """``1536`` as ``1.5 KiB``."""
    if count < 1024:
        return f"{count} bytes"
    value, unit = count / 1024, "KiB"
    for larger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.1f} {unit}"
