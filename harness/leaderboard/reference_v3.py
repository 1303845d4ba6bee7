"""Import the published MMEB-V3 per-task paper scores as leaderboard entries.

The reference publishes them as CSV tables, one per category, in
``docs/mmebv3_reproduction/paper_vs_repro/<run>/<run>_<category>_<metric>_paper_vs_repro.csv``
(VLM2Vec main @44f991d): a ``dataset`` column of display names (``BRIGHT aops``,
``GAE-guiact-q2s``, ``ViDoRe arxivqa``) and one ``<Model> (paper)`` column per model, ×100 with
one decimal; the audio table has a single ``paper hit@1`` column (Omni-Embed-Nemotron-3B). The
"reproduced" columns are the reference's own re-runs and are not imported.

Display names are matched to harness task names by one rule (:func:`name_key`: case and
punctuation ignored; then also without a leading ``<category>-``, as in ``Tool-apibank``)
against each task's full name, its name without the first segment and its last segment. A name
that matches no task of the catalogue is reported, never guessed. Each model becomes one entry
of benchmark ``mmeb_v3`` version ``paper`` over the tasks the catalogue has.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.leaderboard.checks import EntryError, compute_aggregates, validated
from harness.leaderboard.entry import Aggregates, Benchmark, LeaderboardEntry, TaskResult
from harness.leaderboard.files import entry_text
from harness.leaderboard.folder import ENTRIES_DIR, entry_slug
from harness.leaderboard.reference import TaskInfo, write_reference_folder

BENCHMARK = "mmeb_v3"
VERSION = "paper"
SOURCE = "TIGER-AI-Lab/VLM2Vec docs/mmebv3_reproduction/paper_vs_repro @44f991d (paper columns)"
DATE = "2026-08-20"
"""The date of that commit (the tables give none)."""
AUDIO_MODEL = "Omni-Embed-Nemotron-3B"
"""The one model the audio table reports (its ``paper hit@1`` column)."""
MAX_TABLE_BYTES = 1 << 20
"""Largest CSV table read (the largest published one is about 8 KB)."""
MAX_TABLES = 256
"""Most tables one import reads (the reference publishes 27)."""
_PAPER = re.compile(r"^(?P<model>.+) \(paper\)$")
_AVERAGE = re.compile(r"\bavg\b", re.IGNORECASE)
"""Rows of averages (``AVG (n=35)``, ``PAPER category avg (...)``): recomputed, never imported."""
_FILE = re.compile(r"^[A-Za-z0-9.-]+_(?P<category>[a-z]+)_[A-Za-z@0-9_]+_paper_vs_repro\.csv$")


@dataclass
class V3Import:
    """The entries an import builds and the display names it could not place."""

    entries: list[LeaderboardEntry] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    """Category -> display names with no harness task (yet)."""


def name_key(name: str) -> str:
    """The matching form of a display or task name: lowercase letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def task_lookup(catalogue: Mapping[str, TaskInfo]) -> dict[str, str]:
    """Matching form -> task name, over each task's full name, its name without the first segment
    and its last segment; a form two tasks share is dropped (it names neither for sure)."""
    lookup: dict[str, str] = {}
    clashes: set[str] = set()
    for task in catalogue:
        parts = task.split("/")
        for form in {name_key(task), name_key("/".join(parts[1:])), name_key(parts[-1])} - {""}:
            if form in lookup and lookup[form] != task:
                clashes.add(form)
            lookup.setdefault(form, task)
    return {form: task for form, task in lookup.items() if form not in clashes}


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of one published table (comment lines starting with ``#`` skipped), bounded."""
    raw = table_bytes(path)
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is no part of the first column's name
    except UnicodeDecodeError as error:
        raise EntryError(f"{path}: not UTF-8 (byte {error.start})") from None
    lines = [line for line in text.splitlines() if not line.lstrip('"').startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if "dataset" not in (reader.fieldnames or []):
        raise EntryError(f"{path}: no 'dataset' column (columns: {', '.join(reader.fieldnames or [])})")
    return list(reader)


def table_bytes(path: Path) -> bytes:
    """The bytes of one table, its size checked before it is read."""
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise EntryError(f"{path}: {size:,} bytes, over the limit of {MAX_TABLE_BYTES:,} for a score table")
        return path.read_bytes()
    except OSError as error:
        raise EntryError(f"{path}: cannot read ({error.strerror or error})") from None


def import_v3_tables(source: Path, catalogue: Mapping[str, TaskInfo]) -> V3Import:
    """Entries from every table under ``source`` (``paper_vs_repro/``: one folder per run).

    The runs' tables repeat the paper columns, each with gaps (the Omni-Embed-Nemotron tables
    leave some image rows empty that the Qwen3-VL tables fill): the values are merged, and two
    tables giving one (model, task) different values is an error.
    """
    tables = sorted(p for p in source.rglob("*_paper_vs_repro.csv") if _FILE.match(p.name))
    if not tables:
        raise EntryError(f"{source}: no */*_paper_vs_repro.csv score tables")
    if len(tables) > MAX_TABLES:
        raise EntryError(f"{source}: {len(tables)} score tables, over the limit of {MAX_TABLES}")
    lookup = task_lookup(catalogue)
    result = V3Import()
    scores: dict[str, dict[str, dict[str, TaskResult]]] = {}  # model -> modality -> task
    seen: dict[tuple[str, str], tuple[float, str]] = {}  # (model, task) -> (value, where)
    unmatched: dict[str, set[str]] = {}
    digest = hashlib.sha256()
    for path in tables:
        match = _FILE.match(path.name)
        assert match is not None
        category = match.group("category")
        if category == "omniset":  # a diagnostic outside the 190 tasks
            continue
        digest.update(table_bytes(path))
        for row_number, row in enumerate(read_table(path), start=2):
            name = (row.get("dataset") or "").strip()
            if not name or _AVERAGE.search(name):
                continue
            task = lookup.get(name_key(name)) or lookup.get(name_key(_without_category(name, category)))
            if task is None:
                unmatched.setdefault(category, set()).add(name)
                continue
            info = catalogue[task]
            for model, value in _paper_values(path, row_number, row, category):
                where = f"{path.parent.name}/{path.name}:{row_number}: {name}: {model}"
                if (model, task) in seen:
                    earlier, at = seen[(model, task)]
                    if earlier != value:
                        raise EntryError(f"{where}: {value} differs from {earlier} in {at}")
                    continue
                seen[(model, task)] = (value, where)
                scores.setdefault(model, {}).setdefault(info.modality, {})[task] = _result(where, value, info)
    result.unmatched = {category: sorted(names) for category, names in sorted(unmatched.items())}
    for model, by_modality in sorted(scores.items()):
        result.entries.append(_entry(model, by_modality, digest.hexdigest()))
    if not result.entries:
        raise EntryError(f"{source}: no paper scores found (no '<Model> (paper)' column with values)")
    return result


def _without_category(name: str, category: str) -> str:
    """A display name without its table's category as a prefix (``Tool-apibank`` -> ``apibank``)."""
    prefix = f"{category}-"
    return name[len(prefix) :] if name.lower().startswith(prefix) else name


def _paper_values(path: Path, row_number: int, row: Mapping[str, str], category: str) -> list[tuple[str, float]]:
    """(model, value ×100) of the row's paper columns; empty cells are no score."""
    columns = {AUDIO_MODEL: "paper hit@1"} if category == "audio" else {}
    for column in row:
        match = _PAPER.match((column or "").strip())
        if match:
            columns[match.group("model").strip()] = column
    values = []
    for model, column in columns.items():
        cell = (row.get(column) or "").strip()
        if not cell:
            continue
        try:
            number = float(cell)
        except ValueError:
            raise EntryError(f"{path.name}:{row_number}: {column}: {cell!r} is not a number") from None
        values.append((model, number))
    return values


def _result(where: str, value: float, info: TaskInfo) -> TaskResult:
    if not 0.0 <= value <= 100.0:
        raise EntryError(f"{where}: {value} is outside 0-100")
    score = round(value / 100.0, 6)
    fields = {
        "task_version": VERSION,
        "meta_task": info.meta_task,
        "main_metric": info.main_metric,
        "main_score": score,
        "metrics": {info.main_metric: score},
        "num_queries": None,
    }
    return validated(TaskResult, fields, where=where)


def _entry(model: str, scores: dict[str, dict[str, TaskResult]], digest: str) -> LeaderboardEntry:
    entry = validated(
        LeaderboardEntry,
        {
            "benchmark": {"name": BENCHMARK, "version": VERSION},
            "model": {"name": model},
            "provenance": {"kind": "reference_import", "date": DATE, "source": SOURCE, "source_sha256": digest},
            "scores": scores,
            "aggregates": Aggregates(overall=None, modalities={}, meta_tasks={}),
        },
    )
    entry.aggregates = compute_aggregates(entry)
    return entry


def write_v3_entries(result: V3Import, root: Path) -> list[Path]:
    """Write ``result``'s entries under ``root``'s ``mmeb_v3@paper`` folder (replaced as a whole;
    entries added there by hand are kept)."""
    target = root / ENTRIES_DIR / Benchmark(name=BENCHMARK, version=VERSION).key()
    texts: dict[str, str] = {}
    for entry in result.entries:
        name = f"{entry_slug(entry)}.json"
        if name.casefold() in {n.casefold() for n in texts}:
            raise EntryError(f"models {entry.model.name!r} and another one would share the entry file {name}")
        texts[name] = entry_text(entry)
    return write_reference_folder(target, texts)
