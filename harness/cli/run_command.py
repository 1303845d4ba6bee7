"""``harness run``: evaluate a model on tasks; with no arguments, the bundled demo."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api import evaluate
from harness.cli import (
    add_audio_flags,
    add_cache_flags,
    add_common_flags,
    add_media_flags,
    add_metrics_flags,
    add_throughput_flags,
    encoding_arguments,
)
from harness.cli.progress import RichReporter, report_run
from harness.errors import HarnessError
from harness.models import parse_model_args

DEFAULT_MODEL = "vlm2vec"


def add_parser(subparsers: Any) -> None:
    """Register ``harness run``."""
    parser = subparsers.add_parser(
        "run",
        help="evaluate a model on tasks (no arguments: the bundled offline demo)",
        description="Evaluate a model on tasks. With neither --model nor --tasks, runs the bundled demo.",
    )
    parser.add_argument("--model", help=f"adapter name, see `harness models` (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--model_args", default="", help="comma-separated key=value, e.g. pretrained=PATH,max_pixels=50176"
    )
    parser.add_argument("--tasks", help="comma-separated task, group or tag names, or YAML paths")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--data_basedir", type=Path, help="folder that task data and media paths are relative to")
    parser.add_argument(
        "--output_path", type=Path, help="folder for result files (default results/<checkpoint folder name or hub id>)"
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N rows of each task (partial run)")
    parser.add_argument("--data_source", choices=["auto", "local", "hub"], default="auto")
    parser.add_argument("--predictions", choices=["topk", "full"], default="topk", help="ranking depth in _pred.jsonl")
    parser.add_argument(
        "--top_k", type=int, default=10, help="ranked candidates kept per query with --predictions topk"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of a different earlier run in --output_path (refused by default)",
    )
    parser.add_argument(
        "--dist_timeout",
        type=float,
        default=60.0,
        help="under torchrun: minutes a rank waits for the others before the run stops (default 60)",
    )
    add_media_flags(parser)
    add_audio_flags(parser)
    add_cache_flags(parser)
    add_throughput_flags(parser)
    add_metrics_flags(parser)
    add_common_flags(parser)
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class RunPlan:
    """What ``harness run`` will do once defaults are filled in."""

    model: str
    model_args: dict[str, Any]
    tasks: list[str]
    data_basedir: Path
    output_dir: Path | None
    """None: the façade's default, ``results/<checkpoint>``."""


def run(args: argparse.Namespace) -> int:
    """Parse the flags into :func:`harness.evaluate`'s arguments, run, print the summary."""
    plan = plan_run(args)
    result = evaluate(
        plan.model,
        plan.model_args,
        plan.tasks,
        data_basedir=plan.data_basedir,
        output_path=plan.output_dir,
        batch_size=args.batch_size,
        limit=args.limit,
        data_source=args.data_source,
        predictions=args.predictions,
        top_k=args.top_k,
        device=args.device,
        include_paths=args.include_path,
        overwrite=args.overwrite,
        max_image_pixels=args.max_image_pixels,
        audio_max_seconds=args.audio_max_seconds,
        dist_timeout=args.dist_timeout,
        **encoding_arguments(args),
        reporter=RichReporter(),
        command=sys.argv,
    )
    report_run(result)
    return 0


def plan_run(args: argparse.Namespace) -> RunPlan:
    """Fill in defaults: no --model and no --tasks means the bundled demo."""
    model_args = parse_model_args(args.model_args)
    if args.model is None and args.tasks is None:
        from harness.demo import demo_paths

        demo = demo_paths()
        model_args = {"pretrained": str(demo.checkpoint), "max_pixels": 50176, **model_args}
        data = args.data_basedir or demo.data_basedir
        return RunPlan(DEFAULT_MODEL, model_args, ["demo"], data, args.output_path or Path("results") / "demo")
    if args.tasks is None:
        raise HarnessError("--tasks is required with --model (e.g. --tasks mmeb_v2_image)")
    tasks = [name.strip() for name in args.tasks.split(",") if name.strip()]
    if not tasks:
        raise HarnessError(f"--tasks {args.tasks!r} names no task (e.g. --tasks mmeb_v2_image)")
    return RunPlan(args.model or DEFAULT_MODEL, model_args, tasks, args.data_basedir or Path("."), args.output_path)
