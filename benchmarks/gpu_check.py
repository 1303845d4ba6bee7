"""One short GPU check of the vlm2vec adapter: precision agreement and real-size throughput.

Run it on a machine with a CUDA GPU (it prints figures and writes them as JSON):

    python benchmarks/gpu_check.py --out gpu_check.json

1. Golden agreement: the 45 golden inputs (tests/data/golden) encoded on the GPU in float32 and in
   bfloat16, one at a time, against the reference implementation's CPU float32 embeddings.
2. Real size, random weights: a model with Qwen2-VL-2B's dimensions (28 layers, hidden 1536, a
   32-block vision tower) initialised at random and saved with the tiny checkpoint's tokenizer.
   Throughput of text-only, image+text and 8-frame video inputs in bfloat16 (inputs/s, peak GPU
   memory), and bfloat16 vs float32 agreement of the same inputs.

``--tiny`` swaps the real-size model for a small one so the whole flow can be smoke-tested on a
CPU (``--device cpu``); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from harness.inputs import EncodeInput
from harness.media.video import sample_video
from harness.models import create_encoder
from harness.taskspec import IMAGE_MARKER, VIDEO_MARKER

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "data" / "golden"
TOKENIZER_FILES = (
    "generation_config.json",
    "merges.txt",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "video_preprocessor_config.json",
    "vocab.json",
)
# Qwen2-VL-2B-Instruct's published dimensions (text and vision tower).
REAL_TEXT = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}
REAL_VISION = {"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "num_heads": 16, "mlp_ratio": 4}
TINY_TEXT = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
}
TINY_VISION = {"depth": 2, "embed_dim": 64, "hidden_size": 128, "num_heads": 4, "mlp_ratio": 2}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def _encode(encoder: Any, inputs: Sequence[EncodeInput], batch_size: int) -> np.ndarray:
    parts = [encoder.encode(inputs[i : i + batch_size], "query") for i in range(0, len(inputs), batch_size)]
    return np.concatenate(parts)


def golden_agreement(device: str) -> dict[str, Any]:
    """Cosine and max abs difference of GPU fp32 / bf16 embeddings vs the reference's CPU fp32 ones."""
    records = [json.loads(line) for line in (GOLDEN / "embeddings" / "inputs.jsonl").open()]
    inputs = [
        EncodeInput(
            text=r["prompt"].replace("<|image_pad|>", IMAGE_MARKER),
            image=GOLDEN / r["media"][0] if r["media"] else None,
        )
        for r in records
    ]
    gold = np.load(GOLDEN / "embeddings" / "emb_bs1.npy")
    out: dict[str, Any] = {}
    for dtype in ("float32", "bfloat16"):
        args = {
            "pretrained": str(GOLDEN / "tiny-qwen2vl"),
            "max_pixels": 50176,
            "dtype": dtype,
            "attn_implementation": "sdpa",
        }
        encoder = create_encoder("vlm2vec", args, device)
        one = _encode(encoder, inputs, 1)
        batched = _encode(encoder, inputs, 8)
        cos = _cosines(one, gold)
        out[dtype] = {
            "min_cosine_vs_reference": float(cos.min()),
            "mean_cosine_vs_reference": float(cos.mean()),
            "max_abs_diff_vs_reference": float(np.abs(one - gold).max()),
            "min_cosine_batch8_vs_batch1": float(_cosines(batched, one).min()),
        }
        del encoder
    return out


