"""``eval.py`` with the reference's flags, mapped onto ``harness run``.

``--dataset_config`` is either a harness task list (a YAML file with ``tasks: [...]``) or a
VLM2Vec-style eval YAML: one top-level key per dataset with ``dataset_parser``,
``dataset_name``, ``eval_type`` and path keys (``image_root``, ``data_path``). Each key runs the
built-in task of that name (or of its ``dataset_name``) and keeps the key as the output prefix,
as the reference does.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.api import evaluate
from harness.cli import add_cache_flags, add_media_flags, add_throughput_flags, encoding_arguments
from harness.cli.progress import RichReporter, report_run
from harness.cli.reference_extras import UnknownFlagError, split_ignored
from harness.cli.reference_flags import add_resize_flags, resize_model_args
from harness.errors import HarnessError
from harness.models import adapter_for_backbone
from harness.taskspec import LoadedTask, Selection, TaskIndex, TaskSpec
from harness.taskspec.yaml_parse import ParseBudget, parse_file

_PATH_KEYS = {"image_root", "data_path", "frame_root"}
_NOTED_KEYS = {"video_root": "raw videos", "max_frames_saved": "frames written when extracting from raw videos"}
"""Video keys of the reference's eval YAMLs that only matter when frames are extracted from raw
videos, which eval.py does not do (frames are read from ``frame_root``): accepted with a note."""
_KNOWN_KEYS = {
    "dataset_parser",
    "dataset_name",
    "dataset_split",
    "eval_type",
    "num_sample_per_subset",
    "num_frames",
    "metrics",
    *_PATH_KEYS,
    *_NOTED_KEYS,
}
_FRAME_FOLDER = re.compile(r"video_(?:cls|ret|qa|mret)/[^/{}]+/")
"""The per-task frame folder written into the built-in video tasks' templates (``video_ret/MSR-VTT/``)."""
_VIDEO_PATH_FIELDS = (("query", "video_template"), ("candidates", "video_template"), ("candidates", "folders_template"))


