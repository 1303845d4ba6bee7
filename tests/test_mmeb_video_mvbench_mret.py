"""MVBench (V-QA), QVHighlight and Charades-STA (V-MRET) reproduce VLM2Vec's mvbench and
moment_retrieval parsers.

MVBench needs a multi-subset data source (20 hub configs concatenated, each row tagged with its
config name); the moment-retrieval tasks find their candidates on disk (the clip sub-folders of
each query's video folder) and mark as relevant the folders named ``positive*``. Expected strings
are derived by hand from the reference parsers (``mvbench_dataset.py``, ``qa_template``,
``moment_retrieval_datasets.py``, Qwen2-VL's ``process_input_text``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from harness.data import build_task_data, load_rows
from harness.data.records import TaskData
from harness.data.sources import DatasetRows
from harness.errors import DataError
from harness.taskspec import DatasetSource
from harness.taskspec.index import TaskIndex, builtin_task_dir, load_task_file
from harness.taskspec.schema import TaskSpec
from harness.taskspec.templates import VIDEO_MARKER, render

ROWS_DIR = Path(__file__).parent / "data" / "mmeb_video_rows"
VIDEO_DIR = builtin_task_dir() / "mmeb_v2" / "video"
QA_PROMPT = (
    "<|video_pad|> Given a video and a question, select the most accurate answer from the "
    "provided candidates. Return only the exact text of your chosen answer. Question:  "
)
MRET_PROMPT = "<|video_pad|> Find the clip that corresponds to the described scene in the given video:"
CLIP_PROMPT = "<|video_pad|> Understand the content of the provided video."
# The reference's subset_meta keys, in its order (mvbench_dataset.py).
MVBENCH_SUBSETS = [
    "episodic_reasoning",
    "action_sequence",
    "action_prediction",
    "action_antonym",
    "fine_grained_action",
    "unexpected_action",
    "object_existence",
    "object_interaction",
    "object_shuffle",
    "moving_direction",
    "action_localization",
    "scene_transition",
    "action_count",
    "moving_count",
    "moving_attribute",
    "state_change",
    "fine_grained_pose",
    "character_order",
    "egocentric_navigation",
    "counterfactual_inference",
]
FIXTURE_SUBSETS = ["action_antonym", "episodic_reasoning", "moving_count", "moving_direction"]


def task(name: str) -> TaskSpec:
    loaded = load_task_file(VIDEO_DIR / f"{name}.yaml")
    assert isinstance(loaded.spec, TaskSpec)
    return loaded.spec


@functools.cache
def meta_task_of(name: str) -> str | None:
    """The task's meta-task: the meta-task group file that lists it (the only statement of it)."""
    return TaskIndex().meta_task_of(name)


def qwen2(text: str) -> str:
    return text.replace(VIDEO_MARKER, "<|video_pad|>")


