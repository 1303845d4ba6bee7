"""The MMEB-V2 video task files reproduce VLM2Vec's video parsers exactly.

Expected prompts are derived by hand from the reference parsers (``src/data/eval_dataset/*`` and
``process_input_text``, VLM2Vec snapshot 6e1e1d4), written with Qwen2-VL's video token. The rows
are tiny hand-written fixtures in ``tests/data/mmeb_video_rows/``, one file per parser.

All 18 tasks are defined; NExTQA and MomentSeeker are tested in
``tests/test_mmeb_video_more_tasks.py``, MVBench, QVHighlight and Charades-STA in
``tests/test_mmeb_video_mvbench_mret.py``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.taskspec.index import TaskIndex, builtin_task_dir, load_task_file
from harness.taskspec.schema import TaskSpec
from harness.taskspec.templates import IMAGE_MARKER, VIDEO_MARKER, render

ROWS_DIR = Path(__file__).parent / "data" / "mmeb_video_rows"
VIDEO_DIR = builtin_task_dir() / "mmeb_v2" / "video"
GROUP_DIR = builtin_task_dir() / "mmeb_v2" / "groups"
QWEN2_VIDEO_TOKEN = "<|video_pad|>"
BACKBONE_TOKENS = ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<image>", "<|video_pad|>", "<|image_1|>")
QA_PROMPT = (
    "<|video_pad|> Given a video and a question, select the most accurate answer from the "
    "provided candidates. Return only the exact text of your chosen answer. Question:  "
)
RET_CANDIDATE = "<|video_pad|> Understand the content of the provided video."

META_TASKS = {
    "V-CLS": ["K700", "SmthSmthV2", "HMDB51", "UCF101", "Breakfast"],
    "V-QA": ["Video-MME", "NExTQA", "EgoSchema", "MVBench", "ActivityNetQA"],
    "V-RET": ["DiDeMo", "MSR-VTT", "MSVD", "VATEX", "YouCook2"],
    "V-MRET": ["QVHighlight", "Charades-STA", "MomentSeeker"],
}
ALL_TASKS = [name for names in META_TASKS.values() for name in names]

# task -> (hub path, hub config, split, ranking, num_rows)
HUB = {
    "K700": ("VLM2Vec/Kinetics-700", None, "test", "global", None),
    "SmthSmthV2": ("VLM2Vec/SmthSmthV2", None, "test", "local", 1000),
    "HMDB51": ("VLM2Vec/HMDB51", None, "test", "global", None),
    "UCF101": ("VLM2Vec/UCF101", None, "test", "global", None),
    "Breakfast": ("VLM2Vec/Breakfast", None, "test", "global", None),
    "Video-MME": ("VLM2Vec/Video-MME", None, "test", "local", None),
    "NExTQA": ("VLM2Vec/NExTQA", "MC", "test", "local", None),
    "EgoSchema": ("VLM2Vec/EgoSchema", "Subset", "test", "local", None),
    "MVBench": ("VLM2Vec/MVBench", None, "train", "local", None),  # 20 configs, see its own tests
    # reference: local over each row's fixed ["yes", "no"] (see ActivityNetQA.yaml)
    "ActivityNetQA": ("VLM2Vec/ActivityNetQA", None, "test", "local", None),
    "DiDeMo": ("VLM2Vec/DiDeMo", None, "test", "global", None),
    "MSR-VTT": ("VLM2Vec/MSR-VTT", "test_1k", "test", "global", None),
    "MSVD": ("VLM2Vec/MSVD", None, "test", "global", None),
    "VATEX": ("VLM2Vec/VATEX", None, "test", "global", None),
    "YouCook2": ("lmms-lab/YouCook2", None, "val", "global", None),
    "QVHighlight": ("VLM2Vec/QVHighlight", None, "test", "local", None),
    "Charades-STA": ("VLM2Vec/Charades-STA", None, "test", "local", None),
    "MomentSeeker": ("VLM2Vec/MomentSeeker", None, "test", "local", None),
}


def task(name: str) -> TaskSpec:
    loaded = load_task_file(VIDEO_DIR / f"{name}.yaml")
    assert isinstance(loaded.spec, TaskSpec)
    return loaded.spec


@functools.cache
def meta_task_of(name: str) -> str | None:
    """The task's meta-task: the meta-task group file that lists it (the only statement of it)."""
    return TaskIndex().meta_task_of(name)


def qwen2(text: str) -> str:
    return text.replace(VIDEO_MARKER, QWEN2_VIDEO_TOKEN)


