"""The entries of a VLM2Vec-style eval YAML (``--dataset_config``) as harness tasks.

One top-level key per dataset, with ``dataset_parser``, ``dataset_name``, ``eval_type`` and path
keys, exactly as the reference's ``experiments/public/eval/{image,video,visdoc}.yaml`` write them,
and the V3 configs' (``text``, ``tool``, ``memory``, ``audio``, ``gui`` and MCMR) keys, read by
:mod:`harness.cli.reference_v3_keys`.
A key (or its ``dataset_name``) that names a built-in task runs that task; any other key with a
known ``dataset_parser`` becomes a task built from that parser's task file (see
:data:`PARSER_BASES`). The key is the output prefix, as in the reference. Every key is either
honoured, accepted with a note (:data:`NOTED_KEYS`: it only matters when the reference extracts
frames from raw videos, which eval.py does not do), or an error naming it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.cli.reference_v3_keys import (
    V3_KEYS,
    V3_NOTED_KEYS,
    V3_PARSERS,
    check_v3_parser,
    memory_root_update,
    ranking_matches,
    task_name_for_key,
    v3_update,
)
from harness.errors import HarnessError
from harness.taskspec import LoadedTask, Selection, TaskIndex, TaskSpec
from harness.taskspec.index import builtin_task_dir
from harness.taskspec.schema import QrelsRelevance
from harness.taskspec.yaml_parse import ParseBudget, parse_file
from harness.taskspec.yaml_source import read_document

NOTED_KEYS = {
    "video_root": "raw videos; frames are read from frame_root, never extracted",
    "clip_root": "raw video clips; frames are read from frame_root, never extracted",
    "max_frames_saved": "frames written when extracting from raw videos, which is not done here",
    "max_video_frames_saved": "frames written when extracting from raw videos, which is not done here",
    "max_clip_frames_saved": "frames written when extracting from raw clips, which is not done here",
    "num_negative_clips": "the reference's moment-retrieval parsers read it but never use it",
}
"""Keys accepted with one note line each: they change nothing in an evaluation from frames."""
HONOURED_KEYS = {
    "dataset_parser",
    "dataset_name",
    "dataset_split",  # the reference's image loaders hard-code "test": accepted, as there
    "eval_type",
    "num_sample_per_subset",
    "num_frames",
    "num_video_frames",
    "num_clip_frames",
    "metrics",
    "image_root",
    "frame_root",
    "data_path",
}
KNOWN_KEYS = HONOURED_KEYS | V3_KEYS | set(NOTED_KEYS)

PARSER_BASES: dict[str, str] = {
    # image parsers: the parser's include file (every task of the family differs only in its data)
    "image_cls": "mmeb_v2/image/_image_cls.yaml",
    "image_qa": "mmeb_v2/image/_image_qa.yaml",
    "image_i2t": "mmeb_v2/image/_image_i2t.yaml",
    "image_t2i": "mmeb_v2/image/_image_t2i.yaml",
    "image_i2i_vg": "mmeb_v2/image/_image_i2i_vg.yaml",
    # visual-document parsers: BEIR tables (data_path a folder or a mapping, see _data_update)
    "vidore": "mmeb_v2/visdoc/_vidore.yaml",
    "visrag": "mmeb_v2/visdoc/_visrag.yaml",
    # video parsers serve one dataset each (prompts and columns are the dataset's): its task file
    "msrvtt": "mmeb_v2/video/MSR-VTT.yaml",
    "msvd": "mmeb_v2/video/MSVD.yaml",
    "didemo": "mmeb_v2/video/DiDeMo.yaml",
    "youcook2": "mmeb_v2/video/YouCook2.yaml",
    "vatex": "mmeb_v2/video/VATEX.yaml",
    "ssv2": "mmeb_v2/video/SmthSmthV2.yaml",
    "moment_retrieval": "mmeb_v2/video/QVHighlight.yaml",
    "momentseeker": "mmeb_v2/video/MomentSeeker.yaml",
    "videomme": "mmeb_v2/video/Video-MME.yaml",
    "nextqa": "mmeb_v2/video/NExTQA.yaml",
    "egoschema": "mmeb_v2/video/EgoSchema.yaml",
    "activitynetqa": "mmeb_v2/video/ActivityNetQA.yaml",
}
"""Task file a new dataset key is built from, per ``dataset_parser``."""
PARSER_FILES: dict[str, str] = {
    **{parser: Path(base).name for parser, base in PARSER_BASES.items()},
    "moment_retrieval": "_moment_retrieval.yaml",  # QVHighlight and Charades-STA
    "video_classification": "_video_classification.yaml",
    "mvbench": "MVBench.yaml",
    **{parser: "(V3)" for parser in V3_PARSERS},  # checked by modality: check_v3_parser
}
"""Per ``dataset_parser``: the file a built-in task of that parser is or includes (its parser)."""
NOT_FOR_NEW_DATASETS = {
    "video_classification": "its instruction and label set are chosen by dataset_name in the reference's code",
    "mvbench": "its 20 subsets and their video folders are fixed in the reference's code",
}
"""Parsers that only work for their built-in datasets (the reference fails on another name too)."""

FRAME_FOLDER = re.compile(r"video_(?:cls|ret|qa|mret)/[^/{}]+/")
"""The per-task frame folder written into the built-in video tasks' templates (``video_ret/MSR-VTT/``)."""
_MEDIA_PATH_FIELDS = (
    ("query", "video_template"),
    ("query", "image_template"),  # MomentSeeker's image queries sit in its frame folder
    ("candidates", "video_template"),
    ("candidates", "folders_template"),
)
_BEIR_TABLES = ("queries", "corpus", "qrels")


