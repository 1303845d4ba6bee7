"""NExTQA (V-QA) and MomentSeeker (V-MRET) reproduce VLM2Vec's nextqa / momentseeker parsers.

They use the per-row ``candidates.items_template``, ``relevance.kind: ids_template`` and
``query.image_template``. Expected strings are derived by hand from the reference parsers
(``src/data/eval_dataset/nextqa_dataset.py``, ``momentseeker_dataset.py``, ``qa_template`` and
Qwen2-VL's ``process_input_text``), written with Qwen2-VL's tokens. Rows: the hand-written
fixtures ``tests/data/mmeb_video_rows/{nextqa,momentseeker}.jsonl``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from harness.data import build_task_data
from harness.data.records import TaskData
from harness.data.sources import DatasetRows
from harness.taskspec.index import TaskIndex, builtin_task_dir, load_task_file
from harness.taskspec.schema import TaskSpec
from harness.taskspec.templates import IMAGE_MARKER, VIDEO_MARKER

ROWS_DIR = Path(__file__).parent / "data" / "mmeb_video_rows"
VIDEO_DIR = builtin_task_dir() / "mmeb_v2" / "video"
QA_PROMPT = (
    "<|video_pad|> Given a video and a question, select the most accurate answer from the "
    "provided candidates. Return only the exact text of your chosen answer. Question:  "
)
CLIP = "video_mret/MomentSeeker/video_frames/"
CLIP_PROMPT = "<|video_pad|> Understand the content of the provided video clip."


def task(name: str) -> TaskSpec:
    loaded = load_task_file(VIDEO_DIR / f"{name}.yaml")
    assert isinstance(loaded.spec, TaskSpec)
    return loaded.spec


@functools.cache
def meta_task_of(name: str) -> str | None:
    """The task's meta-task: the meta-task group file that lists it (the only statement of it)."""
    return TaskIndex().meta_task_of(name)


def qwen2(text: str) -> str:
    return text.replace(VIDEO_MARKER, "<|video_pad|>").replace(IMAGE_MARKER, "<|image_pad|>")


