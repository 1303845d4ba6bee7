"""Check that a task's data is all there, without loading a model: rows, tables and every medium.

The records come from the harness's own loading (:func:`harness.data.load_rows` and
:func:`harness.data.build_task_data` with ``check_media=False``, so templates and path
resolution are exactly a run's); then each distinct image path, frame folder and video file is
looked up, frame folders are counted against the task's ``video.num_frames``, and each audio
file's header is read (present, readable, duration). Unlike a run,
the check does not stop at the first missing file: it counts them all. A task whose rows cannot
be read gets its error line and the other tasks are still checked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.data import DatasetRows, DataSourceMode, TaskData, build_task_data, load_rows, resolve_inside, row_limit
from harness.datasetup.report import SHOWN_PATHS, CheckReport, MediaCheck, TaskCheck
from harness.errors import HarnessError
from harness.inputs import AudioData, ImageData, VideoRef
from harness.media.audio import audio_info
from harness.media.video import VIDEO_SUFFIXES, list_frames
from harness.taskspec import LoadedTask
from harness.taskspec.schema import QrelsRelevance, TaskSpec

MediaProgress = Callable[[str, int, int], None]
"""``(task, media checked, media total)``: called as the media of a task are looked up."""


def check_tasks(
    tasks: Sequence[LoadedTask],
    data_basedir: Path,
    data_source: DataSourceMode,
    progress: MediaProgress | None = None,
) -> CheckReport:
    """Check every task's data under ``data_basedir``; never raises for a task's bad data."""
    base = Path(os.path.abspath(data_basedir))
    report = CheckReport(data_basedir=str(data_basedir), data_source=data_source)
    for task in tasks:
        report.tasks.append(check_task(task.spec, base, data_source, progress))
    return report


def check_task(
    spec: TaskSpec, base: Path, data_source: DataSourceMode, progress: MediaProgress | None = None
) -> TaskCheck:
    """Check one task: its tables (rows, corpus, qrels), then the media its records name."""
    result = TaskCheck(task=spec.task, modality=spec.modality, status="error")
    rows = _table(result, "rows", lambda: load_rows(spec.dataset, base, data_source, row_limit(spec.num_rows, None)))
    if rows is not None:
        result.rows, result.provenance, result.source = len(rows.rows), rows.provenance, describe(rows.provenance)
        if not rows.rows:
            result.errors.append("rows: the dataset has no rows")
    if spec.candidates.corpus is not None and spec.candidates.corpus.rows is None:
        corpus = _table(result, "corpus", lambda: load_rows(spec.candidates.corpus, base, data_source))  # type: ignore[arg-type]
        result.corpus_rows = None if corpus is None else len(corpus.rows)
    if isinstance(spec.relevance, QrelsRelevance):
        relevance = spec.relevance
        qrels = _table(result, "qrels", lambda: load_rows(relevance.dataset, base, data_source))
        result.qrels_rows = None if qrels is None else len(qrels.rows)
    if result.errors or rows is None:
        return result
    try:
        media_root = resolve_inside(base, spec.media_root, "media_root") if spec.media_root else base
    except HarnessError as error:
        result.errors.append(f"media_root: {error}")
        return result
    data = _build(spec, rows, media_root, base, data_source, result)
    if data is None:
        return result
    _check_media(spec, data, base, result, progress)
    # A short frame folder is sampled as it is by a run, but it usually means a broken extraction.
    missing = result.images.missing or result.videos.missing or result.row_errors or result.videos.short
    missing = missing or result.audios.missing
    result.status = "incomplete" if missing else "complete"
    return result


def describe(provenance: dict[str, object]) -> str:
    """Where rows came from, in one line."""
    if provenance.get("kind") == "local":
        files = [str(f) for f in provenance.get("files", []) or []]  # type: ignore[attr-defined]
        shown = ", ".join(files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
        return f"local: {shown}"
    if provenance.get("kind") == "hub":
        revision = provenance.get("revision") or "not pinned"
        config = f"/{provenance['name']}" if provenance.get("name") else ""
        return f"hub: {provenance.get('path')}{config} split {provenance.get('split')}, revision {revision}"
    if "subsets" in provenance:
        parts = provenance["subsets"]
        kind = provenance.get("kind")
        return f"{kind}: {len(parts)} subsets" if isinstance(parts, list) else str(kind)
    return str(provenance.get("kind", "unknown"))


def _table(result: TaskCheck, what: str, load: Callable[[], DatasetRows]) -> DatasetRows | None:
    try:
        return load()
    except HarnessError as error:
        result.errors.append(f"{what}: {error}")
    except Exception as error:  # a loader's unexpected failure is the task's error line, not a traceback
        result.errors.append(f"{what}: {type(error).__name__}: {error}")
    return None


def _build(
    spec: TaskSpec, rows: DatasetRows, media_root: Path, base: Path, mode: DataSourceMode, result: TaskCheck
) -> TaskData | None:
    """The task's records; when a row fails and rows stand alone (local ranking, no corpus or
    qrels), each row is built on its own so that every failing row is counted."""
    try:
        return build_task_data(spec, rows, media_root, check_media=False, data_basedir=base, data_source=mode)
    except HarnessError as error:
        first = str(error)
    standalone = spec.ranking == "local" and spec.candidates.corpus is None
    standalone = standalone and not isinstance(spec.relevance, QrelsRelevance)
    if not standalone:
        result.errors.append(first)
        return None
    data = TaskData()
    for row, location in zip(rows.rows, rows.locations, strict=True):
        single = DatasetRows(rows=[row], locations=[location], provenance=rows.provenance)
        try:
            part = build_task_data(spec, single, media_root, check_media=False, data_basedir=base, data_source=mode)
        except HarnessError as error:
            result.row_errors += 1
            if len(result.errors) < SHOWN_PATHS:
                result.errors.append(str(error))
            continue
        data.queries += part.queries
        for candidate_id, candidate in part.candidates.items():
            data.candidates.setdefault(candidate_id, candidate)
    return data


def _check_media(spec: TaskSpec, data: TaskData, base: Path, result: TaskCheck, progress: MediaProgress | None) -> None:
    images: dict[Path, None] = {}
    videos: dict[Path, None] = {}
    pages: set[str] = set()
    for item in [q.input for q in data.queries] + list(data.candidates.values()):
        for image in item.all_images():
            if isinstance(image, ImageData):
                pages.add(image.digest)
            else:
                images[image] = None
        if isinstance(item.video, VideoRef):
            videos[item.video.source] = None
    _check_audio(spec, data, base, result)
    result.pages = len(pages)
    result.videos.num_frames = spec.video.num_frames
    total, done = len(images) + len(videos), 0
    for path in images:
        _count(result.images, path, base, _is_file(path))
        done += 1
        if progress is not None and (done % 200 == 0 or done == total):
            progress(spec.task, done, total)
    for path in videos:
        frames = _frame_count(path)
        _count(result.videos, path, base, frames is None or frames > 0)
        if frames is not None and 0 < frames < spec.video.num_frames:
            result.videos.short += 1
            if len(result.videos.first_short) < SHOWN_PATHS:
                shown = _shown(path, base)
                result.videos.first_short.append(f"{shown} ({frames} of {spec.video.num_frames} frames)")
        done += 1
        if progress is not None and (done % 200 == 0 or done == total):
            progress(spec.task, done, total)


def _check_audio(spec: TaskSpec, data: TaskData, base: Path, result: TaskCheck) -> None:
    """Each distinct audio file is looked up and its header read (never decoded)."""
    files: dict[Path, None] = {}
    in_rows: set[str] = set()
    for item in [q.input for q in data.queries] + list(data.candidates.values()):
        if item.audio is None:
            continue
        if isinstance(item.audio.source, AudioData):
            in_rows.add(item.audio.source.digest)
        else:
            files[item.audio.source] = None
    check = result.audios
    check.in_rows, check.max_seconds = len(in_rows), spec.audio.max_seconds
    for path in files:
        present = _is_file(path)
        if present:
            try:
                seconds = audio_info(path).seconds
            except HarnessError:
                check.unreadable += 1
                present = False
            else:
                check.seconds += seconds
                check.longer += seconds > spec.audio.max_seconds
        _count(check, path, base, present)


def _count(check: MediaCheck, path: Path, base: Path, present: bool) -> None:
    check.referenced += 1
    if present:
        check.present += 1
        return
    check.missing += 1
    if len(check.first_missing) < SHOWN_PATHS:
        check.first_missing.append(_shown(path, base))


def _frame_count(path: Path) -> int | None:
    """Frames in a frame folder; None for a video file; 0 for anything missing or unusable."""
    try:
        if path.is_dir():
            return len(list_frames(path))
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            return None
    except OSError:
        pass
    return 0


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
