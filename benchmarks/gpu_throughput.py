"""Encoding throughput of the vlm2vec adapter on a Qwen2-VL-2B-sized random model; prints one JSON line.

The model has Qwen2-VL-2B's dimensions and random weights (``gpu_check.build_random_checkpoint``) and is
loaded through the harness's ``vlm2vec`` adapter in bfloat16. For each kind of input (text only,
image + text, an 8-frame video + text) it encodes ``--batches`` batches of ``--batch_size`` distinct
inputs: ``--warmup`` untimed passes, then ``--repeats`` timed passes, each between two
``torch.cuda.synchronize`` calls. It reports inputs/s (median and best pass) and the peak GPU memory
of each kind. A pass covers the adapter's whole ``encode``: media decoding, the processor, the forward.

Usage (from the repository root, on a CUDA machine):

    python benchmarks/gpu_throughput.py [--batch_size 16] [--batches 4] [--repeats 5] [--warmup 1]

``--tiny --device cpu`` swaps in a small model and small media: a smoke test whose figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gpu_check import build_random_checkpoint  # benchmarks/ is this script's folder, so it is on sys.path
from PIL import Image

from harness.inputs import IMAGE_MARKER, VIDEO_MARKER, EncodeInput
from harness.media.video import sample_video
from harness.models import create_encoder

FRAMES = 8
"""Frames per video, as every MMEB-V2 video task samples."""
IMAGE_SIZES = {"real": ((640, 480), (800, 600), (512, 512), (1024, 768)), "tiny": ((224, 224), (320, 240))}
"""Image sizes (width, height), used in turn."""
FRAME_SIZE = {"real": (640, 360), "tiny": (160, 120)}
WORDS = ("a", "photo", "of", "the", "red", "blue", "small", "large", "dog", "cat", "car", "street", "man", "woman")
DEFAULTS = {"batch_size": 16, "batches": 4, "repeats": 5}
TINY_DEFAULTS = {"batch_size": 4, "batches": 2, "repeats": 2}
"""``--tiny`` runs fewer, smaller batches so the CPU smoke test stays well under a minute."""


def caption(rng: random.Random) -> str:
    """A caption of 8 to 40 random words."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))


def save_noise_jpeg(rng: np.random.Generator, size: tuple[int, int], path: Path) -> Path:
    """Write an RGB noise image of ``size`` as JPEG (its content does not change the model's work)."""
    width, height = size
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def text_inputs(root: Path, count: int, scale: str) -> list[EncodeInput]:
    """Text-only inputs, worded as text-to-image retrieval queries."""
    words = random.Random("text")
    prompt = "Find me an everyday image that matches the given caption:"
    return [EncodeInput(text=f"{prompt} {caption(words)}") for _ in range(count)]


def image_inputs(root: Path, count: int, scale: str) -> list[EncodeInput]:
    """Image + text inputs, worded as image question queries; the sizes of ``IMAGE_SIZES[scale]`` in turn."""
    words, pixels = random.Random("image"), np.random.default_rng(0)
    sizes = IMAGE_SIZES[scale]
    prompt = f"{IMAGE_MARKER} Represent the given image with the following question:"
    return [
        EncodeInput(
            text=f"{prompt} {caption(words)}",
            image=save_noise_jpeg(pixels, sizes[i % len(sizes)], root / f"image_{i}.jpg"),
        )
        for i in range(count)
    ]


def video_inputs(root: Path, count: int, scale: str) -> list[EncodeInput]:
    """Video inputs: a folder of ``FRAMES`` frames each, sampled as the data layer samples them."""
    pixels = np.random.default_rng(1)
    inputs = []
    for i in range(count):
        folder = root / f"video_{i}"
        folder.mkdir()
        for frame in range(FRAMES):
            save_noise_jpeg(pixels, FRAME_SIZE[scale], folder / f"frame_{frame:04d}.jpg")
        text = f"{VIDEO_MARKER} Understand the content of the provided video."
        inputs.append(EncodeInput(text=text, video=sample_video(folder, FRAMES)))
    return inputs


