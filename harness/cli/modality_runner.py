"""The one-command MMEB-V2 runner: ``run_vlm2vec_qwen2vl_2b_eval.py --modality image|video|visdoc|all``.

Each modality runs its built-in group (``mmeb_v2_image``, ``mmeb_v2_video``, ``mmeb_v2_visdoc``)
through :func:`harness.evaluate` and writes to ``<output_basedir>/<model>/<modality>/``.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.api import evaluate
from harness.cli import add_cache_flags, add_metrics_flags, add_throughput_flags, encoding_arguments, run_handler
from harness.cli.progress import RichReporter, report_run
from harness.cli.reference_flags import add_resize_flags, resize_model_args
from harness.distributed import close_world, init_world, launched_by_torchrun, rank_device, torchrun_command
from harness.errors import HarnessError, ModelError
from harness.models.base import adapter_for_backbone, backbone_model_args

DIST_TIMEOUT_MINUTES = 60.0
MODALITY_GROUPS = {"image": "mmeb_v2_image", "video": "mmeb_v2_video", "visdoc": "mmeb_v2_visdoc"}


def build_parser() -> argparse.ArgumentParser:
    """The runner's flags."""
    parser = argparse.ArgumentParser(description="Evaluate a VLM2Vec Qwen2-VL model on MMEB-V2 by modality.")
    parser.add_argument("--modality", choices=[*MODALITY_GROUPS, "all"], default="image")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument(
        "--gpu_ids", default="0", help='comma-separated GPU ids; several ("0,1") run one process per GPU via torchrun'
    )
    parser.add_argument("--data_basedir", type=Path, default=Path("data/vlm2vec_eval"))
    parser.add_argument("--output_basedir", type=Path, default=Path("results"))
    parser.add_argument("--model_name", default="VLM2Vec/VLM2Vec-V2.0")
    parser.add_argument("--model_backbone", default="qwen2_vl")
    parser.add_argument("--model_revision", default=None, help="hub revision to pin")
    add_resize_flags(parser)
    parser.add_argument("--limit", type=int, default=None, help="first N rows per task (a partial run)")
    parser.add_argument("--debug", action="store_true")
    add_cache_flags(parser)
    add_throughput_flags(parser)
    add_metrics_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run each requested modality in turn; stop at the first failure."""
    args = build_parser().parse_args(argv)
    try:
        adapter = adapter_for_backbone(args.model_backbone)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ids = [part.strip() for part in args.gpu_ids.split(",") if part.strip()]
    if len(ids) > 1 and not launched_by_torchrun():
        return _relaunch_on_torchrun(ids, list(sys.argv[1:] if argv is None else argv))
    if launched_by_torchrun():
        return _run_as_rank(args, adapter)
    return _run_modalities(args, adapter, _device_for(args.gpu_ids))


def _run_as_rank(args: argparse.Namespace, adapter: str) -> int:
    """One torchrun rank: join the group once for all modalities, on GPU ``cuda:<LOCAL_RANK>``."""
    try:
        device = rank_device("auto", int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["WORLD_SIZE"]))
        world = init_world(device, DIST_TIMEOUT_MINUTES)
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        status = _run_modalities(args, adapter, "auto")
    except BaseException:
        close_world(world, wait_for_all=False)
        raise
    close_world(world, wait_for_all=True)
    return status


def _relaunch_on_torchrun(ids: list[str], argv: list[str]) -> int:
    """Run this runner again as one torchrun rank per GPU in ``ids`` (gloo on CPU)."""
    import torch

    env = dict(os.environ)
    if torch.cuda.is_available():
        env["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
    else:
        note = f"note: --gpu_ids {','.join(ids)}: no CUDA device; running {len(ids)} CPU processes (gloo)"
        print(note, file=sys.stderr)
    command = torchrun_command(len(ids), "harness.cli.modality_runner", argv)
    print(f"launching: {' '.join(command)}", file=sys.stderr)
    return subprocess.run(command, env=env, check=False).returncode


def _run_modalities(args: argparse.Namespace, adapter: str, device: str) -> int:
    modalities = list(MODALITY_GROUPS) if args.modality == "all" else [args.modality]
    model_args = {
        "pretrained": args.model_name,
        **backbone_model_args(args.model_backbone),
        **resize_model_args(adapter, args.resize_min_pixels, args.resize_max_pixels),
        **({"revision": args.model_revision} if args.model_revision else {}),
    }
    for modality in modalities:
        output = args.output_basedir / _model_folder(args.model_name) / modality
        print(f"== {modality}: {MODALITY_GROUPS[modality]} -> {output}", file=sys.stderr)
        handler = functools.partial(
            _run_modality, adapter=adapter, device=device, model_args=model_args, modality=modality, output=output
        )
        code = run_handler(handler, args)  # errors: one line, exit 2, as harness run
        if code != 0:
            return code
    return 0


def _run_modality(
    args: argparse.Namespace, *, adapter: str, device: str, model_args: dict[str, Any], modality: str, output: Path
) -> int:
    result = evaluate(
        adapter,
        model_args,
        [MODALITY_GROUPS[modality]],
        data_basedir=args.data_basedir,
        output_path=output,
        batch_size=args.batch_size,
        limit=args.limit,
        device=device,
        dist_timeout=DIST_TIMEOUT_MINUTES,
        **encoding_arguments(args),
        reporter=RichReporter(),
        command=sys.argv,
    )
    report_run(result)
    return 0


def _device_for(gpu_ids: str) -> str:
    ids = [part.strip() for part in gpu_ids.split(",") if part.strip()]
    if not ids:
        return "auto"
    import torch

    if not torch.cuda.is_available():
        print("note: no CUDA device is available; running on CPU", file=sys.stderr)
        return "cpu"
    return f"cuda:{ids[0]}"


def _model_folder(model_name: str) -> str:
    """``VLM2Vec/VLM2Vec-V2.0`` → ``VLM2Vec-V2.0``; a local path → its last part."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model_name.rstrip("/")).name)


if __name__ == "__main__":
    sys.exit(main())
