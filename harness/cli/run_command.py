"""``harness run``: evaluate a model on tasks; with no arguments, the bundled demo."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cli import add_common_flags, add_media_flags
from harness.cli.progress import RichReporter, print_summary
from harness.distributed import World, close_world, init_world, launched_by_torchrun, rank_device, world_joined
from harness.engine.evaluate import EvalOptions
from harness.engine.run import claim_run_folder, run_tasks
from harness.errors import HarnessError
from harness.media.image import image_pixel_budget
from harness.models import create_encoder, parse_model_args, registered_models
from harness.results.output_folder import OutputFolder
from harness.taskspec import TaskIndex
from harness.taskspec.index import Selection

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
    parser.add_argument("--output_path", type=Path, help="folder for result files (default results/<model>)")
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
    add_common_flags(parser)
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class RunPlan:
    """What ``harness run`` will do once defaults are filled in."""

    model: str
    model_args: dict[str, Any]
    tasks: list[str]
    data_basedir: Path
    output_dir: Path


def run(args: argparse.Namespace) -> int:
    """Resolve tasks and model, run them, print the summary table."""
    if args.batch_size < 1:
        raise HarnessError("--batch_size must be >= 1")
    if args.limit is not None and args.limit < 1:
        raise HarnessError("--limit must be >= 1")
    if args.dist_timeout <= 0:
        raise HarnessError("--dist_timeout must be > 0 minutes")
    plan = plan_run(args)
    index = TaskIndex(include_paths=[Path(p) for p in args.include_path])
    selection = index.select(plan.tasks)
    world: World | None = None
    device = args.device
    owns_world = not world_joined()
    if launched_by_torchrun():
        device = rank_device(args.device, int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["WORLD_SIZE"]))
        world = init_world(device, args.dist_timeout)
    if world is None or not owns_world:
        return _run_plan(args, plan, index, selection, device, world)
    try:
        status = _run_plan(args, plan, index, selection, device, world)
    except BaseException:
        close_world(world, wait_for_all=False)
        raise
    close_world(world, wait_for_all=True)
    return status


def _run_plan(
    args: argparse.Namespace, plan: RunPlan, index: TaskIndex, selection: Selection, device: str, world: World | None
) -> int:
    main_process = world is None or world.is_main
    options = EvalOptions(
        data_basedir=plan.data_basedir.resolve(),
        output_dir=plan.output_dir,
        batch_size=args.batch_size,
        limit=args.limit,
        data_source=args.data_source,
        predictions=args.predictions,
        top_k=args.top_k,
    )
    # The output folder is claimed before the model loads: a bad or foreign folder costs nothing.
    folder = claim_folder(plan, selection, options, world, overwrite=args.overwrite)
    try:
        with image_pixel_budget(args.max_image_pixels):
            return _evaluate(plan, index, selection, device, world, options, folder, main_process)
    finally:
        if folder is not None:
            folder.release()


def claim_folder(
    plan: RunPlan, selection: Selection, options: EvalOptions, world: World | None, *, overwrite: bool
) -> OutputFolder | None:
    """Claim the output folder on the writing process; in a distributed run every rank learns the outcome."""
    if world is None:
        return claim_run_folder(plan.model, plan.model_args, selection, options, sys.argv, overwrite=overwrite)
    folder: OutputFolder | None = None
    error: HarnessError | None = None
    if world.is_main:
        try:
            folder = claim_run_folder(plan.model, plan.model_args, selection, options, sys.argv, overwrite=overwrite)
        except HarnessError as caught:
            error = caught
    world.check("preparing the output folder", error)
    return folder


def _evaluate(
    plan: RunPlan,
    index: TaskIndex,
    selection: Selection,
    device: str,
    world: World | None,
    options: EvalOptions,
    folder: OutputFolder | None,
    main_process: bool,
) -> int:
    reporter = RichReporter() if main_process else None
    settings = ", ".join(f"{k}={v}" for k, v in plan.model_args.items()) or "defaults"
    if reporter is not None:
        where = f" on {world.world_size} processes" if world is not None else ""
        reporter.message(f"model {plan.model} ({settings}){where}")
    encoder = create_encoder(plan.model, plan.model_args, device)
    if reporter is None:
        run_tasks(index, selection, plan.model, encoder, options, sys.argv, None, world, folder)
        return 0
    with reporter:
        result = run_tasks(index, selection, plan.model, encoder, options, sys.argv, reporter, world, folder)
    print_summary(result.entry)
    reporter.message(f"results: {plan.output_dir}/ (run file {result.path.name})")
    if result.entry_path is not None:
        reporter.message(f"leaderboard entry: {result.entry_path} (add it with `harness leaderboard add`)")
    else:
        reporter.message(f"no leaderboard entry written: {result.entry_note}")
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
    model = args.model or DEFAULT_MODEL
    _check_model_name(model)
    tasks = [name.strip() for name in args.tasks.split(",") if name.strip()]
    if not tasks:
        raise HarnessError(f"--tasks {args.tasks!r} names no task (e.g. --tasks mmeb_v2_image)")
    output_dir = args.output_path or Path("results") / _safe_name(str(model_args.get("pretrained", model)))
    return RunPlan(model, model_args, tasks, args.data_basedir or Path("."), output_dir)


def _check_model_name(model: str) -> None:
    known = registered_models()
    if model not in known:
        closest = difflib.get_close_matches(model, list(known), n=1)
        hint = f"; did you mean '{closest[0]}'?" if closest else ""
        raise HarnessError(f"unknown model '{model}' (known: {', '.join(known)}){hint}")


def _safe_name(name: str) -> str:
    """A folder name for a checkpoint: a local path's last part, or the hub id with '/' → '_'."""
    base = Path(name).name if Path(name).exists() else name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)
