"""What ``compare --published`` names: an entry of the leaderboard folder, an entry file, or one of
the reference project's published score files, as a :class:`ScoreTable`.

``MODEL@VERSION`` is the entry of model ``MODEL`` on a benchmark version ``VERSION`` (e.g.
``VLM2Vec-V2.0-Qwen2VL-2B@v2.0.1``) in the folder. A reference score file is read by the
importer (:func:`harness.leaderboard.reference.reference_entry`), so its dataset keys map to
tasks exactly as on import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from harness.leaderboard.checks import EntryError
from harness.leaderboard.files import entry_from_payload, read_payload
from harness.leaderboard.folder import list_entries
from harness.leaderboard.reference import SCORE_SETS, ScoreSet, TaskInfo, reference_entry
from harness.leaderboard.score_table import ScoreTable, table_from_entry

_ALL_MODALITIES = ("image", "video", "visdoc")


def resolve_published(reference: str, root: Path, catalogue: Callable[[], Mapping[str, TaskInfo]]) -> ScoreTable:
    """The scores ``reference`` names (a file path, else ``MODEL@VERSION`` in the folder ``root``).

    ``catalogue()`` describes the reference benchmark's tasks; it is called only to read a
    reference score file (it reads the task files).
    """
    path = Path(reference)
    if path.is_file():
        return published_file(path, catalogue)
    if path.exists():
        raise EntryError(f"--published {path}: not a file (expected MODEL@VERSION, an entry or a reference score file)")
    model, sep, version = reference.rpartition("@")
    if not sep or not model or not version:
        raise EntryError(
            f"--published {reference!r}: no such file, and not MODEL@VERSION (e.g. VLM2Vec-V2.0-Qwen2VL-2B@v2.0.1)"
        )
    stored = [s for s in list_entries(root) if s.entry.model.name == model]
    matches = [s for s in stored if version in (s.entry.benchmark.version, s.entry.benchmark.key())]
    if len(matches) != 1:
        versions = ", ".join(sorted({s.entry.benchmark.key() for s in stored})) or "none"
        found = "several entries" if matches else "no entry"
        raise EntryError(
            f"--published {reference!r}: {found} of model {model!r} on {version!r} in {root} "
            f"(its benchmark versions there: {versions})"
        )
    return table_from_entry(matches[0].entry, str(matches[0].path))


def published_file(path: Path, catalogue: Callable[[], Mapping[str, TaskInfo]]) -> ScoreTable:
    """An entry file (schema 2.0) or a reference score file (``{"metadata", "metrics"}``) as a table."""
    payload = read_payload(path)
    if "schema_version" in payload:
        try:
            entry = entry_from_payload(payload)
        except EntryError as error:
            raise EntryError(f"{path}: {error}") from None
        return table_from_entry(entry, str(path))
    if "metrics" in payload and "metadata" in payload:
        excluded: dict[str, str] = {}
        entry = reference_entry(path, _score_set(path), catalogue(), excluded)
        table = table_from_entry(entry, str(path))
        table.notes.extend(f"{path.name}: left out dataset key {key!r}: {why}" for key, why in sorted(excluded.items()))
        return table
    raise EntryError(f"{path}: expected an entry (schema_version) or a reference score file ('metadata' and 'metrics')")


def _score_set(path: Path) -> ScoreSet:
    """The published score set of the file's folder (its version and modalities); any other folder
    reads every modality under the version ``file``."""
    for score_set in SCORE_SETS:
        if path.parent.name == score_set.folder:
            return score_set
    return ScoreSet(path.parent.name, "file", _ALL_MODALITIES, "a score file outside the published score sets")
