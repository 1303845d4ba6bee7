"""The one-command MMEB-V2 runner: ``run_vlm2vec_qwen2vl_2b_eval.py --modality image|video|visdoc|all``.

Each modality runs its built-in group (``mmeb_v2_image``, ``mmeb_v2_video``, ``mmeb_v2_visdoc``)
through ``harness run`` and writes to ``<output_basedir>/<model>/<modality>/``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import ModelError
from harness.models.base import adapter_for_backbone

MODALITY_GROUPS = {"image": "mmeb_v2_image", "video": "mmeb_v2_video", "visdoc": "mmeb_v2_visdoc"}


def build_parser() -> argparse.ArgumentParser:
    """The runner's flags."""
    parser = argparse.ArgumentParser(description="Evaluate a VLM2Vec Qwen2-VL model on MMEB-V2 by modality.")
    parser.add_argument("--modality", choices=[*MODALITY_GROUPS, "all"], default="image")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--gpu_ids", default="0", help='comma-separated GPU ids, e.g. "0,1"')
    parser.add_argument("--data_basedir", type=Path, default=Path("data/vlm2vec_eval"))
    parser.add_argument("--output_basedir", type=Path, default=Path("results"))
    parser.add_argument("--model_name", default="VLM2Vec/VLM2Vec-V2.0")
    parser.add_argument("--model_backbone", default="qwen2_vl")
    parser.add_argument("--model_revision", default=None, help="hub revision to pin")
    parser.add_argument("--resize_min_pixels", type=int, default=3136)
    parser.add_argument("--resize_max_pixels", type=int, default=1003520)
    parser.add_argument("--limit", type=int, default=None, help="first N rows per task (a partial run)")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run each requested modality in turn; stop at the first failure."""
    from harness.cli import main as harness_main

    args = build_parser().parse_args(argv)
    try:
        adapter = adapter_for_backbone(args.model_backbone)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    device = _device_for(args.gpu_ids)
    modalities = list(MODALITY_GROUPS) if args.modality == "all" else [args.modality]
    model_args = f"pretrained={args.model_name},min_pixels={args.resize_min_pixels},max_pixels={args.resize_max_pixels}"
    if args.model_revision:
        model_args += f",revision={args.model_revision}"
    for modality in modalities:
        output = args.output_basedir / _model_folder(args.model_name) / modality
        command = [
            "run",
            "--model",
            adapter,
            "--model_args",
            model_args,
            "--tasks",
            MODALITY_GROUPS[modality],
            "--batch_size",
            str(args.batch_size),
            "--device",
            device,
            "--data_basedir",
            str(args.data_basedir),
            "--output_path",
            str(output),
        ]
        if args.limit is not None:
            command += ["--limit", str(args.limit)]
        if args.debug:
            command.append("--debug")
        print(f"== {modality}: {MODALITY_GROUPS[modality]} -> {output}", file=sys.stderr)
        code = harness_main(command)
        if code != 0:
            return code
    return 0


def _device_for(gpu_ids: str) -> str:
    ids = [part.strip() for part in gpu_ids.split(",") if part.strip()]
    if len(ids) > 1:
        print(
            f"note: --gpu_ids {gpu_ids}: distributed runs are not available yet; running on GPU {ids[0]} only",
            file=sys.stderr,
        )
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
