"""Build a seeded PERF-shaped fixture in the MMEB layout: three built-in image tasks over synthetic images.

The folder it writes is a ``--data_basedir`` for three built-in MMEB-V2 image tasks, one per way
an image task encodes its inputs:

- ``ImageNet-1K`` (I-CLS, parser image_cls): an image query ranked against text labels;
- ``VisDial`` (I-RET, parser image_t2i): a text (dialogue) query ranked against images;
- ``CIRR`` (I-RET, parser image_i2i_vg): an image + text query ranked against images.

Layout (every task ranks locally; element 0 of the target lists is the positive)::

    <out>/MMEB_Test_Instruct/<Task>/test.jsonl   rows: qry_inst, qry_text, qry_img_path,
                                                       tgt_inst, tgt_text (list), tgt_img_path (list)
    <out>/image-tasks/perf/<index>.png|.jpg      the image pool (row paths are relative to image-tasks/)

Each image is a plain background with one to three filled shapes of one kind and colour; its label
("two red circles on blue") is the classification answer and what the VisDial dialogue and the CIRR
change text describe. The same seed writes byte-identical files.

Usage: python benchmarks/perf_fixture.py --out FOLDER [--queries 300] [--candidates 100]
       [--images 1000] [--seed 0]

Then: harness run --tasks ImageNet-1K,VisDial,CIRR --data_basedir FOLDER ...
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

TASKS = ("ImageNet-1K", "VisDial", "CIRR")
"""The built-in tasks the fixture feeds, in run order."""
IMAGE_FOLDER = "perf"
"""The pool's folder under ``image-tasks/`` (the tasks' ``media_root``)."""
WIDTHS = (64, 448)
HEIGHTS = (64, 336)
"""Inclusive ranges the image sizes are drawn from, uniformly."""

COLOURS = {
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (235, 215, 50),
    "green": (50, 170, 70),
    "teal": (40, 160, 160),
    "blue": (45, 90, 210),
    "purple": (130, 60, 180),
    "pink": (235, 130, 180),
    "brown": (130, 85, 45),
    "gray": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle", "star", "ellipse", "diamond")
COUNTS = ("one", "two", "three")

# The instructions of the MMEB test rows of these three tasks (ziyjiang/MMEB_Test_Instruct).
CLASSIFY_INSTRUCTION = "<|image_1|>\nRepresent the given image for classification"
DIALOGUE_INSTRUCTION = "Represent the given dialogue about an image, which is used for image retrieval:"
DIALOGUE_TARGET_INSTRUCTION = "<|image_1|>\nRepresent the given image.\n"
CHANGE_INSTRUCTION = "<|image_1|>\nGiven an image, find a similar everyday image with the described changes:"
CHANGE_TARGET_INSTRUCTION = "<|image_1|>\nRepresent the given image."


@dataclass(frozen=True)
class Content:
    """What one synthetic image shows: ``count`` filled shapes of one kind and colour on a background."""

    count: int
    colour: str
    shape: str
    background: str

    @property
    def label(self) -> str:
        """The class name, e.g. ``two red circles on blue``."""
        noun = self.shape if self.count == 1 else f"{self.shape}s"
        return f"{COUNTS[self.count - 1]} {self.colour} {noun} on {self.background}"


@dataclass(frozen=True)
class PoolImage:
    """One image of the pool: its path relative to ``image-tasks/``, its size and its content."""

    path: str
    width: int
    height: int
    content: Content


def all_labels() -> list[str]:
    """Every class name an image can have (the classification vocabulary), in a fixed order."""
    return [
        Content(count, colour, shape, background).label
        for count in range(1, len(COUNTS) + 1)
        for colour in COLOURS
        for shape in SHAPES
        for background in COLOURS
        if background != colour
    ]


def _stream(seed: int, part: str) -> random.Random:
    """An independent generator per part: the images do not depend on the row counts, nor one task on another."""
    return random.Random(f"perf-fixture:{seed}:{part}")


def _shape_points(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """The outline of a polygonal ``shape`` of radius ``r`` centred on ``(cx, cy)``, rotated by ``angle``."""
    corners = {"square": 4, "triangle": 3, "diamond": 4, "star": 10}[shape]
    start = angle + (math.pi / 4 if shape == "square" else 0.0)
    points = []
    inner = {"star": 0.45, "diamond": 0.55}.get(shape, 1.0)  # every other corner pulled in
    for i in range(corners):
        radius = r * (inner if i % 2 else 1.0)
        theta = start + 2 * math.pi * i / corners
        points.append((cx + radius * math.cos(theta), cy + radius * math.sin(theta)))
    return points


def draw_image(rng: random.Random, width: int, height: int, content: Content) -> Image.Image:
    """An RGB image of ``content``: shapes of random size, place and rotation, colours slightly jittered."""

    def jitter(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        r, g, b = (min(255, max(0, c + rng.randint(-18, 18))) for c in rgb)
        return (r, g, b)

    image = Image.new("RGB", (width, height), jitter(COLOURS[content.background]))
    draw = ImageDraw.Draw(image)
    side = min(width, height)
    for _ in range(content.count):
        r = rng.uniform(side / 10, side / 4)
        cx, cy = rng.uniform(r, width - r), rng.uniform(r, height - r)
        fill = jitter(COLOURS[content.colour])
        if content.shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif content.shape == "ellipse":
            ry = r * rng.uniform(0.4, 0.7)
            draw.ellipse((cx - r, cy - ry, cx + r, cy + ry), fill=fill)
        else:
            draw.polygon(_shape_points(content.shape, cx, cy, r, rng.uniform(0, math.pi)), fill=fill)
    return image


def write_image_pool(image_root: Path, count: int, seed: int) -> list[PoolImage]:
    """Draw ``count`` images under ``image_root/perf/`` (PNG or JPEG, drawn at random) and describe them."""
    rng = _stream(seed, "images")
    folder = image_root / IMAGE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(count - 1)))
    pool = []
    for index in range(count):
        width, height = rng.randint(*WIDTHS), rng.randint(*HEIGHTS)
        colour, background = rng.sample(list(COLOURS), 2)
        content = Content(rng.randint(1, len(COUNTS)), colour, rng.choice(SHAPES), background)
        image = draw_image(rng, width, height, content)
        name = f"{index:0{digits}d}"
        if rng.random() < 0.5:
            name += ".jpg"
            image.save(folder / name, format="JPEG", quality=90)
        else:
            name += ".png"
            image.save(folder / name, format="PNG")
        pool.append(PoolImage(f"{IMAGE_FOLDER}/{name}", width, height, content))
    return pool


def _sample_excluding(rng: random.Random, population: int, count: int, excluded: Sequence[int]) -> list[int]:
    """``count`` distinct indices below ``population``, none of them in ``excluded``, in random order."""
    drawn = rng.sample(range(population), count + len(excluded))
    return [i for i in drawn if i not in excluded][:count]


def _query_images(rng: random.Random, pool_size: int, queries: int) -> list[int]:
    """Pool indices for the queries: a random order of the pool, repeated when there are more queries."""
    order = rng.sample(range(pool_size), pool_size)
    return [order[i % pool_size] for i in range(queries)]


def classification_rows(pool: Sequence[PoolImage], queries: int, candidates: int, seed: int) -> list[dict[str, Any]]:
    """ImageNet-1K rows: an image query; its label first, then other labels of the vocabulary."""
    rng = _stream(seed, "ImageNet-1K")
    labels = all_labels()
    rows = []
    for index in _query_images(rng, len(pool), queries):
        positive = labels.index(pool[index].content.label)
        names = [labels[i] for i in [positive, *_sample_excluding(rng, len(labels), candidates - 1, [positive])]]
        rows.append(
            {
                "qry_inst": CLASSIFY_INSTRUCTION,
                "qry_text": "",
                "qry_img_path": pool[index].path,
                "tgt_inst": "",
                "tgt_text": names,
                "tgt_img_path": [""] * candidates,
            }
        )
    return rows


def dialogue(content: Content) -> str:
    """A VisDial-style dialogue that describes ``content``."""
    noun = content.shape if content.count == 1 else f"{content.shape}s"
    return (
        f"Q: is it a photo A: no, a drawing Q: what colour are the shapes A: {content.colour} "
        f"Q: how many are there A: {COUNTS[content.count - 1]} Q: what shape are they A: {noun} "
        f"Q: what colour is the background A: {content.background} Q: is there any text A: no"
    )


def dialogue_rows(pool: Sequence[PoolImage], queries: int, candidates: int, seed: int) -> list[dict[str, Any]]:
    """VisDial rows: a text query describing its positive image, then other pool images."""
    rng = _stream(seed, "VisDial")
    rows = []
    for index in _query_images(rng, len(pool), queries):
        images = [index, *_sample_excluding(rng, len(pool), candidates - 1, [index])]
        rows.append(
            {
                "qry_inst": DIALOGUE_INSTRUCTION,
                "qry_text": dialogue(pool[index].content),
                "qry_img_path": "",
                "tgt_inst": DIALOGUE_TARGET_INSTRUCTION,
                "tgt_text": [""] * candidates,
                "tgt_img_path": [pool[i].path for i in images],
            }
        )
    return rows


def change_rows(pool: Sequence[PoolImage], queries: int, candidates: int, seed: int) -> list[dict[str, Any]]:
    """CIRR rows: an image and a change text naming the positive's content; the query image is no candidate."""
    rng = _stream(seed, "CIRR")
    rows = []
    for index in _query_images(rng, len(pool), queries):
        images = _sample_excluding(rng, len(pool), candidates, [index])
        rows.append(
            {
                "qry_inst": CHANGE_INSTRUCTION,
                "qry_text": f"make it show {pool[images[0]].content.label}",
                "qry_img_path": pool[index].path,
                "tgt_inst": CHANGE_TARGET_INSTRUCTION,
                "tgt_text": [""] * candidates,
                "tgt_img_path": [pool[i].path for i in images],
            }
        )
    return rows


