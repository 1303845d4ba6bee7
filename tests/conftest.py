"""Shared fixtures: the golden data, an MMEB-style data folder, and a task-file writer.

``write_task(directory, name, **overrides)`` is a plain function (also served as the
``write_task`` fixture) that writes a minimal valid local task in the MMEB ``image_cls`` style;
``overrides`` are merged into it key by key (nested mappings merged, anything else replaced,
:data:`REMOVE` deletes a key).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

GOLDEN_DIR = Path(__file__).parent / "data" / "golden"
GOLDEN_SUBSETS = ("ImageNet-1K", "VisDial", "WebQA", "CIRR", "RefCOCO-Matching")
TINY_MODEL_ARGS = "max_pixels=50176"
"""``--model_args`` (besides ``pretrained``) the tiny checkpoint is run with."""

REMOVE = object()
"""Override value that deletes a key from the written task."""


# --- isolation ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def session_embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Never the user's cache: module- and session-scoped fixtures run before the per-test one."""
    root = tmp_path_factory.mktemp("session-embedding-cache")
    before = os.environ.get("HARNESS_CACHE_DIR")
    os.environ["HARNESS_CACHE_DIR"] = str(root)
    yield root
    if before is None:
        os.environ.pop("HARNESS_CACHE_DIR", None)
    else:
        os.environ["HARNESS_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def isolated_embedding_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty embedding cache (never the user's), subprocesses included."""
    root = tmp_path_factory.mktemp("embedding-cache")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(root))
    return root


# --- golden data -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """``tests/data/golden``."""
    return GOLDEN_DIR


@pytest.fixture(scope="session")
def tiny_checkpoint(golden_dir: Path) -> Path:
    """The tiny random Qwen2-VL checkpoint of the golden set."""
    return golden_dir / "tiny-qwen2vl"


@pytest.fixture
def mmeb_basedir(tmp_path: Path, golden_dir: Path) -> Path:
    """A ``--data_basedir`` laid out like the MMEB release, filled with the golden dev rows.

    ``MMEB_Test_Instruct/<Subset>/test.jsonl`` for the five golden subsets and
    ``image-tasks/synthetic/*.png`` (row image paths are relative to ``image-tasks/``).
    """
    base = tmp_path / "data"
    for subset in GOLDEN_SUBSETS:
        target = base / "MMEB_Test_Instruct" / subset / "test.jsonl"
        target.parent.mkdir(parents=True)
        shutil.copyfile(golden_dir / "image-tasks-dev" / f"{subset}.jsonl", target)
    shutil.copytree(golden_dir / "media" / "image-tasks" / "synthetic", base / "image-tasks" / "synthetic")
    return base


# --- task files --------------------------------------------------------------------------------


def minimal_task(name: str) -> dict[str, Any]:
    """A valid local task (MMEB ``image_cls`` style) on the golden ImageNet-1K rows."""
    return {
        "task": name,
        "version": "1.0",
        "modality": "image",
        "dataset": {"files": ["MMEB_Test_Instruct/ImageNet-1K/test.jsonl"]},
        "media_root": "image-tasks/",
        "ranking": "local",
        "query": {
            "image_column": "qry_img_path",
            "template": "{{ IMAGE }} {{ qry_inst | replace('<|image_1|>', '') }} {{ qry_text }}\n",
        },
        "candidates": {
            "columns": ["tgt_text", "tgt_img_path"],
            "template": "{{ cand.tgt_text }}",
            "id_template": "{{ cand.tgt_text }}",
        },
        "relevance": {"kind": "first_candidate"},
    }


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: mappings recursively, other values replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        if value is REMOVE:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_task(directory: Path, name: str, **overrides: Any) -> Path:
    """Write ``directory/<name>.yaml``: :func:`minimal_task` with ``overrides`` merged in."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    document = merge(minimal_task(name), overrides)
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000), encoding="utf-8")
    return path


@pytest.fixture(name="write_task")
def write_task_fixture() -> Callable[..., Path]:
    """:func:`write_task`, for tests that prefer a fixture to an import."""
    return write_task
