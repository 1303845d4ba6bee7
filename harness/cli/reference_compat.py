"""``eval.py`` with the reference's flags, mapped onto ``harness run``.

``--dataset_config`` is either a harness task list (a YAML file with ``tasks: [...]``) or a
VLM2Vec-style eval YAML, read by :mod:`harness.cli.reference_entries`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.api import evaluate
from harness.cli import (
    add_audio_flags,
    add_cache_flags,
    add_media_flags,
    add_metrics_flags,
    add_throughput_flags,
    encoding_arguments,
)
from harness.cli.progress import RichReporter, report_run
from harness.cli.reference_entries import load_dataset_config
from harness.cli.reference_extras import UnknownFlagError, split_ignored
from harness.cli.reference_flags import add_resize_flags, resize_model_args
from harness.errors import HarnessError
from harness.models import adapter_for_backbone, backbone_model_args
from harness.taskspec import TaskIndex


def build_parser() -> argparse.ArgumentParser:
    """The reference's flags (those that matter for evaluation)."""
    parser = argparse.ArgumentParser(prog="eval.py", description="VLM2Vec-compatible evaluation entry point.")
    parser.add_argument("--model_name", required=True, help="checkpoint folder or hub id")
    parser.add_argument(
        "--model_backbone",
        default=None,
        help="qwen2_vl (the default), qwen2_5_vl, gme, nvomniembed, e5_omni or lco_omni",
    )
    parser.add_argument("--dataset_config", required=True, type=Path)
    parser.add_argument("--encode_output_path", required=True, type=Path)
    parser.add_argument("--per_device_eval_batch_size", type=int, default=16)
    parser.add_argument(
        "--pooling",
        choices=sorted(REFERENCE_POOLING),
        default=None,
        help="the reference's pooling names (eos, last and last_token are one rule; default: last token)",
    )
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
    parser.add_argument(
        "--max_len",
        type=int,
        default=None,
        help="text truncation: omni backbones cut text-only prompts to min(N, 2048) tokens, vlm2vec its inputs "
        "encoded as text alone to N (max_text_tokens); refused for gme",
    )
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
    add_audio_flags(parser)
    add_cache_flags(parser)
    add_throughput_flags(parser)
    add_metrics_flags(parser)
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


def model_arguments(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The adapter and its ``--model_args`` for the reference's model flags."""
    backbone = args.model_backbone or "qwen2_vl"
    adapter = adapter_for_backbone(backbone)
    model_args: dict[str, Any] = {
        **checkpoint_model_args(args.model_name, args.checkpoint_path, args.lora),
        **backbone_model_args(backbone),
        "revision": args.model_revision,
        **pooling_model_args(adapter, args.pooling),
        "normalize": args.normalize,
        **max_len_model_args(adapter, args.max_len),
        **resize_model_args(adapter, args.resize_min_pixels, args.resize_max_pixels),
        **resolution_model_args(adapter, args.resize_use_processor, args.image_resolution),
    }
    return adapter, model_args


def _run(args: argparse.Namespace) -> int:
    adapter, model_args = model_arguments(args)
    index = TaskIndex()
    selection = load_dataset_config(args.dataset_config, index)
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
        audio_max_seconds=args.audio_max_seconds,
        **encoding_arguments(args),
        reporter=RichReporter(),
        command=sys.argv,
    )
    report_run(result)
    return 0


REFERENCE_POOLING = {"eos": "last", "last": "last", "last_token": "last", "mean": "mean", "cls": "cls"}
"""The reference's ``--pooling`` names and the rule each is (its ``_pooling``: eos and last_token are last)."""
OMNI_TEXT_TOKEN_CAP = 2048
"""The reference's omni collator cuts a text-only prompt to ``min(--max_len, 2048)`` tokens."""


def pooling_model_args(adapter: str, pooling: str | None) -> dict[str, Any]:
    """``pooling`` for ``adapter`` as the reference's flag means it. Unset: its default, the last
    token (said in one note line for the omni adapter, whose nvomniembed recipe runs ``--pooling mean``)."""
    if adapter != "omni":  # vlm2vec and gme name their one rule eos or last; they refuse the others
        given = pooling or "eos"
        return {"pooling": "last" if given == "last_token" else given}
    if pooling is None:
        print(
            "note: --pooling not given: last token, the reference's default (its nvomniembed runs use mean)",
            file=sys.stderr,
        )
    rule = REFERENCE_POOLING[pooling or "last"]
    if rule == "cls":
        raise HarnessError("--pooling cls is not supported by the omni backbones (use last or mean)")
    return {"pooling": rule}


def max_len_model_args(adapter: str, max_len: int | None) -> dict[str, Any]:
    """``--max_len`` where the reference applies it without cutting media placeholders, as
    ``max_text_tokens``: the vlm2vec adapter's inputs encoded as text alone (the reference's
    text-only path cuts them at ``--max_len``; an input with media is never cut here, where the
    reference would cut its visual tokens), the omni backbones' text-only prompts (at most 2048);
    refused for the others (their reference code ignores it or has its own limit)."""
    if max_len is None:
        return {}
    if adapter not in ("omni", "vlm2vec"):
        raise HarnessError(f"--max_len (text truncation) is not supported for the {adapter} adapter; leave it unset")
    if max_len < 1:
        raise HarnessError(f"--max_len must be >= 1 (got {max_len})")
    return {"max_text_tokens": min(max_len, OMNI_TEXT_TOKEN_CAP) if adapter == "omni" else max_len}


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
