"""The PERF-shaped fixture (``benchmarks/perf_fixture.py``) is what the three built-in tasks read.

A tiny fixture is built once per module: the asked counts, the size ranges, the same bytes for the
same seed, rows the harness's task data loader accepts, and one real run with the tiny checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import TINY_MODEL_ARGS
from PIL import Image

from harness.cli import main
from harness.data import load_task_data
from harness.taskspec.index import TaskIndex

REPO = Path(__file__).resolve().parents[1]
QUERIES, CANDIDATES, IMAGES = 6, 5, 20


def _load_builder() -> ModuleType:
    """``benchmarks/perf_fixture.py`` as a module (``benchmarks/`` is not a package)."""
    path = REPO / "benchmarks" / "perf_fixture.py"
    spec = importlib.util.spec_from_file_location("perf_fixture", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


perf_fixture = _load_builder()


def build(out: Path, seed: int = 0) -> list[str]:
    return perf_fixture.build_fixture(out, queries=QUERIES, candidates=CANDIDATES, images=IMAGES, seed=seed)


def rows_of(basedir: Path, task: str) -> list[dict]:
    lines = (basedir / "MMEB_Test_Instruct" / task / "test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("perf") / "data"
    build(out)
    return out


def test_the_fixture_feeds_three_builtin_image_tasks(tmp_path: Path):
    assert build(tmp_path / "data") == ["ImageNet-1K", "VisDial", "CIRR"]


@pytest.mark.parametrize("task", ["ImageNet-1K", "VisDial", "CIRR"])
def test_each_task_has_the_asked_rows_and_distinct_candidates_per_row(fixture_dir: Path, task: str):
    rows = rows_of(fixture_dir, task)

    assert len(rows) == QUERIES
    for row in rows:
        assert len(row["tgt_text"]) == len(row["tgt_img_path"]) == CANDIDATES
        ids = row["tgt_text"] if task == "ImageNet-1K" else row["tgt_img_path"]
        assert len(set(ids)) == CANDIDATES


def test_the_pool_has_the_asked_distinct_images_within_the_size_ranges(fixture_dir: Path):
    files = sorted((fixture_dir / "image-tasks" / "perf").iterdir())

    assert len(files) == IMAGES
    assert len({f.read_bytes() for f in files}) == IMAGES
    for path in files:
        with Image.open(path) as image:
            assert image.format in ("PNG", "JPEG")
            assert 64 <= image.width <= 448 and 64 <= image.height <= 336


def test_every_row_image_is_in_the_pool(fixture_dir: Path):
    pool = {f"perf/{p.name}" for p in (fixture_dir / "image-tasks" / "perf").iterdir()}
    used = set()
    for task in ("ImageNet-1K", "VisDial", "CIRR"):
        for row in rows_of(fixture_dir, task):
            used.update(path for path in [row["qry_img_path"], *row["tgt_img_path"]] if path)

    assert used <= pool


def test_the_classification_positive_is_the_query_images_label(fixture_dir: Path):
    labels = set(perf_fixture.all_labels())
    for row in rows_of(fixture_dir, "ImageNet-1K"):
        assert set(row["tgt_text"]) <= labels
        assert row["qry_inst"] == "<|image_1|>\nRepresent the given image for classification"


def test_a_cirr_query_image_is_never_among_its_candidates(fixture_dir: Path):
    for row in rows_of(fixture_dir, "CIRR"):
        assert row["qry_img_path"] not in row["tgt_img_path"]


def test_the_same_seed_writes_byte_identical_files(tmp_path: Path):
    build(tmp_path / "a", seed=3)
    build(tmp_path / "b", seed=3)

    assert file_bytes(tmp_path / "a") == file_bytes(tmp_path / "b")


def test_another_seed_writes_other_rows_and_images(tmp_path: Path):
    build(tmp_path / "a", seed=0)
    build(tmp_path / "b", seed=1)
    first, second = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")

    assert first["MMEB_Test_Instruct/VisDial/test.jsonl"] != second["MMEB_Test_Instruct/VisDial/test.jsonl"]
    assert [first[name] for name in sorted(first)] != [second[name] for name in sorted(second)]


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path):
    (tmp_path / "keep.txt").write_text("data", encoding="utf-8")

    with pytest.raises(FileExistsError, match="not empty"):
        build(tmp_path)


def test_counts_the_fixture_cannot_honour_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="--images must exceed --candidates"):
        perf_fixture.build_fixture(tmp_path / "data", queries=2, candidates=5, images=5)


def test_the_three_builtin_tasks_load_through_the_task_data_loader(fixture_dir: Path):
    selection = TaskIndex().select(["ImageNet-1K", "VisDial", "CIRR"])

    for loaded in selection.tasks:
        data = load_task_data(loaded.spec, fixture_dir, "local", None).data
        assert len(data.queries) == QUERIES
        assert all(len(query.candidate_ids) == CANDIDATES for query in data.queries)
        assert all(query.candidate_ids[0] in query.relevance for query in data.queries)


def test_a_run_of_the_tiny_checkpoint_on_a_small_fixture_succeeds(tiny_checkpoint: Path, tmp_path: Path):
    basedir, out = tmp_path / "data", tmp_path / "out"
    perf_fixture.build_fixture(basedir, queries=3, candidates=3, images=6)
    argv = ["run", "--model", "vlm2vec", "--model_args", f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"]
    argv += ["--tasks", "ImageNet-1K,VisDial,CIRR", "--data_basedir", str(basedir)]

    assert main([*argv, "--output_path", str(out), "--device", "cpu", "--no_cache"]) == 0
    for task in ("ImageNet-1K", "VisDial", "CIRR"):
        assert json.loads((out / f"{task}_score.json").read_text())["num_data"] == 3
