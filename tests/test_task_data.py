"""``harness run`` and ``harness validate`` read a task's rows one way: the first ``min(num_rows, --limit)``.

Before ``load_task_data``, the two commands each loaded rows with their own rule: ``validate``
took ``--limit`` over ``num_rows`` (``args.limit or spec.num_rows``), so with ``num_rows: 3`` and
``--limit 5`` it checked rows a run never evaluates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_task

from harness.cli import main
from harness.data import load_task_data, row_limit
from harness.errors import DataError
from harness.inputs import EncodeInput, Side
from harness.models import register_model
from harness.taskspec.index import load_task_file
from harness.taskspec.schema import TaskSpec

ROWS = "MMEB_Test_Instruct/ImageNet-1K/test.jsonl"
"""The golden ImageNet-1K rows of ``mmeb_basedir``: four rows of four candidates each."""


class _TextLength:
    """A fake encoder: each input's vector is its text length and one (enough to rank)."""

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        return np.asarray([[len(item.text), 1.0] for item in inputs], dtype=np.float32)

    def metadata(self) -> dict[str, Any]:
        return {"adapter": "text_length"}


@register_model("test_task_data_text_length", description="test only: text length as the embedding")
def _text_length(args: Any, device: str) -> _TextLength:
    return _TextLength()


def spec_of(path: Path) -> TaskSpec:
    loaded = load_task_file(path)
    assert isinstance(loaded.spec, TaskSpec)
    return loaded.spec


def first_rows_candidates(basedir: Path, count: int) -> list[list[str]]:
    lines = (basedir / ROWS).read_text().splitlines()[:count]
    return [json.loads(line)["tgt_text"] for line in lines]


def validated_line(capsys: pytest.CaptureFixture[str], task: Path, basedir: Path, limit: str) -> str:
    assert main(["validate", str(task), "--data_basedir", str(basedir), "--limit", limit]) == 0
    return capsys.readouterr().out.splitlines()[0]


def run_candidate_lists(task: Path, basedir: Path, out: Path, limit: str) -> list[list[str]]:
    argv = ["run", "--model", "test_task_data_text_length", "--tasks", str(task), "--data_basedir", str(basedir)]
    assert main([*argv, "--output_path", str(out), "--limit", limit]) == 0
    info = (out / f"{task.stem}_info.jsonl").read_text().splitlines()
    return [json.loads(line)["cand_names"] for line in info]


@pytest.mark.parametrize(
    ("limit", "rows", "summary"),
    [("5", 3, "3 rows, 8 candidates, 3 images checked"), ("2", 2, "2 rows, 7 candidates, 2 images checked")],
)
def test_run_and_validate_read_the_same_first_rows_with_num_rows_and_limit(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str], limit: str, rows: int, summary: str
):
    task = write_task(tmp_path / "tasks", "three_rows", num_rows=3)

    validated = validated_line(capsys, task, mmeb_basedir, limit)
    evaluated = run_candidate_lists(task, mmeb_basedir, tmp_path / "out", limit)

    assert validated == f"ok    {task}: {summary}"
    assert evaluated == first_rows_candidates(mmeb_basedir, rows)


@pytest.mark.parametrize(
    ("num_rows", "limit", "expected"),
    [(3, 5, 3), (3, 2, 2), (None, 2, 2), (3, None, 3)],
)
def test_the_row_limit_is_the_smaller_of_num_rows_and_limit(num_rows: int | None, limit: int | None, expected: int):
    assert row_limit(num_rows, limit) == expected


def test_without_num_rows_or_limit_every_row_is_read(tmp_path: Path, mmeb_basedir: Path):
    spec = spec_of(write_task(tmp_path / "tasks", "all_rows"))

    loaded = load_task_data(spec, mmeb_basedir, "local", None)

    assert len(loaded.rows.rows) == len(loaded.data.queries) == 4


def test_the_rows_and_their_provenance_come_with_the_records(tmp_path: Path, mmeb_basedir: Path):
    spec = spec_of(write_task(tmp_path / "tasks", "provenance", num_rows=3))

    loaded = load_task_data(spec, mmeb_basedir, "local", 5)

    assert loaded.rows.locations == [f"{mmeb_basedir / ROWS}:{line}" for line in (1, 2, 3)]
    assert [query.location for query in loaded.data.queries] == loaded.rows.locations
    assert loaded.rows.provenance == {"kind": "local", "files": [ROWS]}


def test_a_dataset_without_rows_is_an_error_for_run_and_validate_alike(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    (mmeb_basedir / "empty.jsonl").write_text("")
    task = write_task(tmp_path / "tasks", "empty", dataset={"files": ["empty.jsonl"]})

    with pytest.raises(DataError, match="^task 'empty': the dataset has no rows$"):
        load_task_data(spec_of(task), mmeb_basedir, "local", None)
    assert main(["validate", str(task), "--data_basedir", str(mmeb_basedir)]) == 2
    assert capsys.readouterr().out.splitlines()[0] == f"FAIL  {task}: task 'empty': the dataset has no rows"


@pytest.mark.parametrize("limit", [0, -1])
def test_a_row_limit_below_one_is_refused(tmp_path: Path, mmeb_basedir: Path, limit: int):
    spec = spec_of(write_task(tmp_path / "tasks", "nothing"))

    with pytest.raises(
        DataError, match=rf"^task 'nothing': the row limit \(--limit\) must be at least 1, not {limit}$"
    ):
        load_task_data(spec, mmeb_basedir, "local", limit)