def rows(parser: str) -> list[dict[str, Any]]:
    lines = (ROWS_DIR / f"{parser}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def query(spec: TaskSpec, row: dict[str, Any]) -> tuple[str, str | None]:
    """(prompt, video path) of the query, as harness/data/records.py renders them."""
    video = render(spec.query.video_template, row) if spec.query.video_template else None
    return qwen2(render(spec.query.template, row)), video


def row_candidates(spec: TaskSpec, row: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(id, prompt, video path) per candidate of the row's zipped columns (scalar = 1-element list)."""
    columns = spec.candidates.columns
    lists = [row[c] if isinstance(row[c], list) else [row[c]] for c in columns]
    out = []
    for values in zip(*lists, strict=True):
        variables = {**row, "cand": dict(zip(columns, values, strict=True))}
        out.append(_candidate(spec, variables))
    return out


def corpus_candidates(spec: TaskSpec) -> list[tuple[str, str, str | None]]:
    assert spec.candidates.corpus is not None and spec.candidates.corpus.rows is not None
    return [_candidate(spec, {"cand": corpus_row}) for corpus_row in spec.candidates.corpus.rows]


def _candidate(spec: TaskSpec, variables: dict[str, Any]) -> tuple[str, str, str | None]:
    video = render(spec.candidates.video_template, variables) if spec.candidates.video_template else None
    return (render(spec.candidates.id_template, variables), qwen2(render(spec.candidates.template, variables)), video)


def positive(spec: TaskSpec, row: dict[str, Any]) -> str:
    if spec.relevance.kind == "first_candidate":
        return row_candidates(spec, row)[0][0]
    assert spec.relevance.kind == "id_template"
    return render(spec.relevance.template, row)


# --- 1. the files load, validate and group correctly ------------------------------------------


def test_every_video_task_file_validates_and_is_named_after_its_file():
    files = sorted(p for p in VIDEO_DIR.glob("*.yaml") if not p.name.startswith("_"))
    assert sorted(p.stem for p in files) == sorted(ALL_TASKS)
    for path in files:
        assert task(path.stem).task == path.stem


def test_builtin_index_loads_the_video_tasks_groups_and_tag():
    index = TaskIndex(include_builtin=True)
    assert set(ALL_TASKS) <= set(index.tasks)
    assert {"V-CLS", "V-QA", "V-RET", "V-MRET", "mmeb_v2_video"} <= set(index.groups)
    assert sorted(index.expand("mmeb_v2_video")) == sorted(ALL_TASKS)


def test_mmeb_v2_video_group_expands_to_exactly_the_18_tasks():
    index = TaskIndex(include_builtin=True)
    assert index.expand("mmeb_v2_video") == ALL_TASKS
    assert index.groups["mmeb_v2_video"].spec.aggregate == "mean_of_tasks"


@pytest.mark.parametrize("meta_task", list(META_TASKS))
def test_meta_task_group_expands_to_its_tasks(meta_task: str):
    index = TaskIndex(include_builtin=True)
    assert index.expand(meta_task) == META_TASKS[meta_task]
    assert index.groups[meta_task].spec.aggregate == "mean_of_tasks"
    assert index.groups[meta_task].spec.meta_task
    assert all(index.meta_task_of(name) == meta_task for name in META_TASKS[meta_task])


@pytest.mark.parametrize("name", ALL_TASKS)
def test_task_settings_follow_the_reference_video_yaml(name: str):
    spec = task(name)
    path, config, split, ranking, num_rows = HUB[name]
    meta = next(m for m, names in META_TASKS.items() if name in names)
    assert (spec.modality, meta_task_of(name), spec.version) == ("video", meta, "1.0")
    assert spec.tag == []  # membership is stated once, by the group files
    assert (spec.dataset.path, spec.dataset.name, spec.dataset.split) == (path, config, split)
    assert spec.dataset.revision is None
    if name == "MVBench":  # the reference's local {subset}.json files, or a hub-like subset folder
        assert spec.dataset.files == [
            "video-tasks/data/MVBench/{subset}.json",
            "video-tasks/data/MVBench/{subset}/train*",
        ]
    else:
        assert spec.dataset.files == [f"video-tasks/data/{name}/{split}*"]
    assert spec.media_root == "video-tasks/frames/"
    assert (spec.ranking, spec.num_rows) == (ranking, num_rows)
    assert spec.video.num_frames == 8
    assert spec.metrics.main == "hit@1"


def test_no_backbone_tokens_in_video_task_or_group_files():
    files = [*VIDEO_DIR.glob("*.yaml"), *GROUP_DIR.glob("V-*.yaml"), GROUP_DIR / "mmeb_v2_video.yaml"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for token in BACKBONE_TOKENS:
            assert token not in text, f"{path.name} contains backbone token {token}"


def test_no_video_task_uses_an_image_marker():
    for name in ALL_TASKS:
        spec = task(name)
        # MomentSeeker's ".jpg" queries are image + text in the reference (its only image input)
        sources = (
            (spec.candidates.template,) if name == "MomentSeeker" else (spec.query.template, spec.candidates.template)
        )
        for source in sources:
            assert IMAGE_MARKER not in source and "IMAGE" not in source


# --- 2. V-CLS: video_classification and ssv2 --------------------------------------------------

CLS_INSTRUCTIONS = {
    "K700": "Recognize the category of the video content.",
    "HMDB51": "What actions or objects interactions are the person in the video doing?",
    "UCF101": "What activities or sports are being performed by the person in the video?",
    "Breakfast": "Recognize the breakfast type that the person is cooking in the video. ",
}
LABEL_COUNTS = {"K700": 700, "HMDB51": 51, "UCF101": 101, "Breakfast": 10}
LABEL_ENDS = {  # first and last label of VIDEOCLS_LABEL_MAPPING, in the reference order
    "K700": ("waiting_in_line", "clay_pottery_making"),
    "HMDB51": ("ride_bike", "fall_floor"),
    "UCF101": ("Kayaking", "Fencing"),
    "Breakfast": ("pancake", "salad"),
}


@pytest.mark.parametrize("name", list(CLS_INSTRUCTIONS))
def test_video_classification_query_is_video_token_space_instruction(name: str):
    spec = task(name)
    row = rows("video_classification")[0]
    assert query(spec, row) == (f"<|video_pad|> {CLS_INSTRUCTIONS[name]}", f"video_cls/{name}/-abc_000010_000020")


def test_breakfast_instruction_keeps_its_trailing_space():
    prompt, _ = query(task("Breakfast"), rows("video_classification")[0])
    assert prompt == "<|video_pad|> Recognize the breakfast type that the person is cooking in the video. "


@pytest.mark.parametrize("name", list(CLS_INSTRUCTIONS))
def test_video_classification_corpus_is_the_full_reference_label_list(name: str):
    corpus = corpus_candidates(task(name))
    assert len(corpus) == len({c[0] for c in corpus}) == LABEL_COUNTS[name]
    assert (corpus[0][0], corpus[-1][0]) == LABEL_ENDS[name]
    assert all(cid == text and video is None for cid, text, video in corpus)  # bare label, id = label


def test_k700_labels_keep_reference_spelling():
    labels = [c[0] for c in corpus_candidates(task("K700"))]
    for label in (
        "massaging_person's_head",
        "passing_American_football_(not_in_game)",
        "cooking_sausages_(not_on_barbeque)",
        "throwing_ball_(not_baseball_or_American_football)",
    ):
        assert label in labels


def test_video_classification_row_label_is_a_candidate_and_the_positive():
    spec = task("K700")
    for row in rows("video_classification"):  # the second label is not in the label list
        assert row_candidates(spec, row) == [(row["pos_text"], row["pos_text"], None)]
        assert positive(spec, row) == row["pos_text"]


def test_ssv2_ranks_its_own_neg_text_labels_with_pos_text_as_the_positive():
    spec = task("SmthSmthV2")
    row = rows("ssv2")[0]
    assert query(spec, row) == (
        "<|video_pad|> What actions or object interactions are being performed by the person in the video?",
        "video_cls/SSv2/74225",
    )
    assert row_candidates(spec, row) == [(t, t, None) for t in row["neg_text"]]
    assert positive(spec, row) == "Holding something"
    assert spec.candidates.corpus is None


# --- 3. V-RET: caption -> video ---------------------------------------------------------------

RET_CASES = {  # task -> (parser file, [(query, candidate id, frame folder), ...])
    "MSR-VTT": (
        "msrvtt",
        [
            (
                "Find a video that contains the following visual content: a woman creating a fondant baby and flower",
                "video7020",
                "video_ret/MSR-VTT/video7020",
            ),
            ("Find a video that contains the following visual content:", "video7021", "video_ret/MSR-VTT/video7021"),
        ],
    ),
    "MSVD": (
        "msvd",
        [
            (
                "Find the video snippet that corresponds to the given summary: a squirrel is eating a peanut",
                "-4wsuPCjDBc_5_15",
                "video_ret/MSVD/-4wsuPCjDBc_5_15",
            ),
        ],
    ),
    "DiDeMo": (
        "didemo",
        [
            (
                "Find a video that includes the following described scenes: the dog jumps into the water. "
                "the dog swims back",
                "10015567@N08_3036591505_e6d0e0ce13",
                "video_ret/DiDeMo/10015567@N08_3036591505_e6d0e0ce13",
            ),
            ("Find a video that includes the following described scenes: two dots", "b.c", "video_ret/DiDeMo/b.c"),
            (
                "Find a video that includes the following described scenes: leading dot only",
                ".hidden",
                "video_ret/DiDeMo/.hidden",
            ),
        ],
    ),
    "YouCook2": (
        "youcook2",
        [
            (
                "Find a video that demonstrates the following action while making a recipe: spread margarine on "
                "two slices of white bread",
                "xHr8X2Wpmno_0",
                "video_ret/YouCook2/xHr8X2Wpmno_0",
            ),
        ],
    ),
    "VATEX": (
        "vatex",
        [
            (
                "Select a video that fits the description provided: A man is playing a guitar on a stage.",
                "G9zN5TTuGO4_000179_000189",
                "video_ret/VATEX/G9zN5TTuGO4_000179_000189",
            ),
        ],
    ),
}


@pytest.mark.parametrize("name", list(RET_CASES))
def test_video_retrieval_prompts_ids_and_frame_folders(name: str):
    spec = task(name)
    parser, expected = RET_CASES[name]
    for row, (qry, cand_id, folder) in zip(rows(parser), expected, strict=True):
        assert query(spec, row) == (qry, None)  # text-only query, no trailing newline
        assert row_candidates(spec, row) == [(cand_id, RET_CANDIDATE, folder)]
        assert positive(spec, row) == cand_id


def test_didemo_video_name_matches_os_path_splitext_of_basename():
    spec = task("DiDeMo")
    for row in rows("didemo"):
        expected = os.path.splitext(os.path.basename(row["video"]))[0]
        assert row_candidates(spec, row)[0][0] == expected


# --- 4. V-QA ----------------------------------------------------------------------------------


def test_videomme_query_lists_full_options_and_candidates_strip_letter_and_periods():
    spec = task("Video-MME")
    first, second = rows("videomme")
    assert query(spec, first) == (
        QA_PROMPT + "What is the man doing?\nA. Cooking.\nB. Reading a book.\nC. Running\nD. 3.5 m.",
        "video_qa/Video-MME/fFjv93ACGo8",
    )
    assert row_candidates(spec, first) == [
        ("A. Cooking.", "Cooking", None),
        ("B. Reading a book.", "Reading a book", None),
        ("C. Running", "Running", None),
        ("D. 3.5 m.", "3.5 m", None),
    ]
    assert positive(spec, first) == "C. Running"
    # an option without ". " keeps only its last character (o[-1:]), as in the reference
    assert row_candidates(spec, second)[3] == ("Dunno", "o", None)
    assert positive(spec, second) == "Dunno"


def test_egoschema_options_follow_the_question_without_separator():
    spec = task("EgoSchema")
    row = rows("egoschema")[0]
    assert query(spec, row) == (
        QA_PROMPT + "What is c doing in the video?A. c cooks a meal B. c reads a book. C. c cleans the room",
        "video_qa/EgoSchema/001934bb-81bd-4cd8-a574-0472ef3f6678",
    )
    assert row_candidates(spec, row) == [
        ("A. c cooks a meal", "c cooks a meal", None),
        ("B. c reads a book.", "c reads a book", None),
        ("C. c cleans the room", "c cleans the room", None),
    ]
    assert positive(spec, row) == "B. c reads a book."  # option[int("1")]


def test_activitynetqa_appends_yes_no_options_and_ranks_yes_no():
    spec = task("ActivityNetQA")
    row = rows("activitynetqa")[0]
    assert query(spec, row) == (
        QA_PROMPT + "is the person in the video wearing a hat? (A) yes; (B) no.",
        "video_qa/ActivityNetQA/v_--1DO2V4K74",
    )
    assert spec.candidates.columns == [] and spec.candidates.corpus is None
    assert render(spec.candidates.items_template, row) == '["yes", "no"]'
    assert [_candidate(spec, {**row, "cand": {"value": v}}) for v in ("yes", "no")] == [
        ("yes", "yes", None),
        ("no", "no", None),
    ]
    assert positive(spec, row) == "no"
