"""``harness leaderboard add | validate | show | compare | build | export | import-reference | schema``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from harness.cli import add_common_flags, compare_command
from harness.cli.leaderboard_io import (
    entry_text,
    parse_benchmark,
    pick_entry,
    plain_console,
    selected_entries,
    task_catalogue,
)
from harness.errors import HarnessError
from harness.leaderboard import (
    REFERENCE_BENCHMARK,
    add_entry,
    build_site,
    entry_json_schema,
    import_reference,
    list_entries,
    load_entry,
    to_markdown,
    to_mmeb,
)
from harness.leaderboard.display import json_escaped, printable
from harness.leaderboard.reference import TaskInfo
from harness.leaderboard.reference_v3 import import_v3_tables, write_v3_entries
from harness.leaderboard.table import columns_for, format_cell, row_for, sort_rows
from harness.results.files import atomic_writer
from harness.taskspec import TaskIndex

__all__ = ["DEFAULT_DIR", "add_parsers", "parse_benchmark", "task_catalogue"]

DEFAULT_DIR = Path("leaderboard")


def add_parsers(subparsers: Any) -> None:
    """Register ``harness leaderboard`` and its subcommands."""
    parser = subparsers.add_parser("leaderboard", help="add, check, compare, export and publish leaderboard entries")
    commands = parser.add_subparsers(title="leaderboard commands", required=True)

    add = _command(commands, "add", "validate a results file and add it to a leaderboard folder", _add)
    add.add_argument("results", type=Path, help="leaderboard.json written by `harness run`, or a 2.0 entry")
    add.add_argument("--benchmark", help="NAME@VERSION for a run file (default: the run's group covering its tasks)")
    add.add_argument("--name", help="model display name for a run file (default: the checkpoint)")

    validate = _command(commands, "validate", "check entry files (or every entry of the folder)", _validate)
    validate.add_argument("paths", nargs="*", type=Path, help="entry or results files (default: the folder's)")

    show = _command(commands, "show", "print the leaderboard as a table", _show)
    show.add_argument("--sort", default="overall", help="column to sort by (any column name)")
    show.add_argument("--ascending", action="store_true", help="smallest first")
    show.add_argument("--meta", action="store_true", help="add a column per meta-task")
    show.add_argument("--benchmark", help="only entries of NAME@VERSION")

    compare_command.add_arguments(_command(commands, "compare", compare_command.HELP, compare_command.compare))

    build = _command(commands, "build", "write the static site (index.html + JSON)", _build)
    build.add_argument("--out", type=Path, default=Path("site"), help="output folder (replaced as a whole)")

    export = _command(commands, "export", "export to the MMEB leaderboard JSON or a Markdown table", _export)
    export.add_argument("--format", choices=["mmeb", "markdown"], required=True)
    export.add_argument("entry", nargs="?", help="for mmeb: entry file, or model name in the folder")
    export.add_argument("--benchmark", help="NAME@VERSION: pick the entry (mmeb) or filter rows (markdown)")
    export.add_argument("--meta", action="store_true", help="markdown: add a column per meta-task")
    export.add_argument("-o", "--output", type=Path, help="write here instead of stdout")

    importer = _command(commands, "import-reference", "import the reference project's published score files", _import)
    importer.add_argument("source", type=Path, help="folder with the v2.0.0, v2.0.1 and v2.1-... score sets")

    importer_v3 = _command(
        commands, "import-reference-v3", "import the reference's published MMEB-V3 paper scores", _import_v3
    )
    importer_v3.add_argument("source", type=Path, help="the reference's docs/mmebv3_reproduction/paper_vs_repro folder")

    schema = _command(commands, "schema", "print the JSON Schema of an entry", _schema)
    schema.add_argument("-o", "--output", type=Path, help="write here instead of stdout")


def _command(commands: Any, name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="leaderboard folder (default ./leaderboard)")
    add_common_flags(parser)
    parser.set_defaults(handler=handler)
    return parser


def _add(args: argparse.Namespace) -> int:
    entry = load_entry(args.results, parse_benchmark(args.benchmark), args.name)
    path = add_entry(args.dir, entry)
    name = printable(entry.model.name)
    print(f"added {name!r} on {entry.benchmark.key()} ({len(entry.tasks())} tasks): {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    if args.paths:
        for path in args.paths:
            entry = load_entry(path)
            print(f"ok: {path} ({printable(entry.model.name)}, {entry.benchmark.key()}, {len(entry.tasks())} tasks)")
    else:
        entries = list_entries(args.dir)
        print(f"ok: {len(entries)} entries in {args.dir}")
    return 0


def _show(args: argparse.Namespace) -> int:
    entries = selected_entries(args)
    columns = columns_for(entries, meta_tasks=args.meta)
    rows = sort_rows([row_for(s) for s in entries], columns, args.sort, descending=not args.ascending)
    table = Table(title=entry_text(f"{args.dir} (scores ×100)"))
    for column in columns:
        table.add_column(entry_text(column.name), justify="right" if column.numeric else "left")
    for row in rows:
        table.add_row(*[entry_text(format_cell(c, row.value(c))) for c in columns])
    plain_console().print(table)
    return 0


def _build(args: argparse.Namespace) -> int:
    index = build_site(list_entries(args.dir), args.out)
    print(f"site: {index}")
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.format == "markdown":
        text = to_markdown(selected_entries(args), meta_tasks=args.meta)
    else:
        if args.entry is None:
            raise HarnessError("export --format mmeb: name the entry (a file, or a model name in the folder)")
        # Same data, but no character that could drive a terminal is written raw.
        text = json_escaped(json.dumps(to_mmeb(pick_entry(args, args.entry)), indent=4, ensure_ascii=False)) + "\n"
    _emit(text, args.output)
    return 0


def _import(args: argparse.Namespace) -> int:
    report = import_reference(args.source, args.dir, task_catalogue(TaskIndex(), REFERENCE_BENCHMARK))
    print(f"imported {len(report.written)} reference entries into {args.dir}")
    for key, reason in sorted(report.excluded.items()):
        print(f"left out dataset key {printable(key)!r}: {reason}")
    return 0


def _import_v3(args: argparse.Namespace) -> int:
    index = TaskIndex()
    catalogue = {
        name: TaskInfo(loaded.spec.modality, index.meta_task_of(name), loaded.spec.metrics.main)
        for name, loaded in index.tasks.items()
    }
    result = import_v3_tables(args.source, catalogue)
    written = write_v3_entries(result, args.dir)
    print(f"imported {len(written)} MMEB-V3 paper entries into {args.dir}")
    for category, names in result.unmatched.items():
        shown = ", ".join(printable(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        print(f"not imported ({category}, no harness task of that name): {shown}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    _emit(entry_json_schema(), args.output)
    return 0


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    with atomic_writer(output) as handle:
        handle.write(text)
    print(f"wrote {output}")
