"""The MMEB-V3 keys of the reference's eval YAMLs (``experiments/public/eval/{text,tool,memory,audio,
gui,image}.yaml`` of VLM2Vec main @44f991d), for entries that run a built-in V3 task.

The V3 parsers name their tables with ``query_file`` / ``candidate_file`` / ``qrels_file``, their
subset with ``subset_name``, their audio folder with ``audio_root`` and, for memory, the folder
their tables are discovered in with ``data_path`` (every path relative to ``--data_basedir``, as
the reference prefixes them). Each key is honoured: a value that names what the task already reads
changes nothing; another file or folder is read instead; a subset or instruction the task does not
have is an error. The rest is :mod:`harness.cli.reference_entries` (shared with the V2 keys).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from harness.errors import HarnessError
from harness.taskspec import TaskSpec
from harness.taskspec.schema import QrelsRelevance

REFERENCE_KEY_TASKS = {"TUTSound(hard)": "TUTSound-hard"}
"""Reference keys that are no valid task name here, and the task each runs (its files are named
by the task: ``TUTSound-hard_score.json`` where the reference writes ``TUTSound(hard)_score.json``)."""

V3_PARSERS = {
    "complex_text_retrieve": "text",
    "toolde": "tool",
    "memory_retrieval": "memory",
    "gui": "gui",
    "mcmr": "image",
    "audio_cls": "audio",
    "sounddescs_text_audio": "audio",
    "clotho_text_audio": "audio",
    "ave_retrieval": "audio",
    "audio_ret_speechcoco": "audio",
    "tutsound_audio_gnd": "audio",
    "tutsound_audio_gnd_hard": "audio",
}
"""The reference's V3 ``dataset_parser`` names and the modality of the built-in tasks each reads
(they run their built-in tasks only: a new dataset key with one of them is an error)."""

LOCAL_AS_GLOBAL = {
    "audio_cls": "every query's cand_names is the whole class list",
    "sounddescs_text_audio": "every query's cand_names is the whole pool (the evaluated queries' positives)",
}
"""Parsers whose ``eval_type: local`` ranks every query against the whole pool: the built-in tasks
write that as ``ranking: global`` (the same ranking), so ``local`` is accepted for them."""

V3_KEYS = {"query_file", "candidate_file", "qrels_file", "subset_name", "audio_root", "query_instruction"}
"""Keys only V3 entries carry (``data_path`` is shared with V2; see :func:`memory_root_update`)."""

SAMPLING_PARSERS = frozenset({"audio_cls", "sounddescs_text_audio", "audio_ret_speechcoco", "gui", "mcmr"})
"""The V3 parsers that take the first ``num_sample_per_subset`` queries (``sample_dataset``, or MCMR's
own cut); the others read every row whatever the key says."""
IMAGE_ROOT_PARSERS = frozenset({"gui", "mcmr"})
"""The V3 parsers that read ``image_root`` (elsewhere the key is an error, never a moved media root)."""

V3_NOTED_KEYS = {
    "data_path": (
        "the parser searches it only for the tables an entry does not name; the task reads its own",
        frozenset({"complex_text_retrieve"}),
    ),
    "frame_root": ("the task file names its frame folders", frozenset({"ave_retrieval"})),
    "num_sample_per_subset": ("its reference parser reads every row", frozenset(V3_PARSERS) - SAMPLING_PARSERS),
}
"""Keys accepted with one note line per config for the entries of these parsers: (meaning, parsers)."""

_TABLES = {"query_file": "queries", "candidate_file": "corpus", "qrels_file": "qrels"}
_CATEGORY_FOLDER = re.compile(r"^memory-tasks/[^/]+/(?P<name>[^/]+)/?$")


def task_name_for_key(key: str) -> str:
    """The task a reference key runs: the key itself, or its name here (:data:`REFERENCE_KEY_TASKS`)."""
    return REFERENCE_KEY_TASKS.get(key, key)


def check_v3_parser(where: str, parser: str, spec: TaskSpec) -> None:
    """A V3 parser reads built-in tasks of its modality only (``HarnessError`` otherwise)."""
    modality = V3_PARSERS[parser]
    if spec.modality != modality or (parser == "mcmr" and spec.task != "MCMR"):
        raise HarnessError(f"{where}: task '{spec.task}' ({spec.modality}) is not read by dataset_parser '{parser}'")


def ranking_matches(parser: str | None, eval_type: str, ranking: str) -> bool:
    """Whether the entry's ``eval_type`` is the task's ranking (or the same ranking, :data:`LOCAL_AS_GLOBAL`)."""
    return eval_type == ranking or (eval_type == "local" and ranking == "global" and parser in LOCAL_AS_GLOBAL)


def v3_update(where: str, entry: dict[str, Any], spec: TaskSpec) -> dict[str, Any]:
    """The changes to ``spec`` that the entry's V3 keys ask for (empty when it reads what they name)."""
    update: dict[str, Any] = {}
    for key, table in _TABLES.items():
        if key in entry:
            _merge(update, _table_update(where, key, table, entry[key], spec))
    if "subset_name" in entry:
        _check_subset(where, entry["subset_name"], spec)
    if "query_instruction" in entry:
        _check_instruction(where, entry["query_instruction"], spec)
    if "audio_root" in entry:
        _merge(update, _audio_root_update(where, entry["audio_root"], spec, update))
    parser = entry.get("dataset_parser")
    if "frame_root" in entry and parser in V3_NOTED_KEYS["frame_root"][1]:
        _check_frame_root(where, entry["frame_root"], spec)
    for key, readers in (("frame_root", V3_NOTED_KEYS["frame_root"][1]), ("image_root", IMAGE_ROOT_PARSERS)):
        if key in entry and parser not in readers:
            raise HarnessError(f"{where}: {key}: dataset_parser '{parser}' reads no {key}")
    return update


