"""Where rows come from: local files under the base folder, or the hub with a pinned revision.

The hub is unreachable here, so the hub path is tested with ``datasets.load_dataset`` replaced
by a stand-in that records its arguments and returns an in-memory dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from harness.data import load_rows
from harness.errors import DataError
from harness.taskspec import DatasetSource

ROWS = [{"qry_text": f"q{i}", "tgt_text": ["a", "b"]} for i in range(5)]


@pytest.fixture
def fake_hub(monkeypatch):
    calls: list[tuple[tuple, dict]] = []

    def load_dataset(*args, **kwargs):
        calls.append((args, kwargs))
        return datasets.Dataset.from_list(ROWS)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_hub_source_passes_path_config_split_and_revision(fake_hub, tmp_path):
    source = DatasetSource(path="org/data", name="Sub", split="test", revision="abc123")
    loaded = load_rows(source, tmp_path, mode="hub", limit=3)
    assert fake_hub == [(("org/data", "Sub"), {"split": "test", "revision": "abc123"})]
    assert [r["qry_text"] for r in loaded.rows] == ["q0", "q1", "q2"]
    assert loaded.provenance["kind"] == "hub" and loaded.provenance["revision"] == "abc123"


def test_auto_prefers_local_files_when_they_exist(fake_hub, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "test.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS[:2]) + "\n")
    source = DatasetSource(path="org/data", name="Sub", files=["d/test*"])
    loaded = load_rows(source, tmp_path, mode="auto")
    assert fake_hub == []
    assert loaded.provenance == {"kind": "local", "files": ["d/test.jsonl"]}
    assert loaded.locations[1].endswith("test.jsonl:2")


def test_auto_uses_the_hub_when_local_files_are_absent(fake_hub, tmp_path):
    loaded = load_rows(DatasetSource(path="org/data", name="Sub", files=["d/test*"]), tmp_path, mode="auto")
    assert len(fake_hub) == 1 and len(loaded.rows) == 5


def test_hub_failure_is_one_line_with_an_offline_hint(monkeypatch, tmp_path):
    def unreachable(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(DataError, match=r"cannot load hub dataset org/data .*Offline\?"):
        load_rows(DatasetSource(path="org/data", name="Sub"), tmp_path, mode="hub")


def test_local_mode_without_files_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no local data files match d/test"):
        load_rows(DatasetSource(path="org/data", files=["d/test*"]), tmp_path, mode="local")


def test_parquet_files_are_read(tmp_path: Path):
    datasets.Dataset.from_list(ROWS).to_parquet(str(tmp_path / "rows.parquet"))
    loaded = load_rows(DatasetSource(files=["rows.parquet"]), tmp_path)
    assert [r["qry_text"] for r in loaded.rows] == [r["qry_text"] for r in ROWS]
    assert loaded.rows[0]["tgt_text"] == ["a", "b"]