ROW_BUILDERS: dict[str, Callable[[Sequence[PoolImage], int, int, int], list[dict[str, Any]]]] = {
    "ImageNet-1K": classification_rows,
    "VisDial": dialogue_rows,
    "CIRR": change_rows,
}


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """One JSON object per line, UTF-8, ``\\n`` line ends (the same bytes on every platform)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def check_sizes(queries: int, candidates: int, images: int) -> None:
    """Refuse counts the fixture cannot honour, with the reason."""
    if queries < 1 or candidates < 1:
        raise ValueError(f"queries and candidates must be at least 1 (got {queries}, {candidates})")
    if images < candidates + 1:
        raise ValueError(f"--images must exceed --candidates (CIRR needs a query image besides {candidates})")
    if candidates > len(all_labels()):
        raise ValueError(f"--candidates is at most {len(all_labels())} (the number of distinct labels)")


def build_fixture(
    out: Path, *, queries: int = 300, candidates: int = 100, images: int = 1000, seed: int = 0
) -> list[str]:
    """Write the fixture into ``out`` (created; must be empty) and return the task names, in run order."""
    check_sizes(queries, candidates, images)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: not empty; the fixture is written into a new or empty folder")
    pool = write_image_pool(out / "image-tasks", images, seed)
    for task in TASKS:
        rows = ROW_BUILDERS[task](pool, queries, candidates, seed)
        write_jsonl(out / "MMEB_Test_Instruct" / task / "test.jsonl", rows)
    return list(TASKS)


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the fixture and print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a new or empty folder (the --data_basedir)")
    parser.add_argument("--queries", type=int, default=300, help="query rows per task")
    parser.add_argument("--candidates", type=int, default=100, help="candidates per query")
    parser.add_argument("--images", type=int, default=1000, help="distinct images in the pool")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        tasks = build_fixture(
            args.out, queries=args.queries, candidates=args.candidates, images=args.images, seed=args.seed
        )
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    print(
        f"perf fixture in {args.out}: tasks {','.join(tasks)}; {args.queries} rows x {args.candidates} candidates "
        f"per task ({args.queries * len(tasks)} rows); {args.images} images; {folder_bytes(args.out):,} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
