"""The 36 MMEB-V2 image task files reproduce VLM2Vec's image parsers exactly.

Golden prompts come from VLM2Vec itself (``tests/data/mmeb_image_rows/golden_prompts.json``, copied
from ``shared/golden``); the parsers the golden rows do not cover are checked against strings
derived by hand from the reference code (``src/data/eval_dataset/image_*``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from harness.data.records import build_task_data
from harness.data.sources import DatasetRows
from harness.taskspec.index import TaskIndex, builtin_task_dir, load_task_file
from harness.taskspec.schema import TaskSpec
from harness.taskspec.templates import IMAGE_MARKER, render
from harness.taskspec.yaml_source import read_document

ROWS_DIR = Path(__file__).parent / "data" / "mmeb_image_rows"
GOLDEN = json.loads((ROWS_DIR / "golden_prompts.json").read_text(encoding="utf-8"))
GOLDEN_SUBSETS = ("ImageNet-1K", "VisDial", "WebQA", "CIRR", "RefCOCO-Matching")
IMAGE_DIR = builtin_task_dir() / "mmeb_v2" / "image"
GROUP_DIR = builtin_task_dir() / "mmeb_v2" / "groups"
QWEN2_IMAGE_TOKEN = "<|image_pad|>"
BACKBONE_TOKENS = ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<image>", "<|video_pad|>")

META_TASKS = {
    "I-CLS": [
        "ImageNet-1K",
        "N24News",
        "HatefulMemes",
        "VOC2007",
        "SUN397",
        "Place365",
        "ImageNet-A",
        "ImageNet-R",
        "ObjectNet",
        "Country211",
    ],
    "I-QA": [
        "OK-VQA",
        "A-OKVQA",
        "DocVQA",
        "InfographicsVQA",
        "ChartQA",
        "Visual7W",
        "ScienceQA",
        "VizWiz",
        "GQA",
        "TextVQA",
    ],
    "I-RET": [
        "VisDial",
        "CIRR",
        "VisualNews_t2i",
        "VisualNews_i2t",
        "MSCOCO_t2i",
        "MSCOCO_i2t",
        "NIGHTS",
        "WebQA",
        "FashionIQ",
        "Wiki-SS-NQ",
        "OVEN",
        "EDIS",
    ],
    "I-VG": ["MSCOCO", "RefCOCO", "RefCOCO-Matching", "Visual7W-Pointing"],
}
ALL_TASKS = [name for names in META_TASKS.values() for name in names]
PARSERS = {
    **{name: "image_cls" for name in META_TASKS["I-CLS"]},
    **{name: "image_qa" for name in META_TASKS["I-QA"]},
    **{name: "image_i2i_vg" for name in META_TASKS["I-VG"]},
    "VisDial": "image_t2i",
    "VisualNews_t2i": "image_t2i",
    "MSCOCO_t2i": "image_t2i",
    "WebQA": "image_t2i",
    "Wiki-SS-NQ": "image_t2i",
    "EDIS": "image_t2i",
    "VisualNews_i2t": "image_i2t",
    "MSCOCO_i2t": "image_i2t",
    "CIRR": "image_i2i_vg",
    "NIGHTS": "image_i2i_vg",
    "FashionIQ": "image_i2i_vg",
    "OVEN": "image_i2i_vg",
}
T2I_TASKS = [name for name, parser in PARSERS.items() if parser == "image_t2i"]


def task(name: str) -> TaskSpec:
    loaded = load_task_file(IMAGE_DIR / f"{name}.yaml")
    assert isinstance(loaded.spec, TaskSpec)
    return loaded.spec


@functools.cache
def meta_task_of(name: str) -> str | None:
    """The task's meta-task: the meta-task group file that lists it (the only statement of it)."""
    return TaskIndex().meta_task_of(name)


def qwen2(text: str) -> str:
    return text.replace(IMAGE_MARKER, QWEN2_IMAGE_TOKEN)


def query_prompt(spec: TaskSpec, row: dict[str, Any]) -> str:
    return qwen2(render(spec.query.template, row))


def candidates(spec: TaskSpec, row: dict[str, Any]) -> list[tuple[str, str]]:
    """(candidate id, prompt) per candidate, in list order."""
    columns = spec.candidates.columns
    out = []
    for values in zip(*(row[c] for c in columns), strict=True):
        variables = {**row, "cand": dict(zip(columns, values, strict=True))}
        out.append((render(spec.candidates.id_template, variables), qwen2(render(spec.candidates.template, variables))))
    return out


