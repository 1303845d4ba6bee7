"""``harness data check``: every missing medium, short frame folder, missing table and unreadable
data file is reported (exit 1) while the other tasks are still checked; all present is exit 0."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from data_setup_fixtures import FRAMES, VIDEOS, beir_tables, msrvtt_rows, write_jsonl

from harness.cli import main
from harness.datasetup import CheckReport, check_task
from harness.taskspec import TaskIndex

IMAGE_TASKS = "ImageNet-1K,VisDial,WebQA,CIRR,RefCOCO-Matching"


def _check(*args: str) -> int:
    return main(["data", "check", *args])


def _video_basedir(base: Path) -> Path:
    write_jsonl(base / "video-tasks" / "data" / "MSR-VTT" / "test.jsonl", msrvtt_rows())
    for video in VIDEOS:
        shutil.copytree(FRAMES / video, base / "video-tasks" / "frames" / "video_ret" / "MSR-VTT" / video)
    return base


def test_everything_present_is_exit_0(mmeb_basedir, capsys):
    assert _check("--tasks", IMAGE_TASKS, "--data_basedir", str(mmeb_basedir), "--data_source", "local") == 0
    assert "5 tasks checked: 5 complete, 0 incomplete, 0 unreadable" in capsys.readouterr().out


def test_missing_images_are_counted_and_the_first_named(mmeb_basedir, capsys, tmp_path):
    (mmeb_basedir / "image-tasks" / "synthetic" / "img00_40x56.png").unlink()
    report_path = tmp_path / "report.json"
    code = _check("--tasks", IMAGE_TASKS, "--data_basedir", str(mmeb_basedir), "--json", str(report_path))
    assert code == 1
    out = capsys.readouterr().out
    assert "ImageNet-1K: 1 images missing: image-tasks/synthetic/img00_40x56.png" in out
    report = CheckReport.model_validate_json(report_path.read_text())
    imagenet = next(t for t in report.tasks if t.task == "ImageNet-1K")
    assert imagenet.status == "incomplete" and imagenet.images.missing == 1
    assert imagenet.images.present == imagenet.images.referenced - 1
    assert next(t for t in report.tasks if t.task == "VisDial").status == "complete"


def test_a_malformed_data_file_is_that_tasks_error_line_and_the_others_are_still_checked(mmeb_basedir, capsys):
    (mmeb_basedir / "MMEB_Test_Instruct" / "WebQA" / "test.jsonl").write_text('{"qry_inst": \n')
    assert _check("--tasks", IMAGE_TASKS, "--data_basedir", str(mmeb_basedir), "--data_source", "local") == 1
    out = capsys.readouterr().out
    assert "WebQA: error: rows: " in out and "test.jsonl:1: not valid JSON" in out
    assert "4 complete, 0 incomplete, 1 unreadable" in out


def test_a_missing_frame_folder_and_a_short_one_are_reported(tmp_path, capsys):
    base = _video_basedir(tmp_path / "data")
    frames = base / "video-tasks" / "frames" / "video_ret" / "MSR-VTT"
    shutil.rmtree(frames / "video7002")
    for frame in sorted((frames / "video7003").iterdir())[3:]:
        frame.unlink()
    assert _check("--tasks", "MSR-VTT", "--data_basedir", str(base), "--data_source", "local") == 1
    out = capsys.readouterr().out
    assert "MSR-VTT: 1 videos missing: video-tasks/frames/video_ret/MSR-VTT/video7002" in out
    assert "1 frame folders have fewer than 8 frames: video-tasks/frames/video_ret/MSR-VTT/video7003 (3 of 8" in out


def test_video_frames_all_present_is_complete(tmp_path):
    base = _video_basedir(tmp_path / "data")
    result = check_task(TaskIndex().tasks["MSR-VTT"].spec, base, "local")
    assert result.status == "complete"
    assert (result.videos.referenced, result.videos.present, result.videos.num_frames) == (4, 4, 8)


def test_an_empty_frame_folder_counts_as_missing(tmp_path):
    base = _video_basedir(tmp_path / "data")
    folder = base / "video-tasks" / "frames" / "video_ret" / "MSR-VTT" / "video7004"
    shutil.rmtree(folder)
    folder.mkdir()
    result = check_task(TaskIndex().tasks["MSR-VTT"].spec, base, "local")
    assert result.videos.missing == 1 and result.status == "incomplete"


def test_a_missing_candidate_folder_counts_the_row_and_the_other_rows_are_still_checked(tmp_path):
    base = tmp_path / "data"
    rows = [{"query": "a man sits", "video_path": f"videos/{name}.mp4"} for name in ("clipA", "clipB")]
    write_jsonl(base / "video-tasks" / "data" / "Charades-STA" / "test.jsonl", rows)
    folder = base / "video-tasks" / "frames" / "video_mret" / "Charades_STA" / "clipA"
    for clip in ("query", "positive_0", "negative_0"):
        shutil.copytree(FRAMES / "video7001", folder / clip)
    result = check_task(TaskIndex().tasks["Charades-STA"].spec, base, "local")
    assert result.row_errors == 1 and result.status == "incomplete"
    assert "candidate folder not found" in result.errors[0]
    assert result.videos.referenced == 3 and result.videos.missing == 0


@pytest.mark.parametrize("table", ["corpus", "qrels"])
def test_a_missing_corpus_or_qrels_file_is_reported_with_its_table(tmp_path, table, capsys):
    folder = tmp_path / "data" / "visdoc-tasks" / "data" / "ViDoRe_arxivqa"
    beir_tables(tmp_path / "repo", "ViDoRe_arxivqa")
    for config in ("queries", "corpus", "qrels"):
        folder.mkdir(parents=True, exist_ok=True)
        if config != table:
            shutil.copyfile(tmp_path / "repo" / config / "test-00000-of-00001.parquet", folder / f"{config}.parquet")
    code = _check(
        "--tasks", "ViDoRe_arxivqa,ImageNet-1K", "--data_basedir", str(tmp_path / "data"), "--data_source", "local"
    )
    assert code == 1
    out = capsys.readouterr().out
    assert f"ViDoRe_arxivqa: error: {table}: no local data files match visdoc-tasks/data/ViDoRe_arxivqa/{table}*" in out
    assert "ImageNet-1K: error: rows: no local data files match" in out  # checked too


def test_beir_tables_present_report_rows_corpus_qrels_and_pages(tmp_path):
    folder = tmp_path / "data" / "visdoc-tasks" / "data" / "ViDoRe_arxivqa"
    beir_tables(tmp_path / "repo", "ViDoRe_arxivqa")
    folder.mkdir(parents=True)
    for config in ("queries", "corpus", "qrels"):
        shutil.copyfile(tmp_path / "repo" / config / "test-00000-of-00001.parquet", folder / f"{config}.parquet")
    result = check_task(TaskIndex().tasks["ViDoRe_arxivqa"].spec, tmp_path / "data", "local")
    assert result.status == "complete"
    assert (result.rows, result.corpus_rows, result.qrels_rows) == (2, 8, 2)
    assert result.pages == 8 and result.images.referenced == 0
    assert result.source == "local: visdoc-tasks/data/ViDoRe_arxivqa/queries.parquet"


def test_an_unknown_task_is_one_line_and_status_2(tmp_path, capsys):
    assert _check("--tasks", "NoSuchTask", "--data_basedir", str(tmp_path)) == 2
    assert "unknown task, group or tag 'NoSuchTask'" in capsys.readouterr().err
