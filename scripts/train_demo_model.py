"""Train the bundled demo checkpoint: a tiny Qwen2-VL taught the synthetic shape tasks (seeded).

The model starts from the tiny Qwen2-VL config and tokenizer of the golden reference checkpoint
(``tests/data/golden/tiny-qwen2vl``: hidden 64, 2 layers, vision depth 2, a 500-token BPE),
with the vision tower widened from 32 to 64, freshly initialised with a fixed seed, and is
trained contrastively (InfoNCE, in-batch negatives, both directions) on query/positive pairs of
the three demo tasks. The pairs are
drawn from a TRAIN set of shape images generated in memory from ``TRAIN_SEED`` (never shipped);
the prompts are rendered from the very task files in ``tasks/demo/``, and every input goes
through the same preprocessing and forward pass as the harness's ``vlm2vec`` adapter:

* prompt = template output with ``<|image|>`` replaced by ``<|image_pad|>``;
* ``Qwen2VLProcessor`` with the PIL image backend, left padding, ``padding=True``;
* ``model.model(...)`` with 1-D positions ``cumsum(attention_mask) - 1`` in all three M-RoPE
  sections; embedding = last position of ``last_hidden_state``, L2-normalised.

At the end the script scores the shipped TEST rows (``harness/demo/data``, written by
``scripts/make_demo_data.py``) with the trained model, with the untrained init and with the
golden random checkpoint, saves the checkpoint with a model card, reloads it through the
harness adapter and checks that it reproduces the training-time embeddings.

Usage: ``python scripts/train_demo_model.py`` (about 6 minutes on 2 idle CPU cores).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_demo_data as demo  # noqa: E402  (the shared drawing and row builders)

from harness.data.records import build_task_data  # noqa: E402
from harness.data.sources import load_rows  # noqa: E402
from harness.engine.encode import encode_inputs, unique_inputs  # noqa: E402
from harness.engine.rank import rank_global, rank_local  # noqa: E402
from harness.inputs import EncodeInput, Side  # noqa: E402
from harness.models.qwen2_vl.preprocess import SMALL_IMAGE_SIZE, SMALL_SIDE, build_processor, load_image  # noqa: E402
from harness.taskspec import IMAGE_MARKER, LoadedTask, TaskSpec, load_task_file, render  # noqa: E402

SEED = 20250711
"""Seed of the init, the TRAIN images and the batch order."""
TRAIN_SEED = 424242
"""Seed of the in-memory TRAIN images (the shipped TEST images use ``demo.TEST_SEED``)."""
TRAIN_IMAGES_PER_CLASS = 120
IMAGE_TOKEN = "<|image_pad|>"
MIN_PIXELS, MAX_PIXELS = 3136, 50176
TASK_DIR = REPO / "tasks" / "demo"
DATA_DIR = REPO / "harness" / "demo" / "data"
OUT_DIR = REPO / "harness" / "demo" / "checkpoint"
BASE_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "golden" / "tiny-qwen2vl"
COPIED_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
)


# --------------------------------------------------------------------------------------------
# The adapter's forward pass (harness/models/qwen2_vl/adapter.py), with gradients allowed.
# --------------------------------------------------------------------------------------------


def prepare_image(image: Image.Image) -> Image.Image:
    """What ``preprocess.load_image`` does after opening the file."""
    image = image.convert("RGB")
    if min(image.size) < SMALL_SIDE:
        image = image.resize(SMALL_IMAGE_SIZE)
    return image


def process(processor: Any, texts: Sequence[str], images: Sequence[Image.Image]) -> dict[str, torch.Tensor]:
    """The adapter's processor call: ``<|image|>`` -> ``<|image_pad|>``, left padding."""
    prompts = [text.replace(IMAGE_MARKER, IMAGE_TOKEN) for text in texts]
    return processor(text=prompts, images=list(images) or None, padding=True, return_tensors="pt")