def build_random_checkpoint(folder: Path, tiny: bool, device: str) -> int:
    """A random-weight Qwen2-VL with 2B dimensions (or tiny ones) and the golden tokenizer."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = json.loads((GOLDEN / "tiny-qwen2vl" / "config.json").read_text())
    config.update(TINY_TEXT if tiny else REAL_TEXT)
    config["vision_config"].update(TINY_VISION if tiny else REAL_VISION)
    config["torch_dtype"] = "bfloat16"
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(GOLDEN / "tiny-qwen2vl" / name, folder / name)
    qwen_config = Qwen2VLConfig.from_dict(config)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2VLForConditionalGeneration(qwen_config).to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(config, indent=2))  # the ids of the golden tokenizer
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return params


def synthetic_inputs(root: Path, count: int, tiny: bool) -> dict[str, list[EncodeInput]]:
    """Text-only, image+text and 8-frame video inputs of realistic sizes."""
    rng = np.random.default_rng(0)
    words = ["a", "photo", "of", "the", "red", "blue", "small", "large", "dog", "cat", "car", "street"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(8, 40)))) for _ in range(count)]
    images: list[EncodeInput] = []
    sizes = [(224, 224), (320, 240)] if tiny else [(640, 480), (800, 600), (512, 512), (1024, 768)]
    for i in range(count // 2):
        width, height = sizes[i % len(sizes)]
        path = root / f"img_{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
        images.append(
            EncodeInput(text=f"{IMAGE_MARKER} Represent the given image with the question: {texts[i]}", image=path)
        )
    videos: list[EncodeInput] = []
    for v in range(max(2, count // 16)):
        folder = root / f"video_{v}"
        folder.mkdir()
        for f in range(8):
            frame = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
            Image.fromarray(frame).save(folder / f"frame_{f:04d}.jpg")
        ref = sample_video(folder, 8)
        videos.append(EncodeInput(text=f"{VIDEO_MARKER} Understand the content of the provided video.", video=ref))
    return {"text": [EncodeInput(text=t) for t in texts], "image": images, "video": videos}


def throughput(encoder: Any, inputs: Sequence[EncodeInput], batch_size: int, device: str) -> dict[str, float]:
    import torch

    _encode(encoder, inputs[:batch_size], batch_size)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    start = time.perf_counter()
    _encode(encoder, inputs, batch_size)
    _sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return {
        "inputs": len(inputs),
        "batch_size": batch_size,
        "seconds": round(seconds, 3),
        "inputs_per_s": round(len(inputs) / seconds, 1),
        "peak_gpu_gib": round(peak, 2),
    }


def profile_batches(encoder: Any, inputs: dict[str, list[EncodeInput]], device: str) -> None:
    """Print where one batch of each kind spends its time (Python-level, cumulative)."""
    import cProfile
    import io
    import pstats

    for kind, batch_size in (("text", 64), ("image", 16), ("video", 4)):
        batch = inputs[kind][:batch_size]
        profiler = cProfile.Profile()
        profiler.enable()
        encoder.encode(batch, "query")
        _sync(device)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(18)
        print(f"--- profile: one {kind} batch of {len(batch)} ---")
        print("\n".join(line[:160] for line in stream.getvalue().splitlines()[:45]), flush=True)


def real_size(device: str, tiny: bool, count: int, profile: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        params = build_random_checkpoint(root / "ckpt", tiny, device)
        built = time.perf_counter() - started
        inputs = synthetic_inputs(root, count, tiny)
        args = {"pretrained": str(root / "ckpt"), "dtype": "bfloat16", "attn_implementation": "sdpa"}
        encoder = create_encoder("vlm2vec", args, device)
        result: dict[str, Any] = {"parameters": params, "build_and_save_s": round(built, 1)}
        result["bfloat16"] = {
            "text": throughput(encoder, inputs["text"], 64, device),
            "image": throughput(encoder, inputs["image"], 16, device),
            "video": throughput(encoder, inputs["video"], 4, device),
        }
        if profile:
            profile_batches(encoder, inputs, device)
        sample = inputs["text"][:16] + inputs["image"][:16] + inputs["video"][:4]
        low = _encode(encoder, sample, 8)
        del encoder
        encoder = create_encoder("vlm2vec", {**args, "dtype": "float32"}, device)
        high = _encode(encoder, sample, 8)
        cos = _cosines(low, high)
        result["bf16_vs_fp32_random_weights"] = {
            "min_cosine": float(cos.min()),
            "mean_cosine": float(cos.mean()),
            "min_cosine_text": float(cos[:16].min()),
            "min_cosine_image": float(cos[16:32].min()),
            "min_cosine_video": float(cos[32:].min()),
        }
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="small model, for a CPU smoke test")
    parser.add_argument("--count", type=int, default=256, help="text inputs (images: half, videos: 1/16)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--profile", action="store_true", help="print a Python profile of one batch per kind")
    parser.add_argument("--skip_golden", action="store_true")
    args = parser.parse_args()
    import torch
    import transformers

    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    if not args.skip_golden:
        report["golden"] = golden_agreement(args.device)
    print(json.dumps(report, indent=2), flush=True)
    report["real_size"] = real_size(args.device, args.tiny, args.count, args.profile)
    print(json.dumps(report["real_size"], indent=2), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
