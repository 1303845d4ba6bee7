"""Per-row candidates from a rendered JSON list, several positives, and a templated image path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.data import build_task_data, load_rows
from harness.errors import DataError
from harness.taskspec import load_task_file

TASK = """
task: items_demo
version: "1.0"
modality: video
dataset: {files: ["rows.jsonl"]}
ranking: local
query:
  template: "{% if frame %}{{ IMAGE }} {% endif %}Question: {{ question }}"
  image_template: "{% if frame %}{{ 'img/' ~ frame }}{% endif %}"
candidates:
  items_template: "{{ [a0, a1, a2] | tojson }}"
  template: "({{ 'ABC'[cand_index] }}) {{ cand.value }}"
  id_template: "{{ cand.value }}"
relevance:
  kind: ids_template
  template: "{{ answers | tojson }}"
"""


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    (tmp_path / "task.yaml").write_text(TASK)
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "q.png").write_bytes(b"not needed: media is not opened here")
    rows = [
        {"question": "what?", "a0": "x <y>", "a1": "z", "a2": "w", "answers": ["x <y>", "w"], "frame": "q.png"},
        {"question": "why?", "a0": "p", "a1": "q", "a2": "r", "answers": ["q"], "frame": ""},
    ]
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


def _build(task_dir: Path):
    loaded = load_task_file(task_dir / "task.yaml")
    rows = load_rows(loaded.spec.dataset, task_dir)
    return build_task_data(loaded.spec, rows, task_dir, check_media=False)


def test_items_template_makes_one_candidate_per_list_element(task_dir):
    data = _build(task_dir)
    assert data.queries[0].candidate_ids == ("x <y>", "z", "w")
    assert [c.text for c in data.candidates.values()][:3] == ["(A) x <y>", "(B) z", "(C) w"]


def test_ids_template_gives_several_positives(task_dir):
    data = _build(task_dir)
    assert dict(data.queries[0].relevance) == {"x <y>": 1.0, "w": 1.0}
    assert dict(data.queries[1].relevance) == {"q": 1.0}


def test_image_template_builds_the_query_image_path(task_dir):
    data = _build(task_dir)
    assert data.queries[0].input.image == task_dir / "img" / "q.png"
    assert data.queries[0].input.text == "<|image|> Question: what?"
    assert data.queries[1].input.image is None


def test_items_template_that_is_not_a_json_list_is_a_one_line_error(task_dir):
    (task_dir / "task.yaml").write_text(TASK.replace("{{ [a0, a1, a2] | tojson }}", "{{ a0 }}"))
    with pytest.raises(DataError, match=r"candidates.items_template: must render a JSON list"):
        _build(task_dir)