def rows(parser: str) -> list[dict[str, Any]]:
    lines = (ROWS_DIR / f"{parser}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def mvbench_rows() -> list[dict[str, Any]]:
    return [{**row, "subset": subset} for row, subset in zip(rows("mvbench"), FIXTURE_SUBSETS, strict=True)]


def build(spec: TaskSpec, data_rows: list[dict[str, Any]], media_root: Path, check_media: bool = False) -> TaskData:
    dataset = DatasetRows(rows=data_rows, locations=[f"rows.jsonl:{i + 1}" for i in range(len(data_rows))])
    return build_task_data(spec, dataset, media_root, check_media=check_media)


def relative(path: Path | None, media_root: Path) -> str | None:
    return None if path is None else path.relative_to(media_root).as_posix()


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    return tmp_path / "video-tasks" / "frames"


# --- groups -----------------------------------------------------------------------------------


def test_groups_hold_all_18_video_tasks_in_reference_order():
    index = TaskIndex(include_builtin=True)
    assert index.expand("V-QA") == ["Video-MME", "NExTQA", "EgoSchema", "MVBench", "ActivityNetQA"]
    assert index.expand("V-MRET") == ["QVHighlight", "Charades-STA", "MomentSeeker"]
    assert len(index.expand("mmeb_v2_video")) == 18
    assert len(index.expand("mmeb_v2")) == 78
    for group in ("V-QA", "V-MRET", "mmeb_v2_video", "mmeb_v2"):
        assert "INCOMPLETE" not in index.groups[group].spec.description


def test_settings_follow_the_reference_video_yaml():
    mvbench = task("MVBench")
    assert (mvbench.dataset.path, mvbench.dataset.split, mvbench.dataset.subsets) == (
        "VLM2Vec/MVBench",
        "train",
        MVBENCH_SUBSETS,
    )
    assert mvbench.dataset.subset_column == "subset"
    for name in ("QVHighlight", "Charades-STA"):
        spec = task(name)
        assert (spec.dataset.path, spec.dataset.split, spec.ranking) == (f"VLM2Vec/{name}", "test", "local")
        assert spec.video.num_frames == 8 and meta_task_of(name) == "V-MRET"
    assert "video_mret/Charades_STA/" in task("Charades-STA").candidates.folders_template  # type: ignore[operator]


# --- MVBench ----------------------------------------------------------------------------------


def test_mvbench_query_is_prompt_question_and_lettered_options_rstripped(media_root: Path):
    data = build(task("MVBench"), mvbench_rows(), media_root)
    texts = [qwen2(q.input.text) for q in data.queries]
    assert texts[0] == (
        QA_PROMPT + "What is the action performed by the person in the video?\nOptions:\n"
        "(A) Not sure\n(B) Scattering something down\n(C) Piling something up"
    )
    assert texts[1] == (
        QA_PROMPT + "Why did Leonard say he was going to the bathroom? \nOptions:\n"
        "(A) He was nervous.\n(B) He wanted to leave.\n(C) He needed to wash his hands.\n"
        "(D) He was sick.\n(E) He spilled a drink."
    )
    # the trailing spaces of the last option go with the rstrip; the candidate keeps them
    assert texts[3].endswith("(C) up\n(D) down")
    assert "(D) down  " in data.candidates


def test_mvbench_frames_are_subset_and_video_folders(media_root: Path):
    data = build(task("MVBench"), mvbench_rows(), media_root)
    folders = [relative(q.input.video.source, media_root) for q in data.queries]  # type: ignore[union-attr]
    assert folders == [
        "video_qa/MVBench/action_antonym/166583.webm",
        "video_qa/MVBench/episodic_reasoning/s08e12_seg02_clip_14",
        "video_qa/MVBench/moving_count/video_10215.mp4",
        "video_qa/MVBench/moving_direction/video_00012.mp4",
    ]


def test_mvbench_candidates_are_lettered_options_and_the_label_is_the_lettered_answer(media_root: Path):
    data = build(task("MVBench"), mvbench_rows(), media_root)
    first, second, third, fourth = data.queries
    assert first.candidate_ids == ("(A) Not sure", "(B) Scattering something down", "(C) Piling something up")
    assert data.candidates["(A) Not sure"].text == "(A) Not sure"
    assert data.candidates["(A) Not sure"].video is None
    assert dict(first.relevance) == {"(C) Piling something up": 1.0}
    assert dict(second.relevance) == {"(B) He wanted to leave.": 1.0}
    # answer "3" equals options A and C: the reference keeps the last match
    assert third.candidate_ids == ("(A) 3", "(B) 2", "(C) 3")
    assert dict(third.relevance) == {"(C) 3": 1.0}
    # an answer equal to no option: index -1, letter chr(ord('A') - 1), a label no candidate has
    assert dict(fourth.relevance) == {"(@) backwards": 1.0}
    assert "(@) backwards" not in fourth.candidate_ids


# --- multi-subset sources ----------------------------------------------------------------------


def write_json_list(path: Path, items: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items), encoding="utf-8")


