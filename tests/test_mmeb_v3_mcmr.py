"""The MMEB-V3 MCMR task file reproduces VLM2Vec's ``mcmr`` parser.

Expected texts are written out by hand from the reference (``src/data/eval_dataset/
mcmr_dataset.py`` and the helpers in ``src/data/dataset/mcmr_dataset.py`` at VLM2Vec 44f991d;
the entry ``MCMR`` of ``experiments/public/eval/image.yaml``) for Qwen2-VL, whose image token is
``<|image_pad|>``. Fixture rows: ``tests/data/mmeb_v3_mcmr_rows/image-tasks/MCMR``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.data.records import TaskData, build_task_data
from harness.data.sources import load_rows
from harness.errors import DataError
from harness.taskspec.index import TaskIndex, builtin_task_dir
from harness.taskspec.schema import IdsTemplateRelevance, TaskSpec
from harness.taskspec.templates import IMAGE_MARKER, render

BASE = Path(__file__).parent / "data" / "mmeb_v3_mcmr_rows"
TASK_FILE = builtin_task_dir() / "mmeb_v3" / "image" / "MCMR.yaml"
GROUP_FILE = builtin_task_dir() / "mmeb_v3" / "groups" / "mmeb_v3_image.yaml"
BACKBONE_TOKENS = ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<image>", "<|video_pad|>", "<|image_1|>")
INSTRUCTION = "Find an image-text pair that matches the given query"


def spec() -> TaskSpec:
    loaded = TaskIndex().tasks["MCMR"].spec
    assert isinstance(loaded, TaskSpec)
    return loaded


def qwen2(text: str) -> str:
    return text.replace(IMAGE_MARKER, "<|image_pad|>")


def candidate_text(cand: dict[str, Any]) -> str:
    return qwen2(render(spec().candidates.template, {**cand, "row": cand, "cand": cand}))


def image_name(cand: dict[str, Any]) -> str:
    template = spec().candidates.image_template
    assert template is not None
    return render(template, {**cand, "row": cand, "cand": cand})


def labels(row: dict[str, Any]) -> list[str]:
    relevance = spec().relevance
    assert isinstance(relevance, IdsTemplateRelevance)
    result: list[str] = json.loads(render(relevance.template, {**row, "row": row}))
    return result


def fixture_data(base: Path = BASE) -> TaskData:
    task = spec()
    rows = load_rows(task.dataset, base, "local")
    return build_task_data(task, rows, base / task.media_root, data_basedir=base, data_source="local")


# --- 1. the file, its settings and its group ---------------------------------------------------


def test_mcmr_loads_with_the_reference_name_and_files():
    task = spec()
    assert TaskIndex().tasks["MCMR"].source.resolve() == TASK_FILE.resolve()
    assert (task.task, task.modality, task.ranking, task.version) == ("MCMR", "image", "global", "1.0")
    assert task.dataset.files == ["image-tasks/MCMR/query.jsonl"]
    assert task.candidates.corpus is not None
    assert task.candidates.corpus.files == ["image-tasks/MCMR/candidates.jsonl"]
    assert task.media_root == "image-tasks/MCMR/images/"  # image.yaml's image_root
    assert task.metrics.main == "hit@1"
    assert task.metrics.families == ["hit", "ndcg", "precision", "recall", "f1", "map", "mrr"]
    assert isinstance(task.relevance, IdsTemplateRelevance) and task.relevance.unmatched == "score_zero"


def test_mcmr_has_no_meta_task():
    assert TaskIndex().meta_task_of("MCMR") is None


def test_mmeb_v3_image_is_the_36_v2_image_tasks_and_mcmr():
    index = TaskIndex()
    group = index.groups["mmeb_v3_image"].spec
    assert (group.task, group.aggregate) == (["mmeb_v2_image", "MCMR"], "mean_of_tasks")
    assert index.expand("mmeb_v3_image") == [*index.expand("mmeb_v2_image"), "MCMR"]
    assert len(index.expand("mmeb_v3_image")) == 37


def test_no_backbone_tokens_in_the_mcmr_and_image_group_files():
    for path in (TASK_FILE, GROUP_FILE):
        text = path.read_text(encoding="utf-8")
        for token in BACKBONE_TOKENS:
            assert token not in text, f"{path.name} contains {token}"


# --- 2. texts, images and labels equal the reference's -----------------------------------------


def test_query_is_the_instruction_space_query():
    row = {"qid": "1", "query": "  red shoes "}
    assert render(spec().query.template, {**row, "row": row}) == f"{INSTRUCTION} red shoes"


def test_empty_query_is_the_instruction_alone():
    row = {"qid": "1", "query": ""}
    assert render(spec().query.template, {**row, "row": row}) == INSTRUCTION


def test_candidate_is_image_two_spaces_then_field_lines_in_reference_order():
    cand = {
        "candidate_id": "B1",
        "Date First Available": "May 1",
        "price": 9.5,
        "features": ["a", " ", "b "],
        "description": None,
        "title": " T ",
        "brand": "not a text field",
    }
    assert candidate_text(cand) == "<|image_pad|>  title: T\nfeatures: a b\nprice: 9.5\nDate First Available: May 1"


def test_candidate_values_print_as_the_reference_stringifies_them():
    cand = {"candidate_id": "B1", "title": True, "features": [{"b": 1, "a": "é"}, ["x", ["y"]]], "price": 0}
    assert candidate_text(cand) == '<|image_pad|>  title: True\nfeatures: {"a": "\\u00e9", "b": 1} x y\nprice: 0'


def test_candidate_without_text_fields_is_named_by_its_id():
    assert candidate_text({"candidate_id": " 42 ", "title": "  "}) == "<|image_pad|>  candidate_id: 42"


@pytest.mark.parametrize(
    ("images", "name"),
    [
        (["https://host/a/b/shoe.png?v=2", "other.png"], "shoe.png"),
        ([{"url": "https://host/x.png"}], "x.png"),
        ([{"path": "dir/y.png"}], "y.png"),
        ({"image": "z.png"}, "z.png"),  # a single mapping
        (["", "  ", "w.png"], "w.png"),  # blank entries are skipped
        ([], ""),
    ],
)
def test_candidate_image_is_the_basename_of_the_first_named_entry(images: Any, name: str):
    assert image_name({"candidate_id": "B1", "images": images}) == name


@pytest.mark.parametrize(
    ("pos_ids", "ids"),
    [
        (["B1", 2, " "], ["B1", "2"]),
        ('["B1", "B2"]', ["B1", "B2"]),
        ("B1", ["B1"]),
        (7, ["7"]),
        (None, []),
        ([], []),
    ],
)
def test_pos_ids_forms_give_the_reference_labels(pos_ids: Any, ids: list[str]):
    assert labels({"qid": "1", "pos_ids": pos_ids}) == ids


def test_fixture_rows_give_the_reference_inputs():
    data = fixture_data()
    assert [q.input.text for q in data.queries] == [
        f"{INSTRUCTION} red running shoes for men",
        f"{INSTRUCTION} a desk lamp",
        f"{INSTRUCTION} a product that was delisted",
    ]
    assert all(q.input.image is None for q in data.queries)
    assert list(data.candidates) == ["B001", "B002", "3", "B003"]
    assert [qwen2(c.text) for c in data.candidates.values()] == [
        "<|image_pad|>  title: Red Runner\ndescription: Light shoe. Breathable mesh.\n"
        "features: Size 42 Rubber sole\nprice: 49.99\nDate First Available: March 3, 2021",
        "<|image_pad|>  title: Blue Lamp\nprice: $12.00",
        "<|image_pad|>  candidate_id: 3",
        '<|image_pad|>  title: Green Mug\nfeatures: {"colour": "gr\\u00fcn", "material": "ceramic"}\nprice: 0',
    ]
    images = [c.image for c in data.candidates.values()]
    assert all(isinstance(image, Path) for image in images)  # paths: nothing is read at data time
    assert [image.name for image in images if isinstance(image, Path)] == [
        "shoe_red.png",
        "lamp_blue.png",
        "mug_green.png",
        "mug_green.png",
    ]
    assert [q.relevance for q in data.queries] == [{"B001": 1.0}, {"B002": 1.0, "B003": 1.0}, {"B999": 1.0}]
    assert data.unmatched_positive_rows == [data.queries[2].location]


def test_a_candidate_whose_image_file_is_missing_is_an_error(tmp_path: Path):
    folder = tmp_path / "image-tasks" / "MCMR"
    (folder / "images").mkdir(parents=True)
    (folder / "query.jsonl").write_text(json.dumps({"qid": "1", "query": "q", "pos_ids": ["B1"]}) + "\n")
    (folder / "candidates.jsonl").write_text(json.dumps({"candidate_id": "B1", "images": ["gone.png"]}) + "\n")
    with pytest.raises(DataError, match="candidates.image_template: media file not found"):
        fixture_data(tmp_path)


# --- 3. one run -------------------------------------------------------------------------------


def test_mcmr_runs_end_to_end_on_the_tiny_checkpoint(tiny_checkpoint: Path, tmp_path: Path):
    result = harness.evaluate(
        "vlm2vec",
        {"pretrained": str(tiny_checkpoint), "max_pixels": 50176},
        ["MCMR"],
        data_basedir=BASE,
        output_path=tmp_path / "out",
        use_cache=False,
        device="cpu",
    )
    score = result.run_file.tasks["MCMR"]
    assert (score.modality, score.main_metric, score.num_queries, score.num_candidates) == ("image", "hit@1", 3, 4)
    assert score.num_unmatched_positive_rows == 1
    assert (tmp_path / "out" / "MCMR_score.json").is_file()