def golden_rows(subset: str) -> list[dict[str, Any]]:
    lines = (ROWS_DIR / f"{subset}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def golden_inputs(subset: str, side: str) -> list[dict[str, Any]]:
    return [g for g in GOLDEN["inputs"] if g["subset"] == subset and g["side"] == side]


def row(
    qry_inst: str,
    qry_text: str,
    tgt_inst: str,
    tgt_text: list[str],
    tgt_img_path: list[str] | None = None,
    qry_img_path: str = "q.jpg",
) -> dict[str, Any]:
    return {
        "qry_inst": qry_inst,
        "qry_text": qry_text,
        "qry_img_path": qry_img_path,
        "tgt_inst": tgt_inst,
        "tgt_text": tgt_text,
        "tgt_img_path": tgt_img_path if tgt_img_path is not None else [""] * len(tgt_text),
    }


# --- 1. the files load, validate and group correctly ------------------------------------------


def test_every_image_task_file_validates_and_defines_one_task_named_after_its_file():
    files = sorted(p for p in IMAGE_DIR.glob("*.yaml") if not p.name.startswith("_"))
    assert sorted(p.stem for p in files) == sorted(ALL_TASKS)
    for path in files:
        assert task(path.stem).task == path.stem


def test_builtin_index_loads_the_36_image_tasks_and_5_groups():
    index = TaskIndex(include_builtin=True)
    assert set(ALL_TASKS) <= set(index.tasks)
    assert {"I-CLS", "I-QA", "I-RET", "I-VG", "mmeb_v2_image"} <= set(index.groups)
    assert sorted(index.expand("mmeb_v2_image")) == sorted(ALL_TASKS)


def test_mmeb_v2_image_group_expands_to_exactly_the_36_tasks():
    index = TaskIndex(include_builtin=True)
    assert index.expand("mmeb_v2_image") == ALL_TASKS
    assert index.groups["mmeb_v2_image"].spec.aggregate == "mean_of_tasks"


@pytest.mark.parametrize("meta_task", list(META_TASKS))
def test_meta_task_group_expands_to_its_tasks(meta_task: str):
    index = TaskIndex(include_builtin=True)
    assert index.expand(meta_task) == META_TASKS[meta_task]
    sizes = {"I-CLS": 10, "I-QA": 10, "I-RET": 12, "I-VG": 4}
    assert len(META_TASKS[meta_task]) == sizes[meta_task]
    assert index.groups[meta_task].spec.aggregate == "mean_of_tasks"


@pytest.mark.parametrize("name", ALL_TASKS)
def test_image_task_settings_follow_mmeb_v2(name: str):
    spec = task(name)
    meta = next(m for m, names in META_TASKS.items() if name in names)
    assert (spec.modality, spec.ranking, spec.metrics.main) == ("image", "local", "hit@1")
    assert meta_task_of(name) == meta
    assert spec.tag == []  # membership is stated once, by the group files
    assert spec.version == "1.0"
    assert spec.dataset.path == "ziyjiang/MMEB_Test_Instruct"
    assert (spec.dataset.name, spec.dataset.split) == (name, "test")
    assert spec.dataset.revision is None  # to be pinned to a hub commit, never a branch name
    assert spec.dataset.files == [f"MMEB_Test_Instruct/{name}/test*"]
    assert spec.media_root == "image-tasks/"
    assert spec.relevance.kind == "first_candidate"
    assert spec.candidates.columns == ["tgt_text", "tgt_img_path"]
    assert spec.metrics.k == [1, 5, 10]
    assert spec.metrics.families == ["hit", "ndcg", "precision", "recall", "f1", "map", "mrr"]


@pytest.mark.parametrize("name", ALL_TASKS)
def test_each_task_uses_its_reference_parser_templates(name: str):
    parser = read_document(IMAGE_DIR / f"_{PARSERS[name]}.yaml").data
    spec = task(name)
    expected_query = parser["query"]["template"]
    if name == "VisDial":  # the reference adds "\n" when dataset_name == "VisDial"
        expected_query += "\n"
    assert spec.query.template == expected_query
    assert spec.query.image_column == parser["query"].get("image_column")
    assert spec.candidates.template == parser["candidates"]["template"]
    assert spec.candidates.id_template == parser["candidates"]["id_template"]
    assert spec.candidates.image_column == parser["candidates"].get("image_column")


# --- 2. golden prompts from VLM2Vec ------------------------------------------------------------


@pytest.mark.parametrize("subset", GOLDEN_SUBSETS)
def test_query_prompts_equal_the_reference_golden_prompts(subset: str):
    spec = task(subset)
    rows = golden_rows(subset)
    expected = golden_inputs(subset, "qry")
    assert len(expected) == len(rows)
    for data_row, golden in zip(rows, expected, strict=True):
        assert query_prompt(spec, data_row) == golden["prompt"], golden["id"]
        image = data_row[spec.query.image_column] if spec.query.image_column else None
        media = [GOLDEN["media_prefix"] + image] if image else []
        assert media == golden["media"], golden["id"]


@pytest.mark.parametrize("subset", GOLDEN_SUBSETS)
def test_candidate_ids_equal_the_reference_cand_names(subset: str):
    spec = task(subset)
    rows = golden_rows(subset)
    for index, data_row in enumerate(rows):
        ids = [cand_id for cand_id, _ in candidates(spec, data_row)]
        assert ids == GOLDEN["cand_names"][subset][index]
        assert ids[0] == GOLDEN["label_names"][subset][index]  # first_candidate relevance


@pytest.mark.parametrize("subset", GOLDEN_SUBSETS)
def test_candidate_prompts_equal_the_reference_golden_prompts(subset: str):
    spec = task(subset)
    first_seen: dict[str, tuple[str, list[str]]] = {}
    for data_row in golden_rows(subset):
        for position, (cand_id, prompt) in enumerate(candidates(spec, data_row)):
            column = spec.candidates.image_column
            image = data_row[column][position] if column else ""
            media = [GOLDEN["media_prefix"] + image] if image else []
            first_seen.setdefault(cand_id, (prompt, media))  # the reference dedups by cand_name
    expected = golden_inputs(subset, "tgt")
    assert list(first_seen) == [g["cand_name"] for g in expected]
    for golden in expected:
        assert first_seen[golden["cand_name"]] == (golden["prompt"], golden["media"]), golden["id"]


@pytest.mark.parametrize("subset", GOLDEN_SUBSETS)
def test_golden_rows_through_build_task_data_match_the_reference_inputs(subset: str):
    spec = task(subset)
    rows = golden_rows(subset)
    media_root = Path("/golden/media/image-tasks")
    dataset_rows = DatasetRows(rows=rows, locations=[f"row {i}" for i in range(len(rows))])
    data = build_task_data(spec, dataset_rows, media_root, check_media=False)
    for record, golden, names in zip(
        data.queries, golden_inputs(subset, "qry"), GOLDEN["cand_names"][subset], strict=True
    ):
        assert qwen2(record.input.text) == golden["prompt"]
        assert record.candidate_ids == tuple(names)
        assert dict(record.relevance) == {golden["label_name"]: 1.0}
        expected_image = [media_root.parent.parent / m for m in golden["media"]]
        assert ([record.input.image] if record.input.image else []) == expected_image
    expected = golden_inputs(subset, "tgt")
    assert list(data.candidates) == [g["cand_name"] for g in expected]
    for golden in expected:
        candidate = data.candidates[golden["cand_name"]]
        assert qwen2(candidate.text) == golden["prompt"]
        assert ([candidate.image] if candidate.image else []) == [media_root.parent.parent / m for m in golden["media"]]


# --- 3. parsers the golden rows do not cover: strings derived from the reference code ----------


def test_image_qa_query_strips_the_instruction_and_puts_one_newline_before_it():
    spec = task("OK-VQA")
    qa_row = row(
        "<|image_1|>\nRepresent the given image with the following question:",
        "What is in the bowl?",
        "",
        ["apples", "soup", "rice"],
    )
    assert query_prompt(spec, qa_row) == (
        "<|image_pad|>\nRepresent the given image with the following question: What is in the bowl?\n"
    )
    messy = row("  <|image_1|>  Answer the question:  \n", "", "", ["yes"])
    assert query_prompt(spec, messy) == "<|image_pad|>\nAnswer the question:\n"


def test_image_qa_candidates_are_the_raw_answers_and_their_own_ids():
    qa_row = row("<|image_1|>\nAnswer:", "Why?", "", ["because \n it rained", " two ", "3"])
    assert candidates(task("DocVQA"), qa_row) == [
        ("because \n it rained", "because \n it rained"),
        (" two ", " two "),
        ("3", "3"),
    ]


def test_image_qa_replace_applies_inside_the_instruction_and_the_question():
    qa_row = row("<|image_1|>\nRead the chart \nand answer:", "What is the peak \n value?", "", ["7"])
    assert query_prompt(task("ChartQA"), qa_row) == (
        "<|image_pad|>\nRead the chart\nand answer: What is the peak\n value?\n"
    )


def test_image_cls_news_caption_query_keeps_the_unstripped_instruction():
    cls_row = row(
        "<|image_1|>\nRepresent the given news image with the following caption for domain classification:",
        "Storm floods the city.",
        "",
        ["weather", "sports"],
    )
    assert query_prompt(task("N24News"), cls_row) == (
        "<|image_pad|>\nRepresent the given news image with the following caption for domain "
        "classification: Storm floods the city.\n"
    )
    assert candidates(task("N24News"), cls_row) == [("weather", "weather"), ("sports", "sports")]


def test_image_cls_replace_applies_to_the_whole_composed_query():
    cls_row = row(
        "<|image_1|>\nRepresent the given news image \nwith the caption:",
        "Floods hit the city \n today",
        "",
        ["weather"],
    )
    assert query_prompt(task("N24News"), cls_row) == (
        "<|image_pad|>\nRepresent the given news image\nwith the caption: Floods hit the city\n today\n"
    )


def test_image_cls_does_not_strip_the_instruction():
    # image_cls removes the token without strip(): the spaces around it stay (unlike image_qa).
    cls_row = row("<|image_1|> Classify this image ", "", "", ["cat"])
    assert query_prompt(task("HatefulMemes"), cls_row) == "<|image_pad|>  Classify this image \n"


def test_image_i2t_query_and_caption_candidates():
    i2t_row = row(
        "<|image_1|>\nFind a caption for the news in the given photo.",
        "",
        "",
        ["A parade \n downtown.", "Rain in the valley."],
    )
    spec = task("VisualNews_i2t")
    assert query_prompt(spec, i2t_row) == ("<|image_pad|>\nFind a caption for the news in the given photo.\n")
    assert candidates(spec, i2t_row) == [
        ("A parade \n downtown.", "A parade \n downtown."),
        ("Rain in the valley.", "Rain in the valley."),
    ]
    assert spec.query.image_column == "qry_img_path"
    assert spec.candidates.image_column is None


def test_image_i2t_replace_applies_inside_instruction_and_text():
    i2t_row = row("<|image_1|>\nFind an image caption \ndescribing the given image.", "a hint \n here", "", ["c"])
    assert query_prompt(task("MSCOCO_i2t"), i2t_row) == (
        "<|image_pad|>\nFind an image caption\ndescribing the given image. a hint\n here\n"
    )


T2I_ROW = row(
    "Find me an everyday image that matches the given caption:",
    "A man riding a horse.",
    "<|image_1|>\nRepresent the given image.",
    ["", "", ""],
    ["a.jpg", "b.jpg", "a.jpg"],
    qry_img_path="",
)


def test_image_t2i_query_is_instruction_space_text_newline_without_replace():
    spec = task("MSCOCO_t2i")
    assert spec.query.image_column is None
    assert query_prompt(spec, T2I_ROW) == (
        "Find me an everyday image that matches the given caption: A man riding a horse.\n"
    )
    odd = {**T2I_ROW, "qry_inst": "Find an image \nthat matches:", "qry_text": ""}
    assert query_prompt(spec, odd) == "Find an image \nthat matches: \n"


@pytest.mark.parametrize("name", [n for n in T2I_TASKS if n != "VisDial"])
def test_only_visdial_adds_the_extra_query_newline(name: str):
    assert query_prompt(task(name), T2I_ROW).endswith("horse.\n")
    assert not query_prompt(task(name), T2I_ROW).endswith("\n\n")
    assert query_prompt(task("VisDial"), T2I_ROW).endswith("horse.\n\n")


def test_image_t2i_candidates_without_captions_are_image_plus_instruction_and_id_is_the_path():
    spec = task("MSCOCO_t2i")
    assert candidates(spec, T2I_ROW) == [
        ("a.jpg", "<|image_pad|>\nRepresent the given image.\n"),
        ("b.jpg", "<|image_pad|>\nRepresent the given image.\n"),
        ("a.jpg", "<|image_pad|>\nRepresent the given image.\n"),
    ]
    assert spec.candidates.image_column == "tgt_img_path"


def test_image_t2i_candidates_with_captions_append_each_caption_and_replace_everywhere():
    edis_row = row(
        "Find a news image that matches the provided caption:",
        "Storm hits the coast.",
        "<|image_1|>\nRepresent the given image with related text information:",
        ["Storm \nhits coast", "", "Parade"],
        ["a.jpg", "b.jpg", "c.jpg"],
        qry_img_path="",
    )
    inst = "<|image_pad|>\nRepresent the given image with related text information:"
    assert candidates(task("EDIS"), edis_row) == [
        ("a.jpg", inst + " Storm\nhits coast\n"),
        # an empty caption in a captioned row keeps the trailing space: the replace runs first
        ("b.jpg", inst + " \n"),
        ("c.jpg", inst + " Parade\n"),
    ]


def test_image_t2i_caption_check_uses_the_rows_first_caption_only():
    wiki_row = row(
        "Find the document image that can answer the given query:",
        "who wrote it?",
        "<|image_1|>\nRepresent the given document screenshot.",
        ["  ", "A caption"],
        ["a.jpg", "b.jpg"],
        qry_img_path="",
    )
    expected = "<|image_pad|>\nRepresent the given document screenshot.\n"
    assert candidates(task("Wiki-SS-NQ"), wiki_row) == [("a.jpg", expected), ("b.jpg", expected)]


def test_image_i2i_vg_candidates_without_captions_have_no_trailing_newline():
    nights_row = row(
        "<|image_1|>\nFind a day-to-day image that looks similar to the provided image.",
        "",
        "<|image_1|>\nRepresent the given image.",
        ["", ""],
        ["a.jpg", "b.jpg"],
    )
    spec = task("NIGHTS")
    assert query_prompt(spec, nights_row) == (
        "<|image_pad|>\nFind a day-to-day image that looks similar to the provided image.\n"
    )
    assert candidates(spec, nights_row) == [
        ("a.jpg:", "<|image_pad|>\nRepresent the given image."),
        ("b.jpg:", "<|image_pad|>\nRepresent the given image."),
    ]


def test_image_i2i_vg_candidate_ids_strip_double_quotes_from_both_ends_only():
    vg_row = row(
        "<|image_1|>\nSelect the portion of the image that isolates the object:",
        "",
        "<|image_1|>\nSelect the portion of the image that follows the language expressions:",
        ['"a "red" car"', '""tree', "it's 'here'"],
        ["a.jpg", "a.jpg", "b.jpg"],
    )
    inst = "<|image_pad|>\nSelect the portion of the image that follows the language expressions:"
    assert candidates(task("RefCOCO"), vg_row) == [
        ('a.jpg:a "red" car', inst + ' "a "red" car"\n'),
        ("a.jpg:tree", inst + ' ""tree\n'),
        ("b.jpg:it's 'here'", inst + " it's 'here'\n"),
    ]


def test_image_i2i_vg_whitespace_first_caption_means_no_captions():
    vg_row = row(
        "<|image_1|>\nFind the object:", "", "<|image_1|>\nRepresent the given image.", [" ", "cat"], ["a.jpg", "b.jpg"]
    )
    assert candidates(task("Visual7W-Pointing"), vg_row) == [
        ("a.jpg: ", "<|image_pad|>\nRepresent the given image."),
        ("b.jpg:cat", "<|image_pad|>\nRepresent the given image."),
    ]


def test_image_i2i_vg_replace_applies_inside_instruction_caption_and_query_text():
    vg_row = row(
        "<|image_1|>\n Find the \nedited image:  ",
        "make it \n red",
        "<|image_1|>\nRepresent the \ngiven image:",
        ["a caption \n here"],
        ["a.jpg"],
    )
    spec = task("FashionIQ")
    assert query_prompt(spec, vg_row) == "<|image_pad|>\nFind the\nedited image: make it\n red\n"
    assert candidates(spec, vg_row) == [
        ("a.jpg:a caption \n here", "<|image_pad|>\nRepresent the\ngiven image: a caption\n here\n")
    ]


# --- 4. task files stay backbone-neutral --------------------------------------------------------


@pytest.mark.parametrize("path", sorted([*IMAGE_DIR.glob("*.yaml"), *GROUP_DIR.glob("*.yaml")]), ids=lambda p: p.name)
def test_task_files_contain_no_backbone_tokens(path: Path):
    text = path.read_text(encoding="utf-8")
    for token in BACKBONE_TOKENS:
        assert token not in text, token