def forward_embed(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The adapter's forward and pooling: 1-D positions, last token, L2-normalised."""
    attention_mask = batch["attention_mask"]
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    forward: dict[str, Any] = {
        "input_ids": batch["input_ids"],
        "attention_mask": attention_mask,
        "position_ids": positions.unsqueeze(0).expand(3, -1, -1),
    }
    if "pixel_values" in batch:
        forward["pixel_values"] = batch["pixel_values"].to(model.dtype)
        forward["image_grid_thw"] = batch["image_grid_thw"]
    hidden = model.model(**forward).last_hidden_state
    return torch.nn.functional.normalize(hidden[:, -1].float(), dim=-1)


def embed(model: Any, processor: Any, texts: Sequence[str], images: Sequence[Image.Image]) -> torch.Tensor:
    """L2-normalised last-token embeddings, exactly as the vlm2vec adapter computes them."""
    return forward_embed(model, process(processor, texts, images))


class InMemoryEncoder:
    """The harness ``Encoder`` protocol over a model being trained (no reload from disk)."""

    def __init__(self, model: Any, processor: Any) -> None:
        self.model, self.processor = model, processor

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        images = [load_image(item.image) for item in inputs if item.image is not None]
        with torch.inference_mode():
            return embed(self.model, self.processor, [item.text for item in inputs], images).numpy()

    def metadata(self) -> dict[str, Any]:
        return {"adapter": "in-memory training model"}


# --------------------------------------------------------------------------------------------
# Training pairs: TRAIN rows rendered through the demo task templates.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One rendered input: prompt text (with ``<|image|>``) and its image, if any."""

    text: str
    image: Image.Image | None
    image_key: str | None = None
    """Identifies the image for the preprocessing cache (its TRAIN path)."""


def load_demo_tasks() -> dict[str, TaskSpec]:
    """The task specs of ``tasks/demo`` (the same files the harness evaluates)."""
    specs = {}
    for name in demo.TASK_FILES:
        loaded = load_task_file(TASK_DIR / f"{name}.yaml")
        assert isinstance(loaded, LoadedTask)
        specs[name] = loaded.spec
    return specs


def render_pair(spec: TaskSpec, row: dict[str, Any], images: dict[str, Image.Image]) -> tuple[Example, Example]:
    """The query and its positive (candidate 0) of ``row``, rendered as the harness does."""

    def example(text: str, values: dict[str, Any], column: str | None) -> Example:
        key = values[column] if column and values.get(column) else None
        return Example(text, images[key] if key else None, key)

    query = example(render(spec.query.template, row), row, spec.query.image_column)
    first = {column: row[column][0] for column in spec.candidates.columns}
    positive = example(render(spec.candidates.template, {**row, "cand": first}), first, spec.candidates.image_column)
    return query, positive


class CachedCollator:
    """Processor outputs for a batch of examples, assembled from per-image and per-prompt caches.

    Each TRAIN image is preprocessed once instead of at every step (a quarter of the step time).
    The assembled batch equals one processor call on the same inputs; ``check`` asserts it.
    """

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.pad_id = processor.tokenizer.pad_token_id
        self.pixels: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.token_ids: dict[tuple[str, tuple[int, ...] | None], torch.Tensor] = {}

    def __call__(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        sequences, pixel_values, grids = [], [], []
        for example in examples:
            grid_key = None
            if example.image is not None:
                assert example.image_key is not None
                if example.image_key not in self.pixels:
                    out = process(self.processor, [IMAGE_MARKER], [example.image])
                    self.pixels[example.image_key] = (out["pixel_values"], out["image_grid_thw"])
                pixels, grid = self.pixels[example.image_key]
                pixel_values.append(pixels)
                grids.append(grid)
                grid_key = tuple(grid[0].tolist())
            if (example.text, grid_key) not in self.token_ids:
                images = [example.image] if example.image is not None else []
                self.token_ids[(example.text, grid_key)] = process(self.processor, [example.text], images)["input_ids"][
                    0
                ]
            sequences.append(self.token_ids[(example.text, grid_key)])
        length = max(len(ids) for ids in sequences)
        input_ids = torch.full((len(sequences), length), self.pad_id, dtype=sequences[0].dtype)
        attention_mask = torch.zeros((len(sequences), length), dtype=torch.long)
        for row, ids in enumerate(sequences):  # left padding, as the tokenizer pads
            input_ids[row, length - len(ids) :] = ids
            attention_mask[row, length - len(ids) :] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if pixel_values:
            batch["pixel_values"] = torch.cat(pixel_values)
            batch["image_grid_thw"] = torch.cat(grids)
        return batch

    def check(self, examples: Sequence[Example]) -> None:
        """Assert that the cached batch equals the processor's own output."""
        cached = self(examples)
        images = [example.image for example in examples if example.image is not None]
        reference = process(self.processor, [example.text for example in examples], images)
        for key, value in cached.items():
            assert torch.equal(value, reference[key].to(value.dtype)), f"cached {key} differs from the processor"


class TrainSet:
    """TRAIN images drawn in memory, and seeded batches of one pair per class for each task."""

    def __init__(self, specs: dict[str, TaskSpec], images_per_class: int, seed: int) -> None:
        draw_rng = random.Random(TRAIN_SEED)
        self.specs = specs
        self.images: dict[str, Image.Image] = {}
        self.by_class: list[list[str]] = [[] for _ in demo.CLASSES]
        for _ in range(images_per_class):
            for class_index, (colour, shape) in enumerate(demo.CLASSES):
                path = f"train/{len(self.images):05d}.png"
                self.images[path] = prepare_image(demo.draw_shape_image(draw_rng, colour, shape))
                self.by_class[class_index].append(path)
        self.rng = random.Random(seed)

    def batch(self, task: str, classes_per_batch: int) -> tuple[list[Example], list[Example]]:
        """Queries and positives of ``classes_per_batch`` distinct classes (no false negatives)."""
        rng = self.rng
        queries, positives = [], []
        for class_index in rng.sample(range(len(demo.CLASSES)), classes_per_batch):
            colour, shape = demo.CLASSES[class_index]
            image = rng.choice(self.by_class[class_index])
            if task == "demo_shape_color_cls":
                row = demo.cls_row(image, class_index, [])
            elif task == "demo_image_to_text_global":
                row = demo.i2t_row(image, class_index, [])
            else:
                variant = rng.randrange(demo.NUM_DESCRIPTION_VARIANTS)
                row = demo.t2i_row(demo.class_description(colour, shape, variant), [image])
            query, positive = render_pair(self.specs[task], row, self.images)
            queries.append(query)
            positives.append(positive)
        return queries, positives


def info_nce(queries: torch.Tensor, positives: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: row i of each side is the positive of row i of the other."""
    logits = queries @ positives.T / temperature
    labels = torch.arange(len(queries))
    return 0.5 * (
        torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels)
    )


# --------------------------------------------------------------------------------------------
# Model set-up, evaluation on the shipped TEST rows, saving.
# --------------------------------------------------------------------------------------------


def build_config(base: Path, overrides: dict[str, int]) -> Any:
    """The golden tiny config (flat hub layout), with optional width overrides."""
    from transformers import Qwen2VLConfig

    raw = json.loads((base / "config.json").read_text())
    for key, value in overrides.items():
        if key.startswith("vision_"):
            raw["vision_config"][key.removeprefix("vision_")] = value
        else:
            raw[key] = value
    raw["vision_config"]["hidden_size"] = raw["hidden_size"]  # the merger projects to the text width
    raw.pop("transformers_version", None)
    return Qwen2VLConfig(**raw)


def evaluate(encoder: Any, specs: dict[str, TaskSpec]) -> dict[str, dict[str, float]]:
    """hit@1 and chance on every demo task's TEST rows, through the harness data pipeline."""
    results = {}
    for name, spec in specs.items():
        rows = load_rows(spec.dataset, DATA_DIR.resolve(), mode="local")
        data = build_task_data(spec, rows, DATA_DIR.resolve() / spec.media_root)
        query_inputs, inverse = unique_inputs([q.input for q in data.queries])
        queries = encode_inputs(encoder, query_inputs, "query", batch_size=16)[inverse]
        candidate_ids = list(data.candidates)
        candidates = encode_inputs(encoder, [data.candidates[i] for i in candidate_ids], "candidate", batch_size=16)
        if spec.ranking == "local":
            rows_of = {cid: i for i, cid in enumerate(candidate_ids)}
            rankings = rank_local(queries, candidates, rows_of, [q.candidate_ids for q in data.queries], depth=1)
            chance = float(np.mean([1 / len(q.candidate_ids) for q in data.queries]))
        else:
            rankings = rank_global(queries, candidates, candidate_ids, depth=1)
            chance = 1 / len(candidate_ids)
        hits = [ids[0] in q.relevance for ids, q in zip(rankings.ids, data.queries, strict=True)]
        results[name] = {"hit@1": float(np.mean(hits)), "chance": chance, "queries": len(hits)}
    return results


def test_inputs(specs: dict[str, TaskSpec]) -> list[EncodeInput]:
    """Every distinct TEST input (queries and candidates) of the demo tasks."""
    inputs: list[EncodeInput] = []
    for spec in specs.values():
        rows = load_rows(spec.dataset, DATA_DIR.resolve(), mode="local")
        data = build_task_data(spec, rows, DATA_DIR.resolve() / spec.media_root)
        inputs += [q.input for q in data.queries] + list(data.candidates.values())
    return unique_inputs(inputs)[0]


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=BASE_DIR, help="config + tokenizer to start from")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--weight_decay", type=float, default=0.01)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--classes_per_batch", type=int, default=len(demo.CLASSES))
    parser.add_argument("--train_images_per_class", type=int, default=TRAIN_IMAGES_PER_CLASS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eval_every", type=int, default=0, help="evaluate on TEST every N steps (0: off)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no_save", action="store_true", help="train and evaluate only")
    parser.add_argument("--hidden_size", type=int, default=None)
    parser.add_argument("--intermediate_size", type=int, default=None)
    parser.add_argument(
        "--vision_embed_dim", type=int, default=64, help="vision tower width (golden: 32; 64 learns shapes better)"
    )
    args = parser.parse_args()

    from transformers import Qwen2VLForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    overrides = {
        key: value
        for key, value in (
            ("hidden_size", args.hidden_size),
            ("intermediate_size", args.intermediate_size),
            ("vision_embed_dim", args.vision_embed_dim),
        )
        if value is not None
    }
    config = build_config(args.base, overrides)
    set_seeds(args.seed)
    model = Qwen2VLForConditionalGeneration._from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    num_parameters = sum(p.numel() for p in model.parameters())
    processor = build_processor(str(args.base), None, MIN_PIXELS, MAX_PIXELS, False)
    specs = load_demo_tasks()

    model.eval()
    init_scores = evaluate(InMemoryEncoder(model, processor), specs)
    # A second random baseline: the golden checkpoint itself (base config, its own init).
    golden = Qwen2VLForConditionalGeneration.from_pretrained(args.base, dtype=torch.float32, attn_implementation="sdpa")
    golden_scores = evaluate(InMemoryEncoder(golden.eval(), processor), specs)
    del golden
    print(f"params {num_parameters:,}; init hit@1 {_brief(init_scores)}; golden {_brief(golden_scores)}", flush=True)

    train_set = TrainSet(specs, args.train_images_per_class, args.seed)
    print(f"drew {len(train_set.images)} TRAIN images ({time.perf_counter() - started:.0f}s)", flush=True)
    collate = CachedCollator(processor)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    model.train()
    losses: list[float] = []
    train_started = time.perf_counter()
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        total = torch.zeros(())
        for task in demo.TASK_FILES:
            queries, positives = train_set.batch(task, args.classes_per_batch)
            if step % 250 == 0:  # the cache must equal the processor
                collate.check(queries)
                collate.check(positives)
            q = forward_embed(model, collate(queries))
            p = forward_embed(model, collate(positives))
            total = total + info_nce(q, p, args.temperature)
        loss = total / len(demo.TASK_FILES)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps - 1:
            window = losses[-50:]
            elapsed = time.perf_counter() - train_started
            print(
                f"step {step:5d}  loss {np.mean(window):.4f}  lr {optimizer.param_groups[0]['lr']:.2e}  {elapsed:.0f}s",
                flush=True,
            )
        if args.eval_every and (step + 1) % args.eval_every == 0:
            model.eval()
            print(f"  TEST hit@1 {_brief(evaluate(InMemoryEncoder(model, processor), specs))}", flush=True)
            model.train()
    train_seconds = time.perf_counter() - train_started
    model.eval()
    trained_scores = evaluate(InMemoryEncoder(model, processor), specs)
    print(f"trained in {train_seconds:.0f}s; TEST hit@1 {_brief(trained_scores)}", flush=True)

    report = {
        "seed": args.seed,
        "train_seed": TRAIN_SEED,
        "test_seed": demo.TEST_SEED,
        "steps": args.steps,
        "lr": args.lr,
        "warmup": args.warmup,
        "weight_decay": args.weight_decay,
        "temperature": args.temperature,
        "classes_per_batch": args.classes_per_batch,
        "train_images": len(train_set.images),
        "num_parameters": num_parameters,
        "config_overrides": overrides,
        "train_seconds": round(train_seconds, 1),
        "threads": args.threads,
        "loss_curve": _loss_summary(losses),
        "scores": {"trained": trained_scores, "init": init_scores, "golden_random": golden_scores},
    }
    _print_table(report)
    if args.no_save:
        return
    save_checkpoint(model, args.base, args.out, report)
    verify_reload(model, processor, args.out, specs, trained_scores)
    print(f"total wall time {time.perf_counter() - started:.0f}s")


def save_checkpoint(model: Any, base: Path, out: Path, report: dict[str, Any]) -> None:
    """Write the weights, config, tokenizer/processor files and the model card to ``out``."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out)
    (out / "model.safetensors").chmod(0o644)  # safetensors writes it owner-only
    for name in COPIED_FILES:
        shutil.copyfile(base / name, out / name)
    (out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "README.md").write_text(model_card(report))
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print("saved", out, json.dumps(sizes))


def verify_reload(model: Any, processor: Any, out: Path, specs: dict[str, TaskSpec], scores: dict) -> None:
    """Reload ``out`` through the harness adapter; embeddings and scores must match training."""
    from harness.models.qwen2_vl.adapter import VLM2VecQwen2VL, VLM2VecSettings

    settings = VLM2VecSettings(pretrained=str(out), dtype="float32", attn_implementation="sdpa", max_pixels=MAX_PIXELS)
    adapter = VLM2VecQwen2VL(settings, "cpu")
    inputs = test_inputs(specs)
    reloaded = encode_inputs(adapter, inputs, "query", batch_size=16)
    in_memory = encode_inputs(InMemoryEncoder(model, processor), inputs, "query", batch_size=16)
    max_diff = float(np.abs(reloaded - in_memory).max())
    reloaded_scores = evaluate(adapter, specs)
    print(
        f"reload check: {len(inputs)} inputs, max |emb diff| {max_diff:.2e}; scores equal: {reloaded_scores == scores}"
    )
    if max_diff > 1e-5 or reloaded_scores != scores:
        raise SystemExit("the reloaded checkpoint does not reproduce the training-time embeddings")


def _brief(scores: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{name.removeprefix('demo_')} {s['hit@1']:.3f}" for name, s in scores.items())


def _loss_summary(losses: list[float]) -> list[dict[str, float]]:
    """Mean loss over windows at ~10 points along training."""
    points = sorted({0, *[round(len(losses) * f / 10) - 1 for f in range(1, 11)]})
    return [
        {"step": p + 1, "mean_loss_last_50": round(float(np.mean(losses[max(0, p - 49) : p + 1])), 4)}
        for p in points
        if p >= 0
    ]


def _print_table(report: dict[str, Any]) -> None:
    scores = report["scores"]
    print(f"{'task':32s} {'trained':>8s} {'init':>8s} {'golden':>8s} {'chance':>8s}")
    for name, trained in scores["trained"].items():
        init, golden = scores["init"][name]["hit@1"], scores["golden_random"][name]["hit@1"]
        print(f"{name:32s} {trained['hit@1']:8.3f} {init:8.3f} {golden:8.3f} {trained['chance']:8.3f}")


def model_card(report: dict[str, Any]) -> str:
    """The checkpoint's README.md."""
    scores = report["scores"]
    lines = []
    for name, trained in scores["trained"].items():
        golden = f"{scores['golden_random'][name]['hit@1']:.3f}"
        lines.append(
            f"| `{name}` | {trained['queries']} | {trained['hit@1']:.3f} | {scores['init'][name]['hit@1']:.3f} "
            f"| {golden} | {trained['chance']:.3f} |"
        )
    curve = "\n".join(f"| {p['step']} | {p['mean_loss_last_50']:.4f} |" for p in report["loss_curve"])
    overrides = ", ".join(f"`{k}` {v}" for k, v in report["config_overrides"].items()) or "none"
    return f"""# Demo checkpoint: tiny Qwen2-VL trained on synthetic shapes

This is the model that `harness run` evaluates when given no arguments. It is a toy. It knows 24
synthetic classes, one of 4 shapes (circle, square, triangle, cross) in one of 6 colours (red,
green, blue, yellow, purple, orange), drawn on a light, mildly noisy background. It exists
so that the demo scores are far above chance, while a random init of the same config scores
at chance. It says nothing about real VLM2Vec checkpoints.

- Architecture: `Qwen2VLForConditionalGeneration`. Its config and tokenizer come from the golden
  tiny reference checkpoint (`tiny-qwen2vl`): hidden 64, 2 layers, 4 heads / 2 KV heads, vision
  depth 2 with embed 32, vocab 512, a 500-token byte-level BPE. Overrides of that config:
  {overrides}. The vision tower is widened because shape recognition needs the extra width.
  {report["num_parameters"]:,} float32 parameters.
- Encoding: the harness `vlm2vec` adapter. The prompt is the task template with `<|image|>` replaced
  by `<|image_pad|>`, with no chat template. Positions are 1-D. The embedding is the last token of
  the last hidden state, L2-normalised, and scores are dot products. Pixel bounds: min 3136, max 50176
  (the demo images are at most 112×112, so the upper bound is never reached).

## How it was trained

`scripts/train_demo_model.py`, run as is, with defaults:

- Init: fresh `Qwen2VLForConditionalGeneration._from_config(config)` (sdpa, float32) after
  `torch.manual_seed({report["seed"]})`, with `random`/`numpy` seeded too. The transformers default
  init is used (normal, std 0.02).
- Data: {report["train_images"]} TRAIN images drawn in memory by `scripts/make_demo_data.py`'s
  `draw_shape_image` with seed {report["train_seed"]}. They are never shipped. The TEST images in
  `harness/demo/data` use seed {report["test_seed"]}, so no test image was seen in training.
- Pairs: query and positive of the three demo tasks. Prompts are rendered from the task files in
  `tasks/demo/`, so they are the strings the harness evaluates. Each step has, per task, one pair for each
  of {report["classes_per_batch"]} distinct classes, so there are no false in-batch negatives.
  The batch order comes from a seeded `random.Random`.
- Loss: symmetric InfoNCE over in-batch negatives, temperature {report["temperature"]}, averaged over the 3 tasks.
- Optimiser: AdamW, lr {report["lr"]} with {report["warmup"]} warm-up steps, then cosine decay to 5 %.
  Weight decay {report["weight_decay"]}, gradient clipping at 1.0, {report["steps"]} steps.
- Time: {report["train_seconds"]:.0f} s of training on {report["threads"]} CPU threads.

Loss (mean of the last 50 steps; the first row is step 1 alone):

| step | loss |
|---:|---:|
{curve}

## Scores on the shipped TEST rows (hit@1)

"init" is the same seeded fresh init (same config) before training. "golden" is the golden random
`tiny-qwen2vl` checkpoint (the base config, with its own init). Chance is the mean of 1/#candidates.

| task | queries | trained | init | golden | chance |
|---|---:|---:|---:|---:|---:|
{chr(10).join(lines)}

`training_report.json` holds the same numbers in machine-readable form.

## Regenerate

```
python scripts/make_demo_data.py      # TEST images + rows -> harness/demo/data
python scripts/train_demo_model.py    # this folder
```
"""


if __name__ == "__main__":
    main()
