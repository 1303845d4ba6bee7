"""eval.py runs the reference's own eval YAMLs verbatim, and new dataset keys with a known parser.

The three configs under ``tests/data/reference_eval_configs`` are the reference's public
``experiments/public/eval/{image,video,visdoc}.yaml``, unchanged below a two-line header.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_eval_py_compat import REFERENCE_FLAGS  # the reference's flags on the golden tiny checkpoint

from harness.cli.reference_compat import main
from harness.cli.reference_entries import NOTED_KEYS, PARSER_BASES, load_dataset_config
from harness.errors import HarnessError
from harness.taskspec import TaskIndex

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "tests" / "data" / "reference_eval_configs"
GOLDEN = ROOT / "tests" / "data" / "golden"


def entries(name: str) -> dict[str, dict]:
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


@pytest.mark.parametrize(("name", "count"), [("image", 36), ("video", 18), ("visdoc", 27)])
def test_every_entry_of_the_reference_configs_loads(name: str, count: int, capsys: pytest.CaptureFixture[str]):
    config = entries(name)
    tasks = load_dataset_config(CONFIGS / f"{name}.yaml", TaskIndex()).tasks
    assert [t.spec.task for t in tasks] == list(config) and len(tasks) == count
    index = TaskIndex()
    for task, (key, entry) in zip(tasks, config.items(), strict=True):
        builtin = index.tasks[key if key in index.tasks else entry["dataset_name"]].spec
        assert task.spec.ranking == entry["eval_type"] == builtin.ranking
        if "image_root" in entry:  # the built-in tasks use the reference's own layout
            assert task.spec.media_root == builtin.media_root == entry["image_root"].rstrip("/") + "/"
        frames = entry.get("num_frames", entry.get("num_video_frames"))
        if frames is not None:
            assert task.spec.video.num_frames == frames
        sample = entry.get("num_sample_per_subset")
        assert task.spec.num_rows == (sample if isinstance(sample, int) else None), key
    notes = capsys.readouterr().err.splitlines()
    expected = {key for entry in config.values() for key in entry if key in NOTED_KEYS}
    assert len(notes) == len(expected) and all(line.startswith("note: ") for line in notes)  # one per key
    assert {line.split(": ")[2].split(" ")[0] for line in notes} == expected
    if name == "video":  # every entry has video_root: named three, the rest counted
        assert any(line.endswith(": SmthSmthV2, HMDB51, UCF101 and 15 more") for line in notes)


def test_the_reference_video_config_reads_frames_where_the_built_in_tasks_do():
    index = TaskIndex()
    for task in load_dataset_config(CONFIGS / "video.yaml", index).tasks:
        builtin = index.tasks[task.spec.task].spec
        # e.g. media_root video-tasks/frames/video_ret/MSR-VTT/ + "{{ cand.video_id }}" is the same
        # path as video-tasks/frames/ + "video_ret/MSR-VTT/{{ cand.video_id }}"
        for part, field in (("query", "video_template"), ("query", "image_template"), ("candidates", "video_template")):
            ours, theirs = getattr(getattr(task.spec, part), field), getattr(getattr(builtin, part), field)
            if theirs is None:
                assert ours is None
                continue
            folder = task.spec.media_root.removeprefix(builtin.media_root)
            assert theirs.replace(folder, "") == ours, (task.spec.task, field)


def test_english_only_vidore_v2_entries_filter_queries_by_language():
    tasks = {t.spec.task: t.spec for t in load_dataset_config(CONFIGS / "visdoc.yaml", TaskIndex()).tasks}
    for name in ("ViDoRe_biomedical_lectures_v2", "ViDoRe_economics_reports_v2", "ViDoRe_esg_reports_v2"):
        assert tasks[name].dataset.where == {"language": "english"}
        assert tasks[f"{name}_multilingual"].dataset.where is None
        assert tasks[name].dataset.path == tasks[f"{name}_multilingual"].dataset.path


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eval.yaml"
    path.write_text(text)
    return path


def test_num_sample_per_subset_absent_or_none_takes_every_row(tmp_path: Path):
    # The reference samples only when the entry says so: SmthSmthV2 without the key is every row.
    base = "  dataset_parser: ssv2\n  dataset_name: SmthSmthV2\n  eval_type: local\n"
    for extra, expected in (
        ("", None),
        ("  num_sample_per_subset: None\n", None),
        ('  num_sample_per_subset: "7"\n', 7),
    ):
        (task,) = load_dataset_config(config(tmp_path, "SmthSmthV2:\n" + base + extra), TaskIndex()).tasks
        assert task.spec.num_rows == expected


def test_moment_retrieval_frame_counts_must_agree(tmp_path: Path):
    text = (
        "QVHighlight:\n  dataset_name: QVHighlight\n  eval_type: local\n  num_video_frames: 8\n  num_clip_frames: 4\n"
    )
    with pytest.raises(HarnessError, match="one frame count per task"):
        load_dataset_config(config(tmp_path, text), TaskIndex())


def test_a_misspelled_key_is_named(tmp_path: Path):
    text = "CIRR:\n  dataset_name: CIRR\n  eval_type: local\n  image_rot: x\n"
    with pytest.raises(HarnessError, match=r"CIRR: unsupported keys \['image_rot'\]"):
        load_dataset_config(config(tmp_path, text), TaskIndex())


# --- new dataset keys with a known dataset_parser ------------------------------------------------

RENAMED = {  # golden dev subset -> its parser; renamed, each must score exactly as the reference did
    "ImageNet-1K": "image_cls",
    "WebQA": "image_t2i",
    "CIRR": "image_i2i_vg",
    "RefCOCO-Matching": "image_i2i_vg",
}


def test_new_dataset_keys_run_with_their_parser_and_score_as_the_reference(tmp_path: Path):
    text = "".join(
        f"My{name}:\n  dataset_parser: {parser}\n  dataset_name: My{name}\n  eval_type: local\n"
        f"  image_root: media/image-tasks/\n  data_path: image-tasks-dev/{name}.jsonl\n"
        for name, parser in RENAMED.items()
    )
    out = tmp_path / "out"
    assert (
        main([*REFERENCE_FLAGS, "--dataset_config", str(config(tmp_path, text)), "--encode_output_path", str(out)]) == 0
    )
    for name in RENAMED:
        ours = json.loads((out / f"My{name}_score.json").read_text())
        reference = json.loads((GOLDEN / "dev_eval" / f"{name}_score.json").read_text())
        assert ours == pytest.approx(reference, abs=1e-12), name
        assert (out / f"My{name}_pred.jsonl").is_file()


def test_a_new_image_dataset_defaults_to_its_config_of_the_mmeb_image_repository(tmp_path: Path):
    text = (
        "MyCLS:\n  dataset_parser: image_cls\n  dataset_name: MyCLS\n  eval_type: local\n  image_root: image-tasks/\n"
    )
    (task,) = load_dataset_config(config(tmp_path, text), TaskIndex()).tasks
    assert (task.spec.dataset.path, task.spec.dataset.name) == ("ziyjiang/MMEB_Test_Instruct", "MyCLS")
    assert task.spec.dataset.files == ["MMEB_Test_Instruct/MyCLS/test*"]
    assert task.meta_task is None and task.spec.query.template == TaskIndex().tasks["ImageNet-1K"].spec.query.template


def test_a_new_visdoc_dataset_reads_local_beir_tables(tmp_path: Path):
    folder = (
        "MyDocs:\n  dataset_parser: vidore\n  dataset_name: MyDocs\n  eval_type: global\n"
        "  image_root: my/pages\n  data_path: my/beir\n"
    )
    (task,) = load_dataset_config(config(tmp_path, folder), TaskIndex()).tasks
    assert task.spec.dataset.files == ["my/beir/queries*"] and task.spec.dataset.path is None
    assert task.spec.candidates.corpus is not None and task.spec.candidates.corpus.files == ["my/beir/corpus*"]
    assert task.spec.relevance.dataset.files == ["my/beir/qrels*"]  # type: ignore[union-attr]
    assert task.spec.candidates.image_file_template == "{{ cand['corpus-id'] }}.png"
    mapping = (
        "MyDocs:\n  dataset_parser: visrag\n  eval_type: global\n  image_root: pages/\n"
        "  data_path: {queries: q.jsonl, corpus: [c1.parquet, c2.parquet], qrels: r.jsonl}\n"
    )
    (task,) = load_dataset_config(config(tmp_path, mapping), TaskIndex()).tasks
    assert task.spec.candidates.corpus is not None and task.spec.candidates.corpus.files == ["c1.parquet", "c2.parquet"]
    assert task.spec.media_root == "pages/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("X:\n  dataset_parser: vidore\n  eval_type: global\n  image_root: p\n  data_path: q.jsonl\n", "three tables"),
        (
            "X:\n  dataset_parser: vidore\n  eval_type: global\n  image_root: p\n  data_path: {queries: q}\n",
            "queries, corpus and qrels",
        ),
        ("X:\n  dataset_parser: vidore\n  eval_type: global\n", "give data_path"),
        ("X:\n  dataset_parser: msrvtt\n  eval_type: global\n  data_path: x.jsonl\n", "give frame_root"),
        ("X:\n  dataset_parser: video_classification\n  eval_type: global\n", "runs only its built-in datasets"),
        ("X:\n  dataset_parser: nonsense\n  eval_type: global\n", "unknown dataset_parser 'nonsense'"),
        ("X:\n  eval_type: global\n", "needs a dataset_parser of"),
        ("X:\n  dataset_parser: image_cls\n  eval_type: local\n  data_path: /etc/passwd\n", "relative"),
        ("X:\n  dataset_parser: image_cls\n  eval_type: local\n  data_path: [1, 2]\n", "expected a file"),
    ],
)
def test_new_dataset_keys_that_cannot_run_are_one_line_errors(tmp_path: Path, text: str, message: str):
    with pytest.raises(HarnessError, match=message):
        load_dataset_config(config(tmp_path, text), TaskIndex())


def test_every_parser_base_is_a_task_file_that_exists():
    from harness.taskspec.index import builtin_task_dir

    for parser, relative in PARSER_BASES.items():
        assert (builtin_task_dir() / relative).is_file(), parser


def test_dataset_name_chooses_the_data_and_the_key_names_the_outputs(tmp_path: Path):
    # as the reference: ImageNet-A's rows, written as ImageNet-1K_*
    text = "ImageNet-1K:\n  dataset_parser: image_cls\n  dataset_name: ImageNet-A\n  eval_type: local\n"
    (task,) = load_dataset_config(config(tmp_path, text), TaskIndex()).tasks
    assert task.spec.task == "ImageNet-1K"
    assert task.spec.dataset.name == "ImageNet-A" and task.spec.dataset.files == ["MMEB_Test_Instruct/ImageNet-A/test*"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CIRR:\n  dataset_parser: vidore\n  dataset_name: CIRR\n  eval_type: local\n", "not read by dataset_parser"),
        ("CIRR:\n  dataset_parser: cirr_parser\n  dataset_name: CIRR\n  eval_type: local\n", "unknown dataset_parser"),
        ("tasks: 5\n", "expected a list of task"),
        ("CIRR:\n  dataset_name: CIRR\n  eval_type: local\n  image_root: null\n", "image_root: expected a folder"),
        (
            "MSR-VTT:\n  dataset_name: MSR-VTT\n  eval_type: global\n  frame_root: [a]\n",
            "frame_root: expected a folder",
        ),
        ("X:\n  dataset_parser: vidore\n  eval_type: global\n  data_path: d/\n", "give image_root"),
    ],
)
def test_entries_the_reference_would_not_run_are_one_line_errors(tmp_path: Path, text: str, message: str):
    with pytest.raises(HarnessError, match=message):
        load_dataset_config(config(tmp_path, text), TaskIndex())


def test_image_root_on_a_video_task_is_noted_not_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = "MSR-VTT:\n  dataset_name: MSR-VTT\n  eval_type: global\n  image_root: elsewhere/\n"
    (task,) = load_dataset_config(config(tmp_path, text), TaskIndex()).tasks
    assert task.spec.media_root == TaskIndex().tasks["MSR-VTT"].spec.media_root
    assert "image_root is not used by a video task" in capsys.readouterr().err