def rows(parser: str) -> list[dict[str, Any]]:
    lines = (ROWS_DIR / f"{parser}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    return tmp_path / "video-tasks" / "frames"


def build(name: str, parser: str, media_root: Path) -> TaskData:
    data_rows = rows(parser)
    dataset = DatasetRows(rows=data_rows, locations=[f"{parser}.jsonl:{i + 1}" for i in range(len(data_rows))])
    return build_task_data(task(name), dataset, media_root, check_media=False)


def relative(path: Path | None, media_root: Path) -> str | None:
    return None if path is None else path.relative_to(media_root).as_posix()


# --- loading, groups --------------------------------------------------------------------------


def test_index_has_both_tasks_in_their_groups_in_reference_order():
    index = TaskIndex(include_builtin=True)
    assert {"NExTQA", "MomentSeeker"} <= set(index.tasks)
    assert index.expand("V-QA") == ["Video-MME", "NExTQA", "EgoSchema", "MVBench", "ActivityNetQA"]
    assert index.expand("V-MRET") == ["QVHighlight", "Charades-STA", "MomentSeeker"]
    assert index.expand("mmeb_v2_video") == [
        "K700",
        "SmthSmthV2",
        "HMDB51",
        "UCF101",
        "Breakfast",
        "Video-MME",
        "NExTQA",
        "EgoSchema",
        "MVBench",
        "ActivityNetQA",
        "DiDeMo",
        "MSR-VTT",
        "MSVD",
        "VATEX",
        "YouCook2",
        "QVHighlight",
        "Charades-STA",
        "MomentSeeker",
    ]
    assert index.groups["V-MRET"].spec.aggregate == "mean_of_tasks"
    assert sorted(index.expand("V-MRET")) == ["Charades-STA", "MomentSeeker", "QVHighlight"]


def test_settings_follow_the_reference_video_yaml_and_hub_paths():
    nextqa, seeker = task("NExTQA"), task("MomentSeeker")
    assert (nextqa.dataset.path, nextqa.dataset.name, nextqa.dataset.split) == ("VLM2Vec/NExTQA", "MC", "test")
    assert (seeker.dataset.path, seeker.dataset.name, seeker.dataset.split) == ("VLM2Vec/MomentSeeker", None, "test")
    assert nextqa.dataset.files == ["video-tasks/data/NExTQA/test*"]
    assert seeker.dataset.files == ["video-tasks/data/MomentSeeker/test*"]
    for spec, meta in ((nextqa, "V-QA"), (seeker, "V-MRET")):
        assert (spec.modality, meta_task_of(spec.task), spec.version, spec.ranking) == ("video", meta, "1.0", "local")
        assert spec.tag == []  # membership is stated once, by the group files
        assert spec.dataset.revision is None and spec.num_rows is None
        assert spec.media_root == "video-tasks/frames/"
        assert spec.metrics.main == "hit@1"
    assert nextqa.video.num_frames == 8
    # MomentSeeker feeds every frame of a folder (load_frames, no sampling)
    assert seeker.video.num_frames == 8 and seeker.video.fewer_frames == "use_available"


# --- NExTQA -----------------------------------------------------------------------------------


def test_nextqa_query_lists_lettered_options_and_is_rstripped(media_root: Path):
    data = build("NExTQA", "nextqa", media_root)
    first, second = data.queries
    assert qwen2(first.input.text) == (
        QA_PROMPT + "why did the boy pick up one present from the group of them and move to the sofa\n"
        "Options:\n(A) share with the girl\n(B) approach lady sitting there\n(C) unwrap it\n"
        "(D) playing with toy train\n(E) gift for baby"
    )  # a4's trailing "  \n" stripped with the end
    # an empty a4 leaves "(E)" without its space; the question's own trailing space stays inside
    assert qwen2(second.input.text) == (
        QA_PROMPT + "what does the man do after the dog runs away? \nOptions:\n(A) chase it\n(B) sit down\n"
        "(C) chase it\n(D) throw a ball\n(E)"
    )
    assert first.input.image is None
    assert relative(first.input.video.source, media_root) == "video_qa/NExTQA/4010069381"
    assert relative(second.input.video.source, media_root) == "video_qa/NExTQA/3238737531"


def test_nextqa_candidates_are_the_raw_options_and_the_positive_is_options_answer(media_root: Path):
    data = build("NExTQA", "nextqa", media_root)
    first, second = data.queries
    assert first.candidate_ids == (
        "share with the girl",
        "approach lady sitting there",
        "unwrap it",
        "playing with toy train",
        "gift for baby  \n",
    )
    assert dict(first.relevance) == {"unwrap it": 1.0}
    # identical options share one id (cand_name), as in the reference
    assert second.candidate_ids == ("chase it", "sit down", "chase it", "throw a ball", "")
    assert dict(second.relevance) == {"chase it": 1.0}
    for cid in (*first.candidate_ids, *second.candidate_ids):
        cand = data.candidates[cid]
        assert (cand.text, cand.image, cand.video) == (cid, None, None)


# --- MomentSeeker ------------------------------------------------------------------------------


def test_momentseeker_text_query(media_root: Path):
    query = build("MomentSeeker", "momentseeker", media_root).queries[0]
    assert qwen2(query.input.text) == (
        "Find the clip that corresponds to the given text: a man opens the fridge and takes out milk"
    )
    assert (query.input.image, query.input.video) == (None, None)
    assert query.candidate_ids == (CLIP + "ego4d_clip_0012", CLIP + "ego4d_clip_0013", CLIP + "ego4d_clip_0014")
    assert dict(query.relevance) == {CLIP + "ego4d_clip_0012": 1.0}


def test_momentseeker_video_query_and_several_positives(media_root: Path):
    query = build("MomentSeeker", "momentseeker", media_root).queries[1]
    assert qwen2(query.input.text) == (
        "<|video_pad|> Find the clip that corresponds to the given sentence "
        "and video segment: the same woman later walks into the kitchen"
    )
    assert query.input.image is None
    assert relative(query.input.video.source, media_root) == CLIP + "movie101_77"
    # positives first, then negatives; a clip seen in an earlier row keeps that row's id
    assert query.candidate_ids == (
        CLIP + "movie101_77_pos_1",
        CLIP + "movie101_77_pos_2",
        CLIP + "movie101_77_neg_1",
        CLIP + "ego4d_clip_0013",
    )
    assert dict(query.relevance) == {CLIP + "movie101_77_pos_1": 1.0, CLIP + "movie101_77_pos_2": 1.0}


def test_momentseeker_image_query_with_empty_text(media_root: Path):
    query = build("MomentSeeker", "momentseeker", media_root).queries[2]
    # process_input_text adds " " + text only when text is truthy
    assert qwen2(query.input.text) == "<|image_pad|> Select the video clip that aligns with the given text and image:"
    assert query.input.video is None
    assert relative(query.input.image, media_root) == "video_mret/MomentSeeker/query_youcook2/abc_12.jpg"
    # "/" -> "_" then cut at the first ".mp4": the positive and the first negative name the same
    # folder, so they are one candidate listed twice, as the reference's cand_names
    assert query.candidate_ids == (CLIP + "youcook2_abc_pos", CLIP + "youcook2_abc_pos", CLIP + "youcook2_abc_neg")
    assert dict(query.relevance) == {CLIP + "youcook2_abc_pos": 1.0}


def test_momentseeker_candidates_are_clip_frame_folders_with_the_target_prompt(media_root: Path):
    data = build("MomentSeeker", "momentseeker", media_root)
    assert list(data.candidates) == [
        CLIP + name
        for name in (
            "ego4d_clip_0012",
            "ego4d_clip_0013",
            "ego4d_clip_0014",
            "movie101_77_pos_1",
            "movie101_77_pos_2",
            "movie101_77_neg_1",
            "youcook2_abc_pos",
            "youcook2_abc_neg",
        )
    ]
    for cid, cand in data.candidates.items():
        assert qwen2(cand.text) == CLIP_PROMPT
        assert cand.image is None
        assert relative(cand.video.source, media_root) == cid
