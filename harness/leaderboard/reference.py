"""Import the reference project's published score files as leaderboard entries.

The score files (``{"metadata": {...}, "metrics": {modality: {dataset_key: {metric: value}}}}``,
one per model and score-set version) are read verbatim; each dataset key is mapped explicitly
to a harness task, whose task file supplies the meta-task and the main metric. A key that maps
to no task is an error unless it is listed in :data:`EXCLUDED_KEYS` with its reason.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.leaderboard.checks import EntryError, compute_aggregates, validated
from harness.leaderboard.entry import Aggregates, Benchmark, LeaderboardEntry, TaskResult
from harness.leaderboard.files import entry_text, load_entry
from harness.leaderboard.folder import ENTRIES_DIR, entry_slug, replace_folder
from harness.leaderboard.json_input import parse_json

BENCHMARK = "mmeb_v2"


@dataclass(frozen=True)
class ScoreSet:
    """One published score-set folder: its benchmark version and the modalities imported from it."""

    folder: str
    version: str
    modalities: tuple[str, ...]
    note: str


SCORE_SETS = (
    ScoreSet("v2.0.0", "v2.0.0", ("image", "video", "visdoc"), "the VLM2Vec-V2 paper's numbers (Table 5)"),
    ScoreSet("v2.0.1", "v2.0.1", ("image", "video", "visdoc"), "MomentSeeker deduplicated, other re-runs"),
    # Only the visdoc tasks were re-run for v2.1 (page labels of ViDoSeek/MMLongBench fixed);
    # its image and video scores are copies of v2.0.1, so they are not imported twice.
    ScoreSet("v2.1-baselines-visdoc-page-fixed", "v2.1", ("visdoc",), "visdoc only, page-fixed ViDoSeek/MMLongBench"),
)

RENAMED_KEYS = {"ViDoSeek-page-fixed": "ViDoSeek-page", "MMLongBench-page-fixed": "MMLongBench-page"}
"""Dataset keys of the reference's leaderboard export that name a harness task differently."""

EXCLUDED_KEYS = {"MomentSeeker_1k8": "the old 1,800-query MomentSeeker set, not one of the 78 MMEB-V2 tasks"}
"""Dataset keys deliberately not imported, with why."""

SOURCE = "TIGER-AI-Lab/VLM2Vec experiments/public/all_scores"
"""Where the score files come from, recorded in each entry's provenance."""


@dataclass
class ImportReport:
    """What an import wrote and which dataset keys it left out."""

    written: list[Path] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskInfo:
    """What an import needs to know of a benchmark task (the caller reads it from the task files)."""

    modality: str
    meta_task: str | None
    main_metric: str


def reference_entry(
    path: Path, score_set: ScoreSet, catalogue: Mapping[str, TaskInfo], excluded: dict[str, str]
) -> LeaderboardEntry:
    """The entry for one published score file (keys left out are added to ``excluded``)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise EntryError(f"{path}: cannot read ({error.strerror or error})") from None
    payload = parse_json(raw, str(path))
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    metrics = payload.get("metrics") if isinstance(payload, dict) else None
    if not isinstance(metadata, dict) or not isinstance(metrics, dict):
        raise EntryError(f"{path}: expected 'metadata' and 'metrics' objects")
    try:
        return _entry(path, raw, metadata, metrics, score_set, catalogue, excluded)
    except EntryError as error:
        raise EntryError(f"{path}: {error}") from None


def _entry(
    path: Path,
    raw: bytes,
    metadata: dict[str, Any],
    metrics: dict[str, Any],
    score_set: ScoreSet,
    catalogue: Mapping[str, TaskInfo],
    excluded: dict[str, str],
) -> LeaderboardEntry:
    scores: dict[str, dict[str, TaskResult]] = {}
    for modality in score_set.modalities:
        tasks = metrics.get(modality, {})
        if not isinstance(tasks, dict):
            raise EntryError(f"metrics.{modality}: expected an object of datasets")
        for key, values in tasks.items():
            if key in EXCLUDED_KEYS:
                excluded[key] = EXCLUDED_KEYS[key]
                continue
            task = RENAMED_KEYS.get(str(key), str(key))
            info = catalogue.get(task)
            if info is None or info.modality != modality:
                raise EntryError(f"metrics.{modality}.{key}: no {modality} task of {BENCHMARK} has this name")
            scores.setdefault(modality, {})[task] = _task_result(f"metrics.{modality}.{key}", values, info, score_set)
    entry = validated(
        LeaderboardEntry,
        {
            "benchmark": {"name": BENCHMARK, "version": score_set.version},
            "model": {"name": metadata.get("model_name")},
            "provenance": {
                "kind": "reference_import",
                "date": metadata.get("report_generated_date"),
                "source": f"{SOURCE}/{score_set.folder}/{path.name} ({score_set.note})",
                "source_sha256": hashlib.sha256(raw).hexdigest(),
            },
            "scores": scores,
            "aggregates": Aggregates(overall=None, modalities={}, meta_tasks={}),
        },
    )
    entry.aggregates = compute_aggregates(entry)
    return entry


def _task_result(where: str, values: Any, info: TaskInfo, score_set: ScoreSet) -> TaskResult:
    if not isinstance(values, dict):
        raise EntryError(f"{where}: expected an object of metrics")
    metrics = {name: value for name, value in values.items() if "@" in name}
    if info.main_metric not in metrics:
        raise EntryError(f"{where}: main metric {info.main_metric} is missing")
    fields = {
        "task_version": score_set.version,
        "meta_task": info.meta_task,
        "main_metric": info.main_metric,
        "main_score": metrics[info.main_metric],
        "metrics": metrics,
        "num_queries": values.get("num_data"),
    }
    return validated(TaskResult, fields, where=where)


def import_reference(source: Path, root: Path, catalogue: Mapping[str, TaskInfo]) -> ImportReport:
    """Write one entry per score file of every known score set under ``source`` into ``root``.

    ``catalogue`` describes every task of the benchmark (``BENCHMARK``) by name; the leaderboard
    reads no task files itself. Every file is read and checked before anything is written, so a
    bad file leaves ``root`` as it was.
    """
    report = ImportReport()
    planned: dict[Path, dict[str, str]] = {}
    for score_set in SCORE_SETS:
        folder = source / score_set.folder
        files = sorted(folder.glob("*.json"))
        if not files:
            raise EntryError(f"{folder}: no score files (expected the {score_set.folder} score set)")
        entries = [reference_entry(path, score_set, catalogue, report.excluded) for path in files]
        target = root / ENTRIES_DIR / Benchmark(name=BENCHMARK, version=score_set.version).key()
        planned[target] = {f"{entry_slug(entry)}.json": entry_text(entry) for entry in entries}
    for target, texts in planned.items():
        report.written += write_reference_folder(target, texts)
    return report


def write_reference_folder(target: Path, texts: Mapping[str, str]) -> list[Path]:
    """Replace ``target`` (one benchmark version's folder) by the entry files ``texts`` (file name ->
    entry text), keeping the entries added there by hand; the paths written."""

    def build(staging: Path) -> None:
        for kept in hand_added_entries(target):
            if kept.name not in texts:
                shutil.copy2(kept, staging / kept.name)
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8")

    replace_folder(target, build)
    return [target / name for name in texts]


def hand_added_entries(folder: Path) -> list[Path]:
    """Files in ``folder`` that are not imported reference entries."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.json")) if load_entry(p).provenance.kind != "reference_import"]