def test_local_subsets_are_concatenated_in_subset_order_and_tagged(tmp_path: Path):
    base = tmp_path / "data"
    write_json_list(base / "mv" / "b.json", [{"q": "b0"}, {"q": "b1"}])  # the reference's {subset}.json layout
    (base / "mv" / "a").mkdir(parents=True)
    (base / "mv" / "a" / "train.jsonl").write_text('{"q": "a0"}\n', encoding="utf-8")
    source = DatasetSource(
        path="org/mv", split="train", subsets=["b", "a"], files=["mv/{subset}.json", "mv/{subset}/train*"]
    )
    loaded = load_rows(source, base)
    assert [(r["q"], r["subset"]) for r in loaded.rows] == [("b0", "b"), ("b1", "b"), ("a0", "a")]
    assert loaded.locations[2].endswith("train.jsonl:1")
    assert loaded.provenance["kind"] == "local"
    assert [p["subset"] for p in loaded.provenance["subsets"]] == ["b", "a"]
    limited = load_rows(source, base, limit=2)
    assert [r["q"] for r in limited.rows] == ["b0", "b1"]


def test_a_subset_without_local_files_is_an_error_naming_it(tmp_path: Path):
    base = tmp_path / "data"
    write_json_list(base / "mv" / "a.json", [{"q": "a0"}])
    source = DatasetSource(path="org/mv", split="train", subsets=["a", "b", "c"], files=["mv/{subset}.json"])
    with pytest.raises(DataError, match=r"no local data files for subsets b, c"):
        load_rows(source, base)


def test_hub_subsets_load_each_config_in_order(monkeypatch, tmp_path: Path):
    calls: list[tuple[tuple, dict]] = []

    def load_dataset(*args, **kwargs):
        calls.append((args, kwargs))
        return datasets.Dataset.from_list([{"q": f"{args[1]}-{i}"} for i in range(2)])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    source = DatasetSource(
        path="org/mv", split="train", revision="abc", subsets=["x", "y"], files=["missing/{subset}.json"]
    )
    loaded = load_rows(source, tmp_path)  # auto: no subset has local files -> the hub
    assert calls == [
        (("org/mv", "x"), {"split": "train", "revision": "abc"}),
        (("org/mv", "y"), {"split": "train", "revision": "abc"}),
    ]
    assert [(r["q"], r["subset"]) for r in loaded.rows] == [("x-0", "x"), ("x-1", "x"), ("y-0", "y"), ("y-1", "y")]
    assert loaded.provenance["kind"] == "hub"


def test_subset_schema_errors():
    with pytest.raises(ValueError, match="needs '{subset}'"):
        DatasetSource(path="o/d", subsets=["a"], files=["mv/a.json"])
    with pytest.raises(ValueError, match="no subsets are given"):
        DatasetSource(path="o/d", files=["mv/{subset}.json"])
    with pytest.raises(ValueError, match="distinct"):
        DatasetSource(path="o/d", subsets=["a", "a"])
    with pytest.raises(ValueError, match="not both"):
        DatasetSource(path="o/d", name="x", subsets=["a"])


# --- moment retrieval ---------------------------------------------------------------------------


def make_clips(media_root: Path, dataset_dir: str, video: str, clips: list[str], frames: int = 3) -> None:
    folder = media_root / "video_mret" / dataset_dir / video
    for clip in ["query", *clips]:
        (folder / clip).mkdir(parents=True, exist_ok=True)
        for i in range(frames):
            (folder / clip / f"frame_{i:04d}.jpg").write_bytes(b"")  # listed, never decoded here
    (folder / "notes.txt").write_text("a file beside the clips is skipped", encoding="utf-8")


@pytest.mark.parametrize(("name", "dataset_dir"), [("QVHighlight", "QVHighlight"), ("Charades-STA", "Charades_STA")])
def test_moment_retrieval_query_and_clip_candidates(media_root: Path, name: str, dataset_dir: str):
    make_clips(
        media_root, dataset_dir, "NUsG9BgSes0_210.0_360.0", ["negative_10", "negative_2", "positive_1", "negative_1"]
    )
    data = build(task(name), rows("moment_retrieval")[:1], media_root)
    (query,) = data.queries
    assert qwen2(query.input.text) == MRET_PROMPT + " A woman walks her dog along the beach at sunset."
    folder = f"video_mret/{dataset_dir}/NUsG9BgSes0_210.0_360.0"
    assert relative(query.input.video.source, media_root) == f"{folder}/query"  # type: ignore[union-attr]
    # natural order of the clip folders; query/ and the file are not candidates
    assert query.candidate_ids == tuple(
        f"{folder}/{clip}" for clip in ("negative_1", "negative_2", "negative_10", "positive_1")
    )
    assert dict(query.relevance) == {f"{folder}/positive_1": 1.0}
    for candidate_id in query.candidate_ids:
        candidate = data.candidates[candidate_id]
        assert qwen2(candidate.text) == CLIP_PROMPT
        assert relative(candidate.video.source, media_root) == candidate_id  # type: ignore[union-attr]


