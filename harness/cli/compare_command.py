"""``harness leaderboard compare``: two entries, a run against published numbers, or two runs.

What the arguments are decides the comparison:

- ``compare RUN --published REF``: our run (a run folder, its run file or an entry file) against
  ``REF`` (``MODEL@VERSION`` in the leaderboard folder, an entry file, or a reference score file);
- ``compare RUN_A RUN_B`` with two run folders: paired per-query statistics of B - A;
- ``compare A B`` otherwise: two entries (files, or model names in the folder), B - A.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from harness.cli import positive_int
from harness.cli.leaderboard_io import entry_text, pick_entry, plain_console, task_catalogue
from harness.errors import HarnessError
from harness.leaderboard import REFERENCE_BENCHMARK, compare_entries
from harness.leaderboard.compare import ScoreComparison, compare_tables
from harness.leaderboard.display import json_escaped
from harness.leaderboard.paired import DEFAULT_ALPHA, DEFAULT_RESAMPLES, DEFAULT_SEED, RunComparison, compare_runs
from harness.leaderboard.published import resolve_published
from harness.leaderboard.run_folder import read_run_folder, read_scores
from harness.leaderboard.significance import PairedTest
from harness.taskspec import TaskIndex

HELP = "compare two entries, a run with published scores (--published), or two runs (paired statistics)"
_STATISTICS_FLAGS = ("bootstrap", "seed", "alpha")
_WIDTH_OFF_TERMINAL = 160
"""Columns of the comparison tables written to a file or a pipe (a terminal keeps its own width)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``compare`` (the parser already has ``--dir`` and the common flags)."""
    parser.add_argument("a", help="run folder, run or entry file, or model name in the folder (--benchmark)")
    parser.add_argument("b", nargs="?", help="the other side: run folder, entry file or model name")
    parser.add_argument("--benchmark", help="NAME@VERSION to pick entries by model name")
    parser.add_argument(
        "--published",
        metavar="REF",
        help="compare A with MODEL@VERSION in the folder (e.g. VLM2Vec-V2.0-Qwen2VL-2B@v2.0.1), an entry file, "
        "or a reference score file",
    )
    parser.add_argument(
        "--bootstrap",
        type=positive_int,
        metavar="N",
        help=f"two runs: resamples for the bootstrap intervals and the sign-flip tests (default {DEFAULT_RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, help=f"two runs: random seed of the resamples (default {DEFAULT_SEED})")
    parser.add_argument("--alpha", type=_fraction, help=f"two runs: significance level (default {DEFAULT_ALPHA})")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def compare(args: argparse.Namespace) -> int:
    """Dispatch on what A and B are (see the module docstring)."""
    if args.published is not None:
        if args.b is not None:
            raise HarnessError("compare --published: give one run (A), not two")
        _refuse_statistics_flags(args, "--published")
        ours = read_scores(Path(args.a))
        theirs = resolve_published(args.published, args.dir, lambda: task_catalogue(TaskIndex(), REFERENCE_BENCHMARK))
        _print_scores(compare_tables(ours, theirs), args.json)
        return 0
    if args.b is None:
        raise HarnessError("compare: give A and B (entries or run folders), or one run and --published REF")
    folders = [Path(ref).is_dir() for ref in (args.a, args.b)]
    if all(folders):
        runs = read_run_folder(Path(args.a)), read_run_folder(Path(args.b))
        resamples = args.bootstrap or DEFAULT_RESAMPLES
        seed = DEFAULT_SEED if args.seed is None else args.seed
        _print_runs(compare_runs(*runs, resamples, seed, args.alpha or DEFAULT_ALPHA), args.json)
        return 0
    if any(folders):
        folder, other = (args.a, args.b) if folders[0] else (args.b, args.a)
        raise HarnessError(
            f"compare: {folder} is a run folder but {other} is not; compare a run with an entry as "
            f"`compare {folder} --published {other}`, or two run folders for paired statistics"
        )
    _refuse_statistics_flags(args, "two entries")
    _print_entries(args)
    return 0


def _refuse_statistics_flags(args: argparse.Namespace, mode: str) -> None:
    given = [f"--{name}" for name in _STATISTICS_FLAGS if getattr(args, name) is not None]
    if given:
        raise HarnessError(f"compare: {', '.join(given)} apply to two run folders only, not to {mode}")


def _print_entries(args: argparse.Namespace) -> None:
    a, b = pick_entry(args, args.a), pick_entry(args, args.b)
    result = compare_entries(a, b)
    if args.json:
        _print_json({"comparison": "entries", "a": a.model.name, "b": b.model.name, **asdict(result)})
        return
    title = f"B - A: A = {a.model.name} ({a.benchmark.key()}), B = {b.model.name} ({b.benchmark.key()})"
    table = _table(title, ("name", "kind", "A", "B", "B - A", "note"), numeric=("A", "B", "B - A"))
    for d in result.deltas:
        table.add_row(*(entry_text(cell) for cell in (d.name, d.kind, _pct(d.a), _pct(d.b), _gap(d.delta), d.note)))
    plain_console().print(table)
    if result.only_a or result.only_b:
        print(
            f"note: aggregates are over different task sets (only in A: {len(result.only_a)}, "
            f"only in B: {len(result.only_b)})",
            file=sys.stderr,
        )


def _print_scores(result: ScoreComparison, as_json: bool) -> None:
    if as_json:
        payload = asdict(result)
        payload["tasks"] = [{**asdict(g), "gap": g.gap} for g in result.tasks]
        payload["means"] = [{**asdict(m), "gap": m.gap} for m in result.means]
        _print_json({"comparison": "published", **payload})
        return
    console = plain_console(_WIDTH_OFF_TERMINAL)
    _print_sides({"ours": result.ours, "published": result.theirs})
    if not result.tasks:
        _print_lists({"only ours": result.only_ours, "only published": result.only_theirs}, result.notes)
        raise HarnessError("compare: the two sides have no task in common")
    title = "ours - published (main metric ×100, largest |gap| first)"
    columns = ("task", "modality", "metric", "ours", "published", "gap", "n ours", "n published", "note")
    table = _table(title, columns, numeric=("ours", "published", "gap", "n ours", "n published"))
    for g in result.tasks:
        cells = (g.task, g.modality, g.metric, _pct(g.ours), _pct(g.theirs), _gap(g.gap), _count(g.num_ours))
        table.add_row(*(entry_text(c) for c in (*cells, _count(g.num_theirs), g.note)))
    console.print(table)
    means = _table("means over the shared tasks only", ("name", "kind", "tasks", "ours", "published", "gap"),
                   numeric=("tasks", "ours", "published", "gap"))  # fmt: skip
    for m in result.means:
        means.add_row(
            *(entry_text(c) for c in (m.name, m.kind, str(m.tasks), _pct(m.ours), _pct(m.theirs), _gap(m.gap)))
        )
    console.print(means)
    _print_lists({"only ours": result.only_ours, "only published": result.only_theirs}, result.notes)


def _print_runs(result: RunComparison, as_json: bool) -> None:
    if as_json:
        payload = asdict(result)
        payload["tasks"] = [{**asdict(t), "difference": t.difference} for t in result.tasks]
        _print_json({"comparison": "runs", **payload})
        return
    console = plain_console(_WIDTH_OFF_TERMINAL)
    level = f"{100 * (1 - result.alpha):g}%"
    _print_sides({"A": result.a, "B": result.b})
    if not result.tasks:
        _print_lists({"only A": result.only_a, "only B": result.only_b}, result.notes)
        raise HarnessError("compare: the two runs have no task in common")
    title = (
        f"B - A (main metric ×100, largest |B - A| first; {level} paired bootstrap interval, two-sided "
        f"sign-flip p; {result.resamples} resamples, seed {result.seed}; * p < {result.alpha:g})"
    )
    table = _table(
        title,
        ("task", "metric", "A", "B", "B - A", f"{level} CI", "p", "", "n", "note"),
        numeric=("A", "B", "B - A", "p", "n"),
    )
    for t in result.tasks:
        n = str(t.num_a) if t.num_a == t.num_b else f"{t.num_a} vs {t.num_b}"
        cells = (t.task, t.metric, _pct(t.a), _pct(t.b), _gap(t.difference), *_test_cells(t.test), n, t.note)
        table.add_row(*(entry_text(c) for c in cells))
    console.print(table)
    means = _table(
        "means over the paired tasks (stratified by task)",
        ("name", "kind", "tasks", "A", "B", "B - A", f"{level} CI", "p", ""),
        numeric=("tasks", "A", "B", "B - A"),
    )
    for m in result.means:
        mean_cells = (m.name, m.kind, str(m.tasks), _pct(m.a), _pct(m.b), _gap(m.b - m.a), *_test_cells(m.test))
        means.add_row(*(entry_text(c) for c in mean_cells))
    console.print(means)
    _print_lists({"only A": result.only_a, "only B": result.only_b}, result.notes)


def _test_cells(test: PairedTest | None) -> tuple[str, str, str]:
    if test is None:
        return ("", "", "")
    interval = f"[{100 * test.ci_low:+.1f}, {100 * test.ci_high:+.1f}]"
    p = f"{test.p_value:.3f}" if test.p_value >= 0.001 else f"{test.p_value:.1e}"
    return (interval, p, "*" if test.significant else "")


def _print_sides(sides: dict[str, str]) -> None:
    for label, side in sides.items():
        print(entry_text(f"{label}: {side}").plain)


def _print_lists(lists: dict[str, list[str]], notes: list[str]) -> None:
    for label, tasks in lists.items():
        if tasks:
            print(entry_text(f"{label} ({len(tasks)}): {', '.join(tasks)}").plain)
    for note in notes:
        print(entry_text(f"note: {note}").plain)


def _table(title: str, columns: tuple[str, ...], numeric: tuple[str, ...]) -> Table:
    table = Table(title=entry_text(title))
    for name in columns:
        # Names, numbers and intervals are kept whole; only the notes wrap.
        wraps = name == "note"
        table.add_column(name, justify="right" if name in numeric else "left", no_wrap=not wraps, overflow="fold")
    return table


def _print_json(payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(json_escaped(text) + "\n")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _gap(value: float) -> str:
    return f"{100 * value:+.1f}"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)
