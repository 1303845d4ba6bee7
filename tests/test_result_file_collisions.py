"""A run refuses task names whose result files would collide, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_task

from harness.results.files import OutputPathError, check_distinct_task_files


def test_distinct_names_pass(tmp_path: Path):
    check_distinct_task_files(tmp_path, ["text/BRIGHT/aops", "text/BRIGHT/biology", "MSCOCO"], ["harness_run.json"])


def test_names_equal_but_for_case_are_refused(tmp_path: Path):
    with pytest.raises(OutputPathError) as error:
        check_distinct_task_files(tmp_path, ["MSCOCO", "mscoco"])
    assert str(error.value) == (
        "tasks 'MSCOCO' and 'mscoco' differ only in case: their result files would be one file on a "
        "case-insensitive file system; rename one"
    )


def test_a_file_of_one_task_where_another_needs_a_folder_is_refused(tmp_path: Path):
    with pytest.raises(OutputPathError) as error:
        check_distinct_task_files(tmp_path, ["a", "a_qry/b"])
    assert (
        str(error.value) == "task 'a' writes 'a_qry', a file where task 'a_qry/b' needs a sub-folder; rename the task"
    )


def test_a_folder_in_another_case_is_refused(tmp_path: Path):
    with pytest.raises(OutputPathError, match="needs a sub-folder"):
        check_distinct_task_files(tmp_path, ["A_QRY/b", "a"])


@pytest.mark.parametrize("task", ["leaderboard.json/x", "Harness_Run.json/x"])
def test_a_folder_named_as_the_runs_own_files_is_refused(tmp_path: Path, task: str):
    with pytest.raises(OutputPathError) as error:
        check_distinct_task_files(tmp_path, [task], ["harness_run.json"])
    assert f"a file where task {task!r} needs a sub-folder" in str(error.value)
    assert str(error.value).startswith("the run writes")


def test_harness_run_refuses_colliding_tasks_before_the_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from harness.cli import main

    tasks = tmp_path / "tasks"
    write_task(tasks, "CaseA")
    write_task(tasks, "casea")
    out = tmp_path / "out"
    argv = ["run", "--model", "vlm2vec", "--tasks", "CaseA,casea", "--device", "cpu", "--include_path", str(tasks)]
    argv += ["--data_basedir", str(tmp_path), "--output_path", str(out)]
    argv += ["--model_args", f"pretrained={tmp_path / 'no-such-checkpoint'}"]  # never reached
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "tasks 'CaseA' and 'casea' differ only in case" in err
    assert "no-such-checkpoint" not in err
    assert not out.exists() or not any(out.iterdir())
