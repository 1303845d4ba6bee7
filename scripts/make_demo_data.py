"""Generate the bundled demo data: synthetic shape images and MMEB-format rows (seeded).

Every image is a simple PIL drawing: one shape (circle, square, triangle, cross) in one colour
(red, green, blue, yellow, purple, orange) on a light, mildly noisy background, with jittered
size, aspect, position and colour. That gives 24 classes such as ``"red circle"``.

This script writes the held-out TEST set only (``TEST_SEED``), into ``harness/demo/data``:

* ``image-tasks/demo/shape_NNN.png``: ``IMAGES_PER_CLASS`` images per class;
* ``demo/<task>.jsonl``: rows in the MMEB test format (``qry_inst``, ``qry_text``,
  ``qry_img_path``, ``tgt_inst``, ``tgt_text`` list, ``tgt_img_path`` list, positive first;
  image paths relative to ``image-tasks/``), one file per demo task in ``tasks/demo/``.

``scripts/train_demo_model.py`` imports the drawing and row builders from here and draws its
TRAIN set in memory from a different seed, so no training image is ever shipped.

Usage: ``python scripts/make_demo_data.py [--out harness/demo/data]``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

TEST_SEED = 1729
"""Seed of the shipped TEST images and rows (the training script uses a different one)."""
IMAGES_PER_CLASS = 4
NUM_LOCAL_CANDIDATES = 8
"""Candidates per row of the local tasks: the positive and 7 distractors of other classes."""

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 180),
    "orange": (245, 140, 30),
}
CLASSES: tuple[tuple[str, str], ...] = tuple((colour, shape) for shape in SHAPES for colour in COLOURS)
"""The 24 (colour, shape) classes, in a fixed order."""

MIN_SIDE, MAX_SIDE = 56, 112
"""Image width and height are drawn independently from this range (pixels)."""

# Instructions stored in the rows, MMEB style (``<|image_1|>`` marks the image in *_inst).
CLS_QUERY_INST = "<|image_1|>\nRepresent the given image for classification"
T2I_QUERY_INST = "Find an image that matches the given description:"
T2I_TARGET_INST = "<|image_1|>\nRepresent the given image."
I2T_QUERY_INST = "<|image_1|>\nFind a caption describing the shape and colour in the image"

TASK_FILES = {
    "demo_shape_color_cls": "demo/demo_shape_color_cls.jsonl",
    "demo_text_to_image": "demo/demo_text_to_image.jsonl",
    "demo_image_to_text_global": "demo/demo_image_to_text_global.jsonl",
}
"""Task name -> rows file, relative to the data base folder (as in ``tasks/demo/*.yaml``)."""
IMAGE_SUBDIR = "demo"
"""Folder of the test images inside ``image-tasks/`` (the tasks' ``media_root``)."""


def class_label(colour: str, shape: str) -> str:
    """Classification label, e.g. ``"red circle"``."""
    return f"{colour} {shape}"


def class_caption(colour: str, shape: str) -> str:
    """Caption used as the global task's candidate text, e.g. ``"a red circle"``."""
    return f"a {colour} {shape}"


def class_description(colour: str, shape: str, variant: int) -> str:
    """One of three phrasings of a class, used as text-to-image query text."""
    phrasings = (
        f"a {colour} {shape}",
        f"a {shape} coloured {colour}",
        f"one {colour} {shape} on a light background",
    )
    return phrasings[variant % len(phrasings)]


NUM_DESCRIPTION_VARIANTS = 3


def draw_shape_image(rng: random.Random, colour: str, shape: str) -> Image.Image:
    """Draw one RGB image of ``colour`` ``shape``; every random choice comes from ``rng``."""
    width, height = rng.randint(MIN_SIDE, MAX_SIDE), rng.randint(MIN_SIDE, MAX_SIDE)
    background = tuple(rng.randint(222, 250) for _ in range(3))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    radius = min(width, height) * rng.uniform(0.45, 0.8) / 2
    cx = rng.uniform(radius + 2, width - radius - 2)
    cy = rng.uniform(radius + 2, height - radius - 2)
    fill = tuple(min(255, max(0, value + rng.randint(-20, 20))) for value in COLOURS[colour])
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
    elif shape == "square":
        half = radius * 0.85
        draw.rectangle([cx - half, cy - half, cx + half, cy + half], fill=fill)
    elif shape == "triangle":
        draw.polygon(
            [(cx, cy - radius), (cx - radius * 0.95, cy + radius * 0.8), (cx + radius * 0.95, cy + radius * 0.8)],
            fill=fill,
        )
    elif shape == "cross":
        arm = radius * 0.33
        draw.rectangle([cx - radius, cy - arm, cx + radius, cy + arm], fill=fill)
        draw.rectangle([cx - arm, cy - radius, cx + arm, cy + radius], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return Image.fromarray(_add_mild_noise(np.asarray(image), rng))


def _add_mild_noise(pixels: np.ndarray, rng: random.Random) -> np.ndarray:
    # Blocky low-frequency shading plus sparse grey speckles: visible noise that still
    # compresses well as PNG (per-pixel Gaussian noise would make the files ~10x larger).
    noise_rng = np.random.default_rng(rng.getrandbits(32))
    height, width = pixels.shape[:2]
    out = pixels.astype(np.int16)
    blocks = noise_rng.integers(-6, 7, size=(height // 8 + 1, width // 8 + 1, 1))
    out += blocks.repeat(8, axis=0).repeat(8, axis=1)[:height, :width].astype(np.int16)
    speckles = noise_rng.random((height, width)) < 0.03
    out[speckles] += noise_rng.integers(-40, 41, size=(int(speckles.sum()), 1)).astype(np.int16)
    return out.clip(0, 255).astype(np.uint8)


def other_classes(rng: random.Random, positive: int, count: int) -> list[int]:
    """``count`` distinct class indices other than ``positive``, in random order."""
    return rng.sample([c for c in range(len(CLASSES)) if c != positive], count)


def cls_row(image_path: str, class_index: int, distractors: Sequence[int]) -> dict[str, Any]:
    """Image -> label row (demo_shape_color_cls): candidates are raw labels, positive first."""
    labels = [class_label(*CLASSES[c]) for c in (class_index, *distractors)]
    return {
        "qry_inst": CLS_QUERY_INST,
        "qry_text": "",
        "qry_img_path": image_path,
        "tgt_inst": "",
        "tgt_text": labels,
        "tgt_img_path": [""] * len(labels),
    }


def t2i_row(description: str, image_paths: Sequence[str]) -> dict[str, Any]:
    """Text -> image row (demo_text_to_image): ``image_paths[0]`` is the positive."""
    return {
        "qry_inst": T2I_QUERY_INST,
        "qry_text": description,
        "qry_img_path": "",
        "tgt_inst": T2I_TARGET_INST,
        "tgt_text": [""] * len(image_paths),
        "tgt_img_path": list(image_paths),
    }


def i2t_row(image_path: str, class_index: int, distractors: Sequence[int]) -> dict[str, Any]:
    """Image -> caption row (demo_image_to_text_global); ranked against the task's whole pool."""
    captions = [class_caption(*CLASSES[c]) for c in (class_index, *distractors)]
    return {
        "qry_inst": I2T_QUERY_INST,
        "qry_text": "",
        "qry_img_path": image_path,
        "tgt_inst": "",
        "tgt_text": captions,
        "tgt_img_path": [""] * len(captions),
    }


def build_test_set(rng: random.Random) -> tuple[dict[str, Image.Image], dict[str, list[dict[str, Any]]]]:
    """Draw the TEST images and build the rows of every demo task from them."""
    images: dict[str, Image.Image] = {}
    by_class: list[list[str]] = [[] for _ in CLASSES]
    for _ in range(IMAGES_PER_CLASS):
        for class_index, (colour, shape) in enumerate(CLASSES):
            path = f"{IMAGE_SUBDIR}/shape_{len(images):03d}.png"
            images[path] = draw_shape_image(rng, colour, shape)
            by_class[class_index].append(path)

    half = IMAGES_PER_CLASS // 2
    distractor_count = NUM_LOCAL_CANDIDATES - 1
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TASK_FILES}
    for k in range(half):
        for class_index in range(len(CLASSES)):
            # Images 0..half-1 of each class are classification queries, the rest captioning
            # queries and text-to-image positives.
            rows["demo_shape_color_cls"].append(
                cls_row(by_class[class_index][k], class_index, other_classes(rng, class_index, distractor_count))
            )
            rows["demo_image_to_text_global"].append(
                i2t_row(by_class[class_index][half + k], class_index, other_classes(rng, class_index, distractor_count))
            )
            negatives = [rng.choice(by_class[c]) for c in other_classes(rng, class_index, distractor_count)]
            description = class_description(*CLASSES[class_index], variant=rng.randrange(NUM_DESCRIPTION_VARIANTS))
            rows["demo_text_to_image"].append(t2i_row(description, [by_class[class_index][half + k], *negatives]))
    return images, rows


def write_test_set(out: Path, seed: int = TEST_SEED) -> None:
    """(Re)write the TEST images and rows under ``out`` (the demo data base folder)."""
    images, rows = build_test_set(random.Random(seed))
    image_dir = out / "image-tasks" / IMAGE_SUBDIR
    if image_dir.exists():
        shutil.rmtree(image_dir)
    image_dir.mkdir(parents=True)
    for relative, image in images.items():
        image.save(out / "image-tasks" / relative, format="PNG", optimize=True)
    for task, relative in TASK_FILES.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for row in rows[task]:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {len(images)} images and {sum(map(len, rows.values()))} rows under {out} ({total / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parents[1] / "harness" / "demo" / "data"
    parser.add_argument("--out", type=Path, default=default_out, help="demo data base folder")
    parser.add_argument("--seed", type=int, default=TEST_SEED)
    args = parser.parse_args()
    write_test_set(args.out, args.seed)


if __name__ == "__main__":
    main()
