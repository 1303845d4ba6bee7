"""``harness validate``: one line per file (ok or FAIL), exit 1 if any file failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import write_task

from harness.cli import main
from harness.taskspec import builtin_task_dir


def validate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    status = main(["validate", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out.splitlines()


def write_group(directory: Path, name: str, members: list[str]) -> Path:
    path = directory / f"{name}.yaml"
    document = {"group": name, "version": "1.0", "aggregate": "mean_of_tasks", "task": members}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_good_task_file_prints_an_ok_line_and_exits_0(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    path = write_task(tmp_path / "tasks", "good")

    status, lines = validate(capsys, str(path), "--data_basedir", str(mmeb_basedir))

    assert status == 0
    assert lines == [f"ok    {path}: 4 rows, 12 candidates, 4 images checked", "1 passed, 0 failed"]


def test_builtin_task_validates_against_the_golden_rows(mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]):
    path = builtin_task_dir() / "mmeb_v2" / "image" / "CIRR.yaml"

    status, lines = validate(capsys, str(path), "--data_basedir", str(mmeb_basedir))

    assert status == 0
    assert lines[0].startswith(f"ok    {path}: 2 rows, ")


def test_builtin_group_folder_validates_without_data(capsys: pytest.CaptureFixture[str]):
    folder = builtin_task_dir() / "mmeb_v2" / "groups"
    status, lines = validate(capsys, str(folder))

    assert status == 0
    assert any(line.startswith("ok    ") and line.endswith("mmeb_v2_image.yaml: group of 36 tasks") for line in lines)
    assert lines[-1] == f"{len(list(folder.glob('*.yaml')))} passed, 0 failed"


def test_folder_with_one_bad_file_fails_that_file_and_still_reports_the_others(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "tasks"
    first = write_task(folder, "a_good")
    bad = write_task(folder, "b_bad", ranking="sideways")
    last = write_task(folder, "c_good")
    bad_line = bad.read_text().splitlines().index("ranking: sideways") + 1

    status, lines = validate(capsys, str(folder), "--data_basedir", str(mmeb_basedir))

    assert status == 2
    assert lines == [
        f"ok    {first}: 4 rows, 12 candidates, 4 images checked",
        f"FAIL  {bad}:{bad_line}: ranking: Input should be 'local' or 'global'",
        f"ok    {last}: 4 rows, 12 candidates, 4 images checked",
        "2 passed, 1 failed",
    ]


def test_folder_skips_underscore_include_files(tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "tasks"
    (folder / "_defaults.yaml").parent.mkdir(parents=True)
    (folder / "_defaults.yaml").write_text("media_root: image-tasks/\n")
    write_task(folder, "only")

    status, lines = validate(capsys, str(folder), "--data_basedir", str(mmeb_basedir))

    assert status == 0
    assert lines[-1] == "1 passed, 0 failed"


def test_group_may_name_tasks_from_files_that_sort_after_it(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "tasks"
    write_task(folder, "zeta")
    group = write_group(folder, "all", ["zeta"])

    status, lines = validate(capsys, str(folder), "--data_basedir", str(mmeb_basedir))

    assert status == 0
    assert lines[0] == f"ok    {group}: group of 1 tasks"


def test_group_with_an_unknown_member_fails_naming_the_member_and_the_group_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    group = write_group(tmp_path, "all", ["missing_task"])

    status, lines = validate(capsys, str(group))

    assert status == 2
    assert lines[0].startswith(f"FAIL  unknown task, group or tag 'missing_task' (member of group 'all' in {group})")


def test_missing_media_fails_naming_the_row_and_the_path(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    rows = mmeb_basedir / "MMEB_Test_Instruct" / "ImageNet-1K" / "test.jsonl"
    (mmeb_basedir / "image-tasks" / "synthetic" / "img04_64x27.png").unlink()  # used by row 2
    path = write_task(tmp_path / "tasks", "lost")

    status, lines = validate(capsys, str(path), "--data_basedir", str(mmeb_basedir))

    assert status == 2
    assert lines[0] == (
        f"FAIL  {path}: task 'lost', {rows}:2: query.image_column: media file not found: "
        f"{mmeb_basedir / 'image-tasks' / 'synthetic' / 'img04_64x27.png'}"
    )


def test_corrupt_image_fails_naming_the_row_and_the_path(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    rows = mmeb_basedir / "MMEB_Test_Instruct" / "ImageNet-1K" / "test.jsonl"
    image = mmeb_basedir / "image-tasks" / "synthetic" / "img11_rgba_96x64.png"  # used by row 3
    image.write_bytes(b"\x89PNG\r\n\x1a\n but then garbage")
    path = write_task(tmp_path / "tasks", "corrupt")

    status, lines = validate(capsys, str(path), "--data_basedir", str(mmeb_basedir))

    assert status == 2
    assert lines[0].startswith(f"FAIL  {path}: task 'corrupt', {rows}:3: cannot read image {image}: ")


def test_relative_data_basedir_is_resolved_from_the_working_folder(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    path = write_task(tmp_path / "tasks", "relative")
    monkeypatch.chdir(mmeb_basedir.parent)

    status, lines = validate(capsys, str(path), "--data_basedir", mmeb_basedir.name)

    assert status == 0
    assert lines[0] == f"ok    {path}: 4 rows, 12 candidates, 4 images checked"


def test_long_fail_lines_are_not_wrapped_at_the_terminal_width(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("COLUMNS", "40")
    path = write_task(tmp_path / "a_rather_long_folder_name_for_the_task_files", "wrapped", ranking="sideways")

    status, lines = validate(capsys, str(path))

    assert status == 2
    assert lines[0].startswith(f"FAIL  {path}:")
    assert lines[0].endswith("ranking: Input should be 'local' or 'global'")


def test_limit_checks_only_the_first_rows(tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]):
    path = write_task(tmp_path / "tasks", "limited")

    status, lines = validate(capsys, str(path), "--data_basedir", str(mmeb_basedir), "--limit", "1")

    assert status == 0
    assert lines[0] == f"ok    {path}: 1 rows, 4 candidates, 1 images checked"


def test_missing_path_is_an_input_error_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    status = main(["validate", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err

    assert status == 2
    assert err.strip().splitlines() == [f"error: {tmp_path / 'nowhere'}: no such file or folder"]


def test_rows_json_error_fails_naming_file_and_line(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    rows = mmeb_basedir / "bad.jsonl"
    rows.write_text(json.dumps({"qry_inst": "x"}) + "\nnot json\n")
    path = write_task(tmp_path / "tasks", "badjson", dataset={"files": ["bad.jsonl"]})

    status, lines = validate(capsys, str(path), "--data_basedir", str(mmeb_basedir))

    assert status == 2
    assert lines[0].startswith(f"FAIL  {path}: {rows}:2: not valid JSON: ")