def load_dataset_config(path: Path, index: TaskIndex) -> Selection:
    """Tasks named by a harness task list (``tasks: [...]``) or a VLM2Vec-style eval YAML."""
    config, _lines = parse_file(path, ParseBudget())  # bounded like a task file: it comes from strangers too
    if isinstance(config, dict) and set(config) == {"tasks"}:
        names = config["tasks"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise HarnessError(f"{path}: tasks: expected a list of task, group or tag names")
        return index.select(names)
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise HarnessError(f"{path}: expected 'tasks: [...]' or one mapping per dataset key")
    selection = Selection()
    for key, entry in config.items():
        selection.tasks.append(entry_task(path, str(key), entry, index))
    noted_keys: list[tuple[str, str, frozenset[str] | None]] = [(k, meaning, None) for k, meaning in NOTED_KEYS.items()]
    noted_keys += [(noted, meaning, parsers) for noted, (meaning, parsers) in V3_NOTED_KEYS.items()]
    for noted, meaning, parsers in noted_keys:  # one line per key, not per entry
        keys = [
            str(key)
            for key, entry in config.items()
            if noted in entry and (parsers is None or entry.get("dataset_parser") in parsers)
        ]
        if keys:
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            print(
                f"note: {path}: {noted} is not used ({meaning}): {shown}",
                file=sys.stderr,
            )
    return selection


def entry_task(path: Path, key: str, entry: dict[str, Any], index: TaskIndex) -> LoadedTask:
    """The task one eval-YAML entry runs, its output prefix ``key`` (the keys of :data:`NOTED_KEYS`
    are accepted; :func:`load_dataset_config` notes them once per config)."""
    where = f"{path}: {key}"
    unknown = set(entry) - KNOWN_KEYS
    if unknown:
        raise HarnessError(f"{where}: unsupported keys {sorted(unknown)} (supported: {sorted(KNOWN_KEYS)})")
    base, source, meta_task, builtin = _base(where, key, entry, index)
    parser = entry.get("dataset_parser")
    eval_type = entry.get("eval_type", "global")  # the reference's default
    if not ranking_matches(parser, eval_type, base.ranking):
        raise HarnessError(f"{where}: eval_type '{eval_type}' differs from task '{base.task}' ranking '{base.ranking}'")
    name = task_name_for_key(key)
    if name != key:
        print(
            f"note: {where}: runs task '{name}'; its files are named {name}_* (the reference's {key}_*)",
            file=sys.stderr,
        )
    update: dict[str, Any] = {"task": name, "num_rows": _num_rows(where, entry.get("num_sample_per_subset"))}
    if parser in V3_PARSERS:
        if parser in V3_NOTED_KEYS["num_sample_per_subset"][1]:
            del update["num_rows"]  # the reference's parser reads every row (noted once per config)
        return LoadedTask(
            spec=_validated(where, base, {**update, **_v3_entry_update(where, entry, base)}),
            source=source,
            meta_task=meta_task,
        )
    extra = sorted(set(entry) & V3_KEYS)
    if extra:
        raise HarnessError(f"{where}: {extra} are keys of the reference's V3 parsers ({', '.join(sorted(V3_PARSERS))})")
    if not builtin and base.modality == "image":  # a config of the MMEB image repository, as the reference
        name = str(entry.get("dataset_name", key))
        update["dataset"] = {
            **base.dataset.model_dump(exclude_unset=True),
            "name": name,
            "files": [f"MMEB_Test_Instruct/{name}/test*"],  # the built-in image tasks' local layout
        }
    if "image_root" in entry and base.modality == "video":  # the reference's video parsers never read it
        print(
            f"note: {where}: image_root is not used by a video task (frames are read from frame_root)", file=sys.stderr
        )
    elif "image_root" in entry:
        update["media_root"] = _folder(where, "image_root", entry["image_root"])
    elif not builtin and base.modality == "visdoc":
        raise HarnessError(
            f"{where}: give image_root (the folder of this dataset's page files, as the reference needs)"
        )
    if "data_path" in entry:
        update.update(_data_update(where, base, update.get("dataset"), entry["data_path"]))
    if "metrics" in entry:
        update["metrics"] = {**base.metrics.model_dump(exclude_unset=True), "families": entry["metrics"]}
    frames = _num_frames(where, entry)
    if frames is not None:
        update["video"] = {**base.video.model_dump(exclude_unset=True), "num_frames": frames}
    if "frame_root" in entry:
        update.update(_frame_root_update(where, base, _folder(where, "frame_root", entry["frame_root"])))
    elif base.modality == "video" and not builtin:
        raise HarnessError(f"{where}: give frame_root (the folder of this dataset's frame folders)")
    return LoadedTask(spec=_validated(where, base, update), source=source, meta_task=meta_task)


def _v3_entry_update(where: str, entry: dict[str, Any], base: TaskSpec) -> dict[str, Any]:
    """The changes a V3 entry's keys make to its built-in task (the shared keys as for V2)."""
    update = v3_update(where, entry, base)
    if "data_path" in entry and base.modality == "memory":
        update.update(memory_root_update(where, entry["data_path"], base))
    elif "data_path" in entry and entry.get("dataset_parser") not in V3_NOTED_KEYS["data_path"][1]:
        raise HarnessError(f"{where}: data_path: dataset_parser '{entry.get('dataset_parser')}' reads no data_path")
    if "image_root" in entry:
        update["media_root"] = _folder(where, "image_root", entry["image_root"])
    if "metrics" in entry:
        update["metrics"] = {**base.metrics.model_dump(exclude_unset=True), "families": entry["metrics"]}
    frames = _num_frames(where, entry)
    if frames is not None:
        update["video"] = {**base.video.model_dump(exclude_unset=True), "num_frames": frames}
    return update


def _base(where: str, key: str, entry: dict[str, Any], index: TaskIndex) -> tuple[TaskSpec, Path, str | None, bool]:
    """The task an entry starts from: (spec, source file, meta-task, whether it is a built-in task)."""
    # The reference reads the data of dataset_name and names the outputs by the key (K700's
    # dataset_name is Kinetics-700, which is no task name here: then the key names the task).
    dataset_name = task_name_for_key(str(entry.get("dataset_name", key)))
    name = dataset_name if dataset_name in index.tasks else task_name_for_key(key)
    parser = entry.get("dataset_parser")
    if parser is not None and parser not in PARSER_FILES:
        raise HarnessError(f"{where}: unknown dataset_parser '{parser}' (known: {', '.join(sorted(PARSER_FILES))})")
    if name in index.tasks:
        loaded = index.tasks[name]
        if parser in V3_PARSERS:
            check_v3_parser(where, parser, loaded.spec)
        elif parser is not None and PARSER_FILES[parser] not in _parser_files(loaded.source):
            raise HarnessError(f"{where}: task '{name}' is not read by dataset_parser '{parser}'")
        return loaded.spec, loaded.source, index.meta_task_of(name), True
    if parser in V3_PARSERS:
        raise HarnessError(
            f"{where}: dataset_parser '{parser}' runs only the built-in MMEB-V3 tasks here; "
            + index.unknown_name_message(name)
        )
    if parser in NOT_FOR_NEW_DATASETS:
        raise HarnessError(
            f"{where}: dataset_parser '{parser}' runs only its built-in datasets ({NOT_FOR_NEW_DATASETS[parser]}); "
            + index.unknown_name_message(name)
        )
    if parser not in PARSER_BASES:
        known = ", ".join(sorted(PARSER_BASES))
        raise HarnessError(
            f"{where}: {index.unknown_name_message(name)}; a new dataset key needs a dataset_parser of: {known}"
        )
    source = builtin_task_dir() / PARSER_BASES[parser]
    data = {**read_document(source).data, "task": key}
    data.setdefault("version", "1.0")
    if data.get("modality") != "image" and "data_path" not in entry:
        raise HarnessError(
            f"{where}: dataset '{name}' is not a built-in task: give data_path "
            "(its local rows; for a visdoc parser a folder with queries*, corpus* and qrels* files)"
        )
    for section in _beir_sources(data):  # the parser files leave them to each task; data_path sets them
        section.setdefault("files", ["(data_path)"])
    return _validated(where, data, {}), source, None, False


def _parser_files(source: Path) -> set[str]:
    """A built-in task file's name and the names of the files it includes."""
    data, _lines = parse_file(source, ParseBudget())
    included = data.get("include", []) if isinstance(data, dict) else []
    names = [included] if isinstance(included, str) else list(included)
    return {source.name, *(str(name).rsplit("/", 1)[-1] for name in names)}


def _beir_sources(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The dataset sections of a BEIR parser file's mapping that name no source yet."""
    sections = [
        data.get("dataset", {}),
        data.get("candidates", {}).get("corpus"),
        data.get("relevance", {}).get("dataset"),
    ]
    return [s for s in sections if isinstance(s, dict) and not {"path", "files", "rows"} & set(s)]


def _folder(where: str, key: str, value: Any) -> str:
    """A folder key (relative to ``--data_basedir``) as a media root: ``a/b`` -> ``a/b/``; empty: the base."""
    if not isinstance(value, str):
        raise HarnessError(f"{where}: {key}: expected a folder (text), got {value!r}")
    return value.rstrip("/") + "/" if value.strip("/") else ""


def _num_rows(where: str, value: Any) -> int | None:
    """``num_sample_per_subset`` as the reference reads it: an int or a digit string takes the first N
    rows; absent or anything else (the YAML's ``None`` is the string "None") takes every row."""
    if isinstance(value, bool):
        raise HarnessError(f"{where}: num_sample_per_subset must be a number of rows, got {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None


def _num_frames(where: str, entry: dict[str, Any]) -> int | None:
    """Frames fed to the model: ``num_frames``, or the moment-retrieval keys ``num_video_frames`` (the
    query video) and ``num_clip_frames`` (each candidate clip), which this harness samples alike."""
    given = {k: entry[k] for k in ("num_frames", "num_video_frames", "num_clip_frames") if k in entry}
    if len(set(map(repr, given.values()))) > 1:
        raise HarnessError(f"{where}: one frame count per task is supported, got {given}")
    return next(iter(given.values()), None)


def _data_update(where: str, base: TaskSpec, dataset: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """Local files from ``data_path`` (relative to ``--data_basedir``, as the reference prefixes it).

    A file, a glob or a list of them for one-table tasks. A BEIR task (``vidore``, ``visrag``) reads
    three tables: a folder holding ``queries*``, ``corpus*`` and ``qrels*`` files, or a mapping
    ``{queries: ..., corpus: ..., qrels: ...}``. The hub is not consulted for those tables then.
    """
    dataset = dataset if dataset is not None else base.dataset.model_dump(exclude_unset=True)
    if not isinstance(base.relevance, QrelsRelevance):
        files = _file_list(where, "data_path", value)
        return {"dataset": {**dataset, "path": None, "files": files}}
    assert base.candidates.corpus is not None
    if isinstance(value, str):
        if Path(value).suffix in (".jsonl", ".json", ".parquet", ".csv"):
            raise HarnessError(
                f"{where}: data_path: a visdoc task has three tables: give a folder holding queries*, corpus* "
                "and qrels* files, or a mapping {queries: ..., corpus: ..., qrels: ...}"
            )
        tables = {name: [f"{value.rstrip('/')}/{name}*"] for name in _BEIR_TABLES}
    elif isinstance(value, dict):
        if set(value) != set(_BEIR_TABLES):
            raise HarnessError(f"{where}: data_path: expected the keys queries, corpus and qrels, got {sorted(value)}")
        tables = {name: _file_list(where, f"data_path.{name}", value[name]) for name in _BEIR_TABLES}
    else:
        raise HarnessError(f"{where}: data_path: expected a folder or a mapping, got {type(value).__name__}")
    candidates = base.candidates.model_dump(exclude_unset=True)
    relevance = base.relevance.model_dump(exclude_unset=True)
    candidates["corpus"] = {**candidates["corpus"], "path": None, "files": tables["corpus"]}
    relevance["dataset"] = {**relevance["dataset"], "path": None, "files": tables["qrels"]}
    return {
        "dataset": {**dataset, "path": None, "files": tables["queries"]},
        "candidates": candidates,
        "relevance": relevance,
    }


def _file_list(where: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return list(value)
    raise HarnessError(f"{where}: {key}: expected a file (or glob) or a list of them, got {value!r}")


def _frame_root_update(where: str, spec: TaskSpec, frame_root: str) -> dict[str, Any]:
    """``media_root`` and media templates that read each video's frames under ``frame_root`` (the
    reference's folder that holds one frame folder per video) instead of the built-in layout."""
    sources = {(part, field): getattr(getattr(spec, part), field) for part, field in _MEDIA_PATH_FIELDS}
    folders = {m.group(0) for source in sources.values() if source for m in FRAME_FOLDER.finditer(source)}
    if len(folders) != 1:
        raise HarnessError(f"{where}: frame_root applies to the built-in video tasks only (task '{spec.task}')")
    (folder,) = folders
    update: dict[str, Any] = {"media_root": frame_root}
    for part, field in _MEDIA_PATH_FIELDS:
        source = getattr(getattr(spec, part), field)
        if source:
            section = update.setdefault(part, getattr(spec, part).model_dump(exclude_unset=True))
            section[field] = source.replace(folder, "")
    return update


def _validated(where: str, spec: TaskSpec | dict[str, Any], update: dict[str, Any]) -> TaskSpec:
    """``spec`` with ``update`` applied, validated again (not model_copy): the key becomes a file
    name and every path must stay relative."""
    data = spec.model_dump(exclude_unset=True) if isinstance(spec, TaskSpec) else spec
    try:
        return TaskSpec.model_validate({**data, **update})
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise HarnessError(f"{where}: {place}: {first['msg'].removeprefix('Value error, ')}") from None