def build_parser() -> argparse.ArgumentParser:
    """The reference's flags (those that matter for evaluation)."""
    parser = argparse.ArgumentParser(prog="eval.py", description="VLM2Vec-compatible evaluation entry point.")
    parser.add_argument("--model_name", required=True, help="checkpoint folder or hub id")
    parser.add_argument("--model_backbone", default=None, help="qwen2_vl (detected from the config when omitted)")
    parser.add_argument("--dataset_config", required=True, type=Path)
    parser.add_argument("--encode_output_path", required=True, type=Path)
    parser.add_argument("--per_device_eval_batch_size", type=int, default=16)
    parser.add_argument("--pooling", choices=["eos", "last"], default="eos")
    parser.add_argument("--normalize", type=_boolean, default=True)
    parser.add_argument("--data_basedir", type=Path, default=Path("."))
    add_resize_flags(parser)
    parser.add_argument(
        "--checkpoint_path", default=None, help="local checkpoint or LoRA adapter used instead of --model_name"
    )
    parser.add_argument(
        "--lora", type=_boolean, default=False, help="the checkpoint is a LoRA adapter of --model_name (merged)"
    )
    parser.add_argument(
        "--resize_use_processor",
        type=_boolean,
        default=True,
        help="false: first resize images to --image_resolution, as the reference does for V1 checkpoints",
    )
    parser.add_argument("--image_resolution", choices=["high", "mid", "low"], default=None)
    parser.add_argument("--max_len", type=int, default=None, help="text truncation: not supported (leave unset)")
    parser.add_argument(
        "--predictions",
        choices=["full", "topk"],
        default="full",
        help="ranking depth in {task}_pred.jsonl: every candidate, as the reference writes (default), or --top_k",
    )
    parser.add_argument("--top_k", type=int, default=10, help="ranked candidates kept with --predictions topk")
    parser.add_argument("--model_revision", default=None, help="hub revision to pin (harness extension)")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace another run's results in --encode_output_path"
    )
    parser.add_argument("--debug", action="store_true")
    add_media_flags(parser)
    add_cache_flags(parser)
    add_throughput_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run like the reference's ``eval.py``; errors are one line unless ``--debug``.

    Flags of the reference's eval.py and TrainingArguments that change nothing here are accepted
    with one note line each (:mod:`harness.cli.reference_extras`); a flag nobody defines is an error.
    """
    from harness.cli import run_handler

    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest:
        try:
            ignored = split_ignored(rest)
        except UnknownFlagError as error:
            parser.error(str(error))  # exits 2, as argparse does for an unknown flag
        for flag in ignored:
            print(flag.note(), file=sys.stderr)
    return run_handler(_run, args)


def _run(args: argparse.Namespace) -> int:
    adapter = adapter_for_backbone(args.model_backbone or "qwen2_vl")
    if args.max_len is not None:
        raise HarnessError(
            "--max_len (text truncation) is not supported; leave it unset (the reference never truncates then)"
        )
    index = TaskIndex()
    selection = load_dataset_config(args.dataset_config, index)
    model_args: dict[str, Any] = {
        **checkpoint_model_args(args.model_name, args.checkpoint_path, args.lora),
        "revision": args.model_revision,
        "pooling": args.pooling,
        "normalize": args.normalize,
        **resize_model_args(adapter, args.resize_min_pixels, args.resize_max_pixels),
        **resolution_model_args(adapter, args.resize_use_processor, args.image_resolution),
    }
    result = evaluate(
        adapter,
        model_args,
        selection,
        index=index,
        data_basedir=args.data_basedir,
        output_path=args.encode_output_path,
        batch_size=args.per_device_eval_batch_size,
        predictions=args.predictions,
        top_k=args.top_k,
        device=args.device,
        overwrite=args.overwrite,
        max_image_pixels=args.max_image_pixels,
        **encoding_arguments(args),
        reporter=RichReporter(),
        command=sys.argv,
    )
    report_run(result)
    return 0


def load_dataset_config(path: Path, index: TaskIndex) -> Selection:
    """Tasks named by a harness task list or a VLM2Vec-style eval YAML."""
    config, _lines = parse_file(path, ParseBudget())  # bounded like a task file: it comes from strangers too
    if isinstance(config, dict) and set(config) == {"tasks"}:
        return index.select([str(t) for t in config["tasks"]])
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise HarnessError(f"{path}: expected 'tasks: [...]' or one mapping per dataset key")
    selection = Selection()
    for key, entry in config.items():
        selection.tasks.append(_task_for_entry(path, str(key), entry, index))
    return selection


def _task_for_entry(path: Path, key: str, entry: dict[str, Any], index: TaskIndex) -> LoadedTask:
    unknown = set(entry) - _KNOWN_KEYS
    if unknown:
        raise HarnessError(f"{path}: {key}: unsupported keys {sorted(unknown)} (supported: {sorted(_KNOWN_KEYS)})")
    name = key if key in index.tasks else str(entry.get("dataset_name", key))
    if name not in index.tasks:
        raise HarnessError(f"{path}: {key}: " + index.unknown_name_message(name))
    loaded = index.tasks[name]
    spec = loaded.spec
    eval_type = entry.get("eval_type", "global")
    if eval_type != spec.ranking:
        raise HarnessError(
            f"{path}: {key}: eval_type '{eval_type}' differs from task '{name}' ranking '{spec.ranking}'"
        )
    update: dict[str, Any] = {"task": key}
    if "image_root" in entry:
        update["media_root"] = str(entry["image_root"])
    if str(entry.get("num_sample_per_subset", "None")).isdigit():  # the reference's "None" is a string
        update["num_rows"] = int(entry["num_sample_per_subset"])
    if "data_path" in entry:
        update["dataset"] = {**spec.dataset.model_dump(exclude_unset=True), "files": [str(entry["data_path"])]}
    if "num_frames" in entry:
        update["video"] = {**spec.video.model_dump(exclude_unset=True), "num_frames": entry["num_frames"]}
    if "frame_root" in entry:
        update.update(_frame_root_update(path, key, spec, str(entry["frame_root"])))
    for noted, meaning in _NOTED_KEYS.items():
        if noted in entry:
            print(
                f"note: {path}: {key}: {noted} ({meaning}) is not used: frames are read from frame_root",
                file=sys.stderr,
            )
    # Validated again (not model_copy): the key becomes a file name, the paths must stay relative.
    try:
        changed = TaskSpec.model_validate({**spec.model_dump(exclude_unset=True), **update})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise HarnessError(f"{path}: {key}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
    return LoadedTask(spec=changed, source=loaded.source, meta_task=index.meta_task_of(name))


def _frame_root_update(path: Path, key: str, spec: TaskSpec, frame_root: str) -> dict[str, Any]:
    """``media_root`` and video templates that read each video's frames under ``frame_root`` (the
    reference's folder that holds one frame folder per video) instead of the built-in layout."""
    sources = {(part, field): getattr(getattr(spec, part), field) for part, field in _VIDEO_PATH_FIELDS}
    folders = {m.group(0) for source in sources.values() if source for m in _FRAME_FOLDER.finditer(source)}
    if len(folders) != 1:
        raise HarnessError(f"{path}: {key}: frame_root applies to the built-in video tasks only (task '{spec.task}')")
    (folder,) = folders
    update: dict[str, Any] = {"media_root": frame_root.rstrip("/") + "/"}
    for part, field in _VIDEO_PATH_FIELDS:
        source = getattr(getattr(spec, part), field)
        if source:
            section = update.setdefault(part, getattr(spec, part).model_dump(exclude_unset=True))
            section[field] = source.replace(folder, "")
    return update


def checkpoint_model_args(model_name: str, checkpoint_path: str | None, lora: bool) -> dict[str, Any]:
    """``pretrained`` (and ``base_model``) as the reference loads them: ``--checkpoint_path`` is used
    instead of ``--model_name`` when set; with ``--lora true`` it is an adapter of ``--model_name``."""
    if checkpoint_path is None:
        return {"pretrained": model_name}  # a LoRA repository names its base in adapter_config
    if lora:
        return {"pretrained": checkpoint_path, "base_model": model_name}
    return {"pretrained": checkpoint_path}


def resolution_model_args(adapter: str, use_processor: bool, resolution: str | None) -> dict[str, Any]:
    """``image_resolution`` for the vlm2vec adapter when the reference would apply it: only with
    ``--resize_use_processor false`` (otherwise the reference ignores ``--image_resolution`` too)."""
    if use_processor or resolution is None:
        return {}
    if adapter != "vlm2vec":
        raise HarnessError(f"--image_resolution applies to the qwen2_vl backbone only (this run uses {adapter})")
    return {"image_resolution": resolution}


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")
    return lowered in ("true", "1", "yes")