def _check_frame_root(where: str, value: Any, spec: TaskSpec) -> None:
    """``frame_root`` of an AVE entry: the task reads frames at ``<media_root>/frames/<video>``; the
    reference's value names that folder (noted), any other is an error, never silently ignored."""
    own = f"{(spec.media_root or '').rstrip('/')}/frames"
    if not isinstance(value, str) or value.rstrip("/") != own:
        raise HarnessError(
            f"{where}: frame_root: task '{spec.task}' reads its frame folders under {own!r}, got {value!r} "
            "(put or link the frames there)"
        )


def memory_root_update(where: str, value: Any, spec: TaskSpec) -> dict[str, Any]:
    """``data_path`` of a memory entry: the folder its tables are discovered in. The reference's
    ``memory-tasks/<Category>/<name>`` is the built-in flat folder ``memory-tasks/<name>`` (the
    reference's data setup links one to the other): unchanged; any other folder is searched instead."""
    if not isinstance(value, str) or not value.strip("/"):
        raise HarnessError(f"{where}: data_path: expected the folder of the memory tables, got {value!r}")
    data = spec.model_dump(exclude_unset=True)
    sources = _sections(data)
    roots = {section["discover"]["root"].rstrip("/") for section in sources if "discover" in section}
    if len(roots) != 1 or len(sources) != 3:
        raise HarnessError(f"{where}: data_path: task '{spec.task}' discovers no memory tables")
    (root,) = roots
    folder = value.rstrip("/")
    category = _CATEGORY_FOLDER.match(folder)
    if folder == root or (category is not None and f"memory-tasks/{category['name']}" == root):
        return {}
    for section in sources:
        section["discover"] = {**section["discover"], "root": folder}
    return {part: data[part] for part in ("dataset", "candidates", "relevance")}


def _table_update(where: str, key: str, table: str, value: Any, spec: TaskSpec) -> dict[str, Any]:
    """``query_file`` / ``candidate_file`` / ``qrels_file``: the task's own file (unchanged) or another
    one, read instead (a task without such a table of its own: an error)."""
    if not isinstance(value, str) or not value.strip():
        raise HarnessError(f"{where}: {key}: expected a file relative to --data_basedir, got {value!r}")
    path = value.strip()
    data = spec.model_dump(exclude_unset=True)
    candidates, relevance = data.get("candidates", {}), data.get("relevance", {})
    if table == "queries":
        section = data.get("dataset")
    elif table == "corpus":
        section = candidates.get("corpus")
    else:
        section = relevance.get("dataset") if isinstance(spec.relevance, QrelsRelevance) else None
    if not isinstance(section, dict) or "discover" in section:
        raise HarnessError(f"{where}: {key}: task '{spec.task}' reads no {table} table of its own")
    if section.get("files") == [path]:
        return {}
    changed = {**section, "path": None, "files": [path]}
    if table == "queries":
        return {"dataset": changed}
    if table == "corpus":
        return {"candidates": {**candidates, "corpus": changed}}
    return {"relevance": {**relevance, "dataset": changed}}


def _check_subset(where: str, value: Any, spec: TaskSpec) -> None:
    """The reference reads the subset's data (and, for text, picks instructions by its name): it
    must be the subset of the key's task (``text/BRIGHT/aops`` is subset ``BRIGHT/aops``)."""
    subset = str(value).strip("/")
    if not subset or not (spec.task == subset or spec.task.endswith("/" + subset)):
        raise HarnessError(f"{where}: subset_name '{value}' is not the subset of task '{spec.task}'")


def _check_instruction(where: str, value: Any, spec: TaskSpec) -> None:
    """MCMR's ``query_instruction`` starts every query; it must be the one the task's prompt writes."""
    if not isinstance(value, str) or not value.strip() or value.strip() not in spec.query.template:
        raise HarnessError(
            f"{where}: query_instruction {value!r} is not the instruction of task '{spec.task}' "
            "(write a task file with that prompt)"
        )


