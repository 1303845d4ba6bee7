"""The reference's video.yaml keys in eval.py's --dataset_config: frame_root (each video's frame
folder under it), num_frames, and the raw-video keys (noted, unused: frames are not extracted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_mmeb_video_tasks import row_candidates, rows

from harness.cli.reference_entries import FRAME_FOLDER as _FRAME_FOLDER
from harness.cli.reference_entries import load_dataset_config
from harness.taskspec import TaskIndex

VIDEO_TASKS = [name for name, loaded in TaskIndex().tasks.items() if loaded.spec.modality == "video"]


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "video.yaml"
    path.write_text(text)
    return path


def test_frame_root_and_num_frames_of_the_reference_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = config(
        tmp_path,
        "MSR-VTT:\n  dataset_parser: msrvtt\n  dataset_name: MSR-VTT\n  eval_type: global\n"
        "  video_root: video-tasks/data/msrvtt/videos\n  frame_root: my-frames/msrvtt\n"
        "  max_frames_saved: 64\n  num_frames: 4\n",
    )
    (task,) = load_dataset_config(path, TaskIndex()).tasks
    assert task.spec.media_root == "my-frames/msrvtt/"
    assert task.spec.candidates.video_template == "{{ cand.video_id }}"
    assert task.spec.video.num_frames == 4
    err = capsys.readouterr().err
    assert "video_root is not used (raw videos; frames are read from frame_root" in err
    assert "max_frames_saved is not used" in err


@pytest.mark.parametrize("name", VIDEO_TASKS)
def test_the_default_frame_root_reads_the_same_folders(name: str, tmp_path: Path):
    spec = TaskIndex().tasks[name].spec
    sources = [
        s for s in (spec.query.video_template, spec.candidates.video_template, spec.candidates.folders_template) if s
    ]
    (folder,) = {m.group(0) for s in sources for m in _FRAME_FOLDER.finditer(s)}
    frame_root = spec.media_root + folder.rstrip("/")
    (task,) = load_dataset_config(
        config(tmp_path, f"{name}:\n  dataset_name: {name}\n  eval_type: {spec.ranking}\n  frame_root: {frame_root}\n"),
        TaskIndex(),
    ).tasks
    for part, field in (
        ("query", "video_template"),
        ("candidates", "video_template"),
        ("candidates", "folders_template"),
    ):
        old, new = getattr(getattr(spec, part), field), getattr(getattr(task.spec, part), field)
        if old is None:
            assert new is None
        else:  # the folder moves from the template into the media root: the same paths for every row
            assert task.spec.media_root == spec.media_root + folder
            assert new == old.replace(folder, "")


def test_frame_root_on_an_image_task_is_refused(tmp_path: Path):
    from harness.errors import HarnessError

    path = config(tmp_path, "ImageNet-1K:\n  dataset_name: ImageNet-1K\n  eval_type: local\n  frame_root: x\n")
    with pytest.raises(HarnessError, match="frame_root applies to the built-in video tasks only"):
        load_dataset_config(path, TaskIndex())


@pytest.mark.parametrize(
    ("name", "parser"), [(n, case[0]) for n, case in __import__("test_mmeb_video_tasks").RET_CASES.items()]
)
def test_rows_render_the_same_frame_folders_under_the_default_frame_root(name: str, parser: str, tmp_path: Path):

    spec = TaskIndex().tasks[name].spec
    (folder,) = {m.group(0) for m in _FRAME_FOLDER.finditer(spec.candidates.video_template or "")}
    text = f"{name}:\n  dataset_name: {name}\n  eval_type: {spec.ranking}\n  frame_root: {spec.media_root}{folder}\n"
    (task,) = load_dataset_config(config(tmp_path, text), TaskIndex()).tasks
    for row in rows(parser):
        before = [spec.media_root + video for _, _, video in row_candidates(spec, row) if video]
        after = [task.spec.media_root + video for _, _, video in row_candidates(task.spec, row) if video]
        assert after == before and before
