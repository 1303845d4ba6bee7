"""Result files stay inside the output folder, and a folder holds the files of one run only.

A task name is a file-name prefix and task files come from strangers, so a name that is not a
plain file name is refused before anything is written. A run claims its folder before the
model loads (a bad folder costs nothing), marks it with its run id and fingerprint, refuses
another run's results unless ``--overwrite``, and replaces an earlier try of itself as a whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_MODEL_ARGS
from test_bad_input import one_error_line, run_args

from harness.cli import main
from harness.errors import HarnessError
from harness.results.files import OutputPathError, output_file, task_paths
from harness.results.output_folder import LOCK_FILE, RUN_MARKER, claim_output_folder, read_marker

SETTINGS = {"model": "m", "model_args": {"pretrained": "a"}, "tasks": {"t": "1"}, "limit": None}


# --- confinement ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../x", "/tmp/x", "a/../b", "a//b", "a/.b", ".hidden", "..", "x\x00y", "a\\b", "x" * 300]
)
def test_output_file_refuses_names_that_are_not_plain_file_names(tmp_path: Path, name: str):
    with pytest.raises(OutputPathError, match="not a plain file name"):
        output_file(tmp_path / "out", name)


def test_task_paths_of_an_escaping_task_name_are_refused(tmp_path: Path):
    with pytest.raises(OutputPathError):
        task_paths(tmp_path / "out", "../../escaped")
    assert not (tmp_path / "escaped_score.json").exists()


def test_task_paths_of_a_name_with_segments_lie_in_sub_folders(tmp_path: Path):
    paths = task_paths(tmp_path / "out", "text/BRIGHT/aops")

    assert {p.parent for p in paths.values()} == {tmp_path / "out" / "text" / "BRIGHT"}
    assert paths["score"].name == "aops_score.json"


def test_task_paths_of_a_plain_name_lie_inside_the_folder(tmp_path: Path):
    paths = task_paths(tmp_path / "out", "MSCOCO_i2t")

    assert {p.parent for p in paths.values()} == {tmp_path / "out"}
    assert paths["score"].name == "MSCOCO_i2t_score.json"


def test_eval_py_config_key_that_escapes_the_output_folder_is_refused_before_the_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from harness.cli.reference_compat import main as eval_main

    config = tmp_path / "eval.yaml"
    config.write_text('"../../escaped":\n  dataset_name: ImageNet-1K\n  eval_type: local\n', encoding="utf-8")
    out = tmp_path / "a" / "b" / "out"
    argv = ["--model_name", str(tmp_path / "no-model"), "--dataset_config", str(config)]
    argv += ["--encode_output_path", str(out), "--device", "cpu"]

    status = eval_main(argv)

    err = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in err
    assert "../../escaped" in err and "cannot load" not in err  # refused before any model was read
    assert not list(tmp_path.rglob("*escaped*"))


# --- claiming a folder ----------------------------------------------------------------------------


def test_a_fresh_folder_is_marked_with_the_run_id_and_fingerprint(tmp_path: Path):
    folder = claim_output_folder(tmp_path / "out", SETTINGS, ["harness", "run"])
    folder.finish()

    marker = read_marker(tmp_path / "out")
    assert marker is not None
    assert marker.run_id == folder.run_id and marker.status == "finished"
    assert marker.settings == SETTINGS and len(marker.fingerprint) == 64


def test_another_runs_results_are_refused_naming_what_differs(tmp_path: Path):
    first = claim_output_folder(tmp_path, SETTINGS)
    (tmp_path / "t_score.json").write_text("{}")
    first.record([tmp_path / "t_score.json"])
    first.finish()

    with pytest.raises(OutputPathError, match=r"results of another run \(other limit; .*--overwrite"):
        claim_output_folder(tmp_path, {**SETTINGS, "limit": 5})
    assert (tmp_path / "t_score.json").exists()  # nothing lost


def test_overwrite_replaces_another_runs_files_as_a_whole_and_keeps_other_files(tmp_path: Path):
    first = claim_output_folder(tmp_path, SETTINGS)
    for name in ("t_score.json", "t_qry", "leaderboard.json", "leaderboard_entry.json", "listed.bin"):
        (tmp_path / name).write_text("old")
    first.record([tmp_path / "t_score.json", tmp_path / "listed.bin"])
    first.release()
    (tmp_path / "notes.txt").write_text("mine")

    claim_output_folder(tmp_path, {**SETTINGS, "limit": 5}, overwrite=True).release()

    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in (RUN_MARKER, LOCK_FILE))
    assert left == ["notes.txt"]


def test_an_earlier_try_of_the_same_run_is_replaced_without_overwrite(tmp_path: Path):
    first = claim_output_folder(tmp_path, SETTINGS)
    (tmp_path / "leaderboard_entry.json").write_text("stale")
    first.release()  # killed: the marker still says running

    second = claim_output_folder(tmp_path, dict(SETTINGS))

    assert not (tmp_path / "leaderboard_entry.json").exists()
    assert second.run_id != first.run_id
    second.release()


def test_result_files_without_a_marker_are_refused(tmp_path: Path):
    (tmp_path / "ImageNet-1K_score.json").write_text("{}")

    with pytest.raises(OutputPathError, match="unmarked run .*ImageNet-1K_score.json"):
        claim_output_folder(tmp_path, SETTINGS)


def test_a_folder_being_written_by_another_run_is_refused(tmp_path: Path):
    holder = claim_output_folder(tmp_path, SETTINGS)
    try:
        with pytest.raises(OutputPathError, match="being written by another harness run"):
            claim_output_folder(tmp_path, SETTINGS)
    finally:
        holder.release()


def test_a_corrupt_marker_counts_as_no_marker(tmp_path: Path):
    (tmp_path / RUN_MARKER).write_text("[" * 100_000)
    (tmp_path / "t_pred.jsonl").write_text("")

    with pytest.raises(OutputPathError, match="unmarked run"):
        claim_output_folder(tmp_path, SETTINGS)


# --- through the command line: refused before the model loads -------------------------------------


def test_output_path_that_is_a_file_is_one_line_before_the_model_loads(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    target = tmp_path / "file.txt"
    target.write_text("")
    argv = run_args("ImageNet-1K", data=mmeb_basedir, out=target, model_args=f"pretrained={tmp_path / 'no-model'}")

    message = one_error_line(capsys, argv)

    assert message == f"output folder {target} is a file, not a folder"


def test_unwritable_output_path_is_one_line_before_the_model_loads(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "file.txt").write_text("")
    out = tmp_path / "file.txt" / "sub"  # a folder below a file can never be made
    argv = run_args("ImageNet-1K", data=mmeb_basedir, out=out, model_args=f"pretrained={tmp_path / 'no-model'}")

    message = one_error_line(capsys, argv)

    assert message.startswith(f"output folder {out} cannot be written: ")


def test_empty_task_list_is_refused_before_the_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = run_args(",,,", data=tmp_path, out=tmp_path / "out", model_args=f"pretrained={tmp_path / 'no-model'}")

    message = one_error_line(capsys, argv)

    assert message == "--tasks ',,,' names no task (e.g. --tasks mmeb_v2_image)"
    assert not (tmp_path / "out").exists()


def test_eval_py_batch_size_zero_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from harness.cli.reference_compat import main as eval_main

    config = tmp_path / "c.yaml"
    config.write_text("tasks: [ImageNet-1K]\n")
    argv = ["--model_name", "x", "--dataset_config", str(config), "--encode_output_path", str(tmp_path / "o")]

    status = eval_main([*argv, "--per_device_eval_batch_size", "0"])

    assert status == 2
    assert capsys.readouterr().err.strip() == "error: batch_size must be >= 1 (got 0)"


def test_rerun_with_other_settings_is_refused_and_overwrite_replaces_the_folder(
    tmp_path: Path, mmeb_basedir: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    model_args = f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"
    assert main(run_args("ImageNet-1K", data=mmeb_basedir, out=out, model_args=model_args)) == 0
    capsys.readouterr()

    message = one_error_line(
        capsys, [*run_args("VisDial", data=mmeb_basedir, out=out, model_args=model_args), "--limit", "2"]
    )
    assert message.startswith(f"output folder {out} holds results of another run (other limit; run ")

    argv = [*run_args("VisDial", data=mmeb_basedir, out=out, model_args=model_args), "--limit", "2", "--overwrite"]
    assert main(argv) == 0
    names = {p.name for p in out.iterdir()}
    assert not any(name.startswith("ImageNet-1K") for name in names)
    assert "VisDial_score.json" in names
    marker = read_marker(out)
    assert marker is not None and marker.status == "finished" and "VisDial_score.json" in marker.files
    run_file = json.loads((out / "leaderboard.json").read_text())
    assert run_file["run"]["run_id"] == marker.run_id


# --- killed midway --------------------------------------------------------------------------------

KILL_SCRIPT = """
import sys
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_midway_leaves_a_running_marker_and_its_rerun_replaces_the_folder(
    tmp_path: Path, mmeb_basedir: Path, tiny_checkpoint: Path, write_task
):
    """kill -9 after the first task's files: the rerun of the same command starts clean (no file of
    the killed try, no stale entry), a different command is refused."""
    for name in ("first_task", "second_task", "third_task"):
        write_task(tmp_path / "tasks", name)
    group = tmp_path / "tasks" / "killgroup.yaml"
    members = "[first_task, second_task, third_task]"
    group.write_text(f"group: killgroup\nversion: 1\naggregate: mean_of_tasks\ntask: {members}\n")
    out = tmp_path / "out"
    model_args = f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"
    argv = run_args("killgroup", data=mmeb_basedir, out=out, include=tmp_path / "tasks", model_args=model_args)
    # A stale entry of an earlier, identical run must not survive the killed rerun.
    assert main(argv) == 0
    assert (out / "leaderboard_entry.json").exists()
    earlier = read_marker(out)
    assert earlier is not None

    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, *argv], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        current = read_marker(out)
        if current is not None and current.run_id != earlier.run_id and "first_task_score.json" in current.files:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    marker = read_marker(out)
    assert marker is not None and marker.status == "running" and marker.run_id != earlier.run_id
    assert not (out / "leaderboard_entry.json").exists()  # the killed try removed the earlier run's entry
    with pytest.raises(HarnessError):  # another command may not mix its files in
        claim_output_folder(out, {"something": "else"})

    assert main(argv) == 0
    finished = read_marker(out)
    assert finished is not None and finished.status == "finished" and finished.run_id != marker.run_id
    run_file = json.loads((out / "leaderboard.json").read_text())
    assert sorted(run_file["tasks"]) == ["first_task", "second_task", "third_task"]
    assert (out / "leaderboard_entry.json").exists()