def _audio_root_update(where: str, value: Any, spec: TaskSpec, update: dict[str, Any]) -> dict[str, Any]:
    """``audio_root``: the folder of the task's clips and tables (the reference's audio parsers find
    both there), or for AVE the folder of its clips alone. The built-in folder: unchanged; another:
    every path of the task under the built-in folder (media root, tables, generated-row files) moves
    to it (tables named by ``*_file`` keys stay as named); AVE's clips cannot move apart from its
    frames and list (one line)."""
    if not isinstance(value, str):
        raise HarnessError(f"{where}: audio_root: expected a folder (text), got {value!r}")
    new = value.rstrip("/")
    data = spec.model_dump(exclude_unset=True)
    data.update(update)
    clips = CLIP_FOLDER_ROOTS.get(spec.task)
    if clips is not None:
        own = f"{spec.media_root.rstrip('/')}/{clips}"
        if new == own:
            return {}
        raise HarnessError(
            f"{where}: audio_root: task '{spec.task}' reads its clips under {own!r}, got {value!r} "
            "(put or link them there)"
        )
    old = REFERENCE_AUDIO_ROOTS.get(spec.task) or _data_folder(spec.media_root, data)
    if new == old:
        return {}
    new, old = (f"{folder}/" if folder else "" for folder in (new, old))

    def moved_path(path: str) -> str:
        if path.rstrip("/") == old.rstrip("/"):
            return new
        return new + path.removeprefix(old) if old and path.startswith(old) else path

    moved: dict[str, Any] = {"media_root": moved_path(spec.media_root)} if spec.media_root.strip("/") else {}
    for section in _sections(data):
        if isinstance(section.get("files"), list):
            section["files"] = [moved_path(f) if isinstance(f, str) else f for f in section["files"]]
        generate = section.get("generate")
        if isinstance(generate, dict):
            for key in ("root", "file"):
                if isinstance(generate.get(key), str):
                    generate[key] = moved_path(generate[key])
    for part in ("dataset", "candidates", "relevance"):
        if part in data:
            moved[part] = data[part]
    return moved


REFERENCE_AUDIO_ROOTS = {
    "NSynth": "audio-tasks/nsynth-1k",
    "ESC-50": "audio-tasks/esc50",
    "UrbanSound8K": "audio-tasks/urbansound8k",
    "SpeechCommands": "audio-tasks/speechcommand-1k",
    "CREMA-D": "audio-tasks/creamD",
    "SoundDescs": "audio-tasks/sounddescs-1k",
    "Clotho": "audio-tasks/clotho",
    "SpeechCOCO": "audio-tasks/speechcoco-1k",
    "TUTSound": "audio-tasks/tutsound",
    "TUTSound-hard": "audio-tasks/tutsound",
}
"""The ``audio_root`` of each built-in audio task in the reference's audio.yaml (@44f991d): the
folder every path of the task lies under (a task not listed: the deepest folder that holds them)."""

CLIP_FOLDER_ROOTS = {"AVE": "audios"}
"""Tasks whose reference ``audio_root`` is the folder of the clips alone, under the media root (AVE:
``audio-tasks/AVE/AVE_Dataset/audios``; its frames and test list are beside it)."""


def _data_folder(media_root: str, data: dict[str, Any]) -> str:
    """The deepest folder that holds the task's media root (when it has one) and every table and
    generated-row file: where the reference's ``audio_root`` points ("" when they share none)."""
    paths = [media_root.rstrip("/")] if media_root.strip("/") else []
    for section in _sections(data):
        paths += [posixpath.dirname(f) for f in section.get("files") or [] if isinstance(f, str)]
        generate = section.get("generate")
        if isinstance(generate, dict):
            if isinstance(generate.get("root"), str):
                paths.append(generate["root"])
            if isinstance(generate.get("file"), str):
                paths.append(posixpath.dirname(generate["file"]))
    if not paths or not all(paths):
        return ""
    return posixpath.commonpath(paths)


def _sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The data-source sections of a dumped spec (queries, corpus, qrels) that exist."""
    sections = [
        data.get("dataset"),
        data.get("candidates", {}).get("corpus"),
        data.get("relevance", {}).get("dataset"),
    ]
    return [section for section in sections if isinstance(section, dict)]


def _merge(update: dict[str, Any], more: dict[str, Any]) -> None:
    """Merge a section update into ``update`` (one level deep: ``candidates`` and ``relevance`` keep
    the parts an earlier key changed)."""
    for part, value in more.items():
        if isinstance(value, dict) and isinstance(update.get(part), dict):
            update[part] = {**update[part], **value}
        else:
            update[part] = value