def test_moment_retrieval_samples_the_frames_of_query_and_clips(media_root: Path):
    folder = media_root / "video_mret" / "QVHighlight" / "AO8RW"
    make_clips(media_root, "QVHighlight", "AO8RW", ["positive_a", "negative_b"], frames=12)
    data = build(task("QVHighlight"), rows("moment_retrieval")[2:], media_root, check_media=True)
    (query,) = data.queries
    assert qwen2(query.input.text) == MRET_PROMPT  # an empty sentence adds nothing, not even a space
    assert query.input.video is not None and query.input.video.source == folder / "query"
    assert list(query.input.video.frame_indices) == [0, 1, 3, 4, 6, 7, 9, 11]  # linspace(0, 11, 8) truncated


def test_several_positive_clips_are_all_relevant(media_root: Path):
    make_clips(media_root, "Charades_STA", "3MSZA", ["positive_0", "negative_0", "positive_1"])
    data = build(task("Charades-STA"), rows("moment_retrieval")[1:2], media_root)
    folder = "video_mret/Charades_STA/3MSZA"
    assert dict(data.queries[0].relevance) == {f"{folder}/positive_0": 1.0, f"{folder}/positive_1": 1.0}


def test_a_video_without_a_positive_clip_is_an_error_naming_the_row(media_root: Path):
    make_clips(media_root, "QVHighlight", "AO8RW", ["negative_0", "negative_1"])
    with pytest.raises(DataError, match=r"task 'QVHighlight', rows.jsonl:1: relevance.template: no relevant candidate"):
        build(task("QVHighlight"), rows("moment_retrieval")[2:], media_root)


def test_a_missing_or_empty_video_folder_is_an_error_naming_the_row(media_root: Path):
    with pytest.raises(DataError, match=r"rows.jsonl:1: candidates.folders_template: candidate folder not found"):
        build(task("QVHighlight"), rows("moment_retrieval")[2:], media_root)
    (media_root / "video_mret" / "QVHighlight" / "AO8RW" / "query").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no candidate sub-folders"):
        build(task("QVHighlight"), rows("moment_retrieval")[2:], media_root)


def test_folders_template_cannot_escape_the_media_root(media_root: Path):
    spec = task("QVHighlight")
    escaping = spec.model_copy(
        update={"candidates": spec.candidates.model_copy(update={"folders_template": "../../{{ video_path | stem }}"})}
    )
    with pytest.raises(DataError, match="escapes its root"):
        build(escaping, rows("moment_retrieval")[2:], media_root)


def test_candidate_flag_must_render_true_or_false(media_root: Path):
    make_clips(media_root, "QVHighlight", "AO8RW", ["positive_0"])
    spec = task("QVHighlight")
    bad = spec.model_copy(update={"relevance": spec.relevance.model_copy(update={"template": "{{ cand.name }}"})})
    with pytest.raises(DataError, match="must render True or False, got 'positive_0'"):
        build(bad, rows("moment_retrieval")[2:], media_root)


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("videos/NUsG9BgSes0_210.0_360.0.mp4", "NUsG9BgSes0_210.0_360.0"),
        ("Charades_v1_480/3MSZA.mp4", "3MSZA"),
        ("AO8RW", "AO8RW"),
        ("a/.hidden", ".hidden"),
        ("a.b/c", "c"),
    ],
)
def test_stem_filter_is_splitext_of_basename(path: str, stem: str):
    import os.path

    assert render("{{ p | stem }}", {"p": path}) == stem == os.path.splitext(os.path.basename(path))[0]
    assert render("{{ p | basename }}", {"p": path}) == os.path.basename(path)
