"""What the leaderboard commands share: entries named on the command line, the reference
benchmark's task catalogue, and entry text shown on a terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from harness.leaderboard import Benchmark, EntryError, LeaderboardEntry, TaskInfo, list_entries, load_entry
from harness.leaderboard.checks import validated
from harness.leaderboard.display import printable
from harness.leaderboard.folder import StoredEntry
from harness.taskspec import TaskIndex


def parse_benchmark(text: str | None) -> Benchmark | None:
    """``NAME@VERSION`` as a :class:`Benchmark`."""
    if text is None:
        return None
    name, sep, version = text.partition("@")
    if not sep or not name or not version:
        raise EntryError(f"--benchmark: expected NAME@VERSION, got {text!r}")
    return validated(Benchmark, {"name": name, "version": version}, where="--benchmark")


def selected_entries(args: argparse.Namespace) -> list[StoredEntry]:
    """The entries of ``args.dir``, only those of ``args.benchmark`` when given."""
    entries = list_entries(args.dir)
    benchmark = parse_benchmark(getattr(args, "benchmark", None))
    return [s for s in entries if benchmark is None or s.entry.benchmark == benchmark]


def pick_entry(args: argparse.Namespace, ref: str) -> LeaderboardEntry:
    """The entry file ``ref``, or the one entry of model ``ref`` among :func:`selected_entries`."""
    path = Path(ref)
    if path.suffix == ".json" and path.is_file():
        return load_entry(path)
    matches = [s for s in selected_entries(args) if s.entry.model.name == ref]
    if len(matches) != 1:
        found = ", ".join(s.label for s in matches) or "none"
        raise EntryError(f"{ref!r}: expected one entry with this model name in {args.dir}, found {found}")
    return matches[0].entry


def task_catalogue(index: TaskIndex, benchmark: str) -> dict[str, TaskInfo]:
    """Modality, meta-task and main metric of every task of the group ``benchmark``, from the task files."""
    return {
        name: TaskInfo(index.tasks[name].spec.modality, index.meta_task_of(name), index.tasks[name].spec.metrics.main)
        for name in index.expand(benchmark)
    }


def entry_text(text: str) -> Text:
    """Entry text for rich: cleaned of controls and invisible characters, and never read as markup.

    A ``str`` cell would be parsed for ``[bold]``/``[link=...]`` markup and ``:emoji:`` codes; a
    ``Text`` is shown as it is.
    """
    return Text(printable(text))


def plain_console(width_off_terminal: int | None = None) -> Console:
    """A console that reads no markup, emoji codes or highlighting into what it prints.

    ``width_off_terminal`` is the width when the output is not a terminal (a file, a pipe), where
    rich would otherwise assume 80 columns; a terminal's own width is always kept.
    """
    console = Console(markup=False, emoji=False, highlight=False)
    if width_off_terminal is not None and not console.is_terminal:
        console.width = width_off_terminal
    return console
