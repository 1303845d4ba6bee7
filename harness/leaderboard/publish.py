"""Publish a finished run as a leaderboard entry, or say why it is not one."""

from __future__ import annotations

from pathlib import Path

from harness.leaderboard.checks import EntryError
from harness.leaderboard.files import write_entry
from harness.leaderboard.migrate import migrate_run_entry
from harness.results.run_file import RunFile


def publish_run(run_file: RunFile, target: Path) -> tuple[Path | None, str | None]:
    """Write ``run_file`` as a validated entry at ``target``; ``(None, reason)`` when it is not one.

    An entry is one model on one complete benchmark group, from a full run (no ``--limit``) whose
    embeddings depend on the input. A stale entry at ``target`` is removed when none is written.
    """
    try:
        write_entry(target, migrate_run_entry(run_file.model_dump(mode="json")))
    except EntryError as error:
        target.unlink(missing_ok=True)
        return None, str(error)
    return target, None