INPUT_BUILDERS: dict[str, Callable[[Path, int, str], list[EncodeInput]]] = {
    "text": text_inputs,
    "image": image_inputs,
    "video": video_inputs,
}


def _sync(device: str) -> None:
    """Wait for the GPU's queued work, so a timing covers it."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _gib(value: int) -> float:
    return round(value / 2**30, 3)


def encode_pass(encoder: Any, batches: Sequence[Sequence[EncodeInput]], device: str) -> float:
    """Seconds to encode every batch once, synchronised before and after."""
    _sync(device)
    start = time.perf_counter()
    for batch in batches:
        encoder.encode(batch, "query")
    _sync(device)
    return time.perf_counter() - start


def time_kind(
    encoder: Any, inputs: Sequence[EncodeInput], batch_size: int, warmup: int, repeats: int, device: str
) -> dict[str, Any]:
    """Throughput of one kind of input: median and best of ``repeats`` timed passes after ``warmup`` ones."""
    import torch

    batches = [inputs[i : i + batch_size] for i in range(0, len(inputs), batch_size)]
    for _ in range(warmup):
        encode_pass(encoder, batches, device)
    on_gpu = device.startswith("cuda")
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    seconds = [encode_pass(encoder, batches, device) for _ in range(repeats)]
    return {
        "inputs": len(inputs),
        "batch_size": batch_size,
        "inputs_per_s": round(len(inputs) / statistics.median(seconds), 2),
        "inputs_per_s_best": round(len(inputs) / min(seconds), 2),
        "pass_seconds": [round(s, 4) for s in seconds],
        "peak_gpu_gib": _gib(torch.cuda.max_memory_allocated()) if on_gpu else None,
    }


def environment(device: str) -> dict[str, Any]:
    """The device and library versions the figures were measured with."""
    import torch
    import transformers

    return {
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the random model, load it through the adapter, and time every kind of input."""
    import torch

    scale = "tiny" if args.tiny else "real"
    report: dict[str, Any] = {**environment(args.device), "scale": scale, "frames": FRAMES}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        report["parameters"] = build_random_checkpoint(root / "ckpt", args.tiny, args.device)
        model_args = {"pretrained": str(root / "ckpt"), "dtype": "bfloat16", "attn_implementation": args.attn}
        encoder = create_encoder("vlm2vec", model_args, args.device)
        report["build_and_load_s"] = round(time.perf_counter() - started, 1)
        metadata = encoder.metadata()
        report["dtype"], report["attn_implementation"] = metadata.dtype, metadata.attn_implementation
        if args.device.startswith("cuda"):
            report["model_gpu_gib"] = _gib(torch.cuda.memory_allocated())
        count = args.batch_size * args.batches
        for kind, build in INPUT_BUILDERS.items():
            folder = root / kind
            folder.mkdir()
            inputs = build(folder, count, scale)
            report[kind] = time_kind(encoder, inputs, args.batch_size, args.warmup, args.repeats, args.device)
            print(f"{kind}: {report[kind]['inputs_per_s']} inputs/s", file=sys.stderr, flush=True)
    peaks = [report[kind]["peak_gpu_gib"] for kind in INPUT_BUILDERS]
    report["peak_gpu_gib"] = max(peaks) if args.device.startswith("cuda") else None
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; every count must be positive (warm-up passes may be none)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="small model and media, for a CPU smoke test")
    parser.add_argument("--batch_size", type=int, help="default 16 (--tiny: 4)")
    parser.add_argument("--batches", type=int, help="batches per pass, per kind; default 4 (--tiny: 2)")
    parser.add_argument("--repeats", type=int, help="timed passes per kind; default 5 (--tiny: 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes per kind first (default 1)")
    parser.add_argument(
        "--attn", default="auto", choices=["auto", "sdpa", "eager", "flash_attention_2"], help="attn_implementation"
    )
    args = parser.parse_args(argv)
    for name, value in (TINY_DEFAULTS if args.tiny else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.batch_size, args.batches, args.repeats) < 1 or args.warmup < 0:
        parser.error("--batch_size, --batches and --repeats must be at least 1, --warmup at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print its report as one JSON line on stdout."""
    print(json.dumps(measure(parse_args(argv))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
