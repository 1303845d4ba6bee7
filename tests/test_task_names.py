"""Task, group and tag names: one documented rule, checked where the file is loaded.

Task names become output file prefixes (``{task}_score.json``), so a name from a stranger's
file must not carry a path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import write_task

from harness.cli import main
from harness.errors import TaskFileError
from harness.taskspec import NAME_MAX_LENGTH, NAME_PATTERN, TaskIndex, check_name, load_task_file
from harness.taskspec.names import NAME_RULE

RULE = f"({NAME_RULE})"


def load_error(path: Path) -> str:
    with pytest.raises(TaskFileError) as error:
        load_task_file(path)
    return str(error.value)


def write_group(directory: Path, name: str, members: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "group.yaml"
    document = {"group": name, "version": "1.0", "aggregate": "mean_of_tasks", "task": members}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["/tmp/x", "../../x", "a/../b", "a//b", "a/", "a/.b", "a\\b", "C:x"])
def test_task_name_with_a_path_or_drive_is_refused_at_its_line(tmp_path: Path, name: str):
    path = write_task(tmp_path, "t", task=name)

    message = load_error(path)

    assert message == f"{path}:1: task: task name {name!r} is not a valid name {RULE}"


def test_task_name_starting_with_a_dot_is_refused(tmp_path: Path):
    path = write_task(tmp_path, "t", task=".hidden")

    assert load_error(path).endswith(f"task: task name '.hidden' is not a valid name {RULE}")


def test_task_name_longer_than_the_limit_is_refused(tmp_path: Path):
    path = write_task(tmp_path, "t", task="a" * (NAME_MAX_LENGTH + 1))

    assert f"{path}:1: task: task name 'aaa" in load_error(path)


def test_task_name_of_the_longest_allowed_length_loads(tmp_path: Path):
    path = write_task(tmp_path, "t", task="a" * NAME_MAX_LENGTH)

    assert load_task_file(path).spec.task == "a" * NAME_MAX_LENGTH  # type: ignore[union-attr]


def test_empty_task_name_is_refused(tmp_path: Path):
    path = write_task(tmp_path, "t", task="")

    assert load_error(path) == f"{path}:1: task: task name '' is not a valid name {RULE}"


def test_tag_with_a_slash_is_refused_at_the_line_of_the_item(tmp_path: Path):
    path = tmp_path / "t.yaml"
    text = write_task(tmp_path, "t").read_text().replace("task: t\n", "task: t\ntag:\n- ok\n- ../up\n")
    path.write_text(text, encoding="utf-8")

    assert load_error(path) == f"{path}:4: tag.1: tag '../up' is not a valid name {RULE}"


def test_group_name_with_a_slash_is_refused(tmp_path: Path):
    path = write_group(tmp_path, "../evil", ["a"])

    assert load_error(path) == f"{path}:1: group: group name '../evil' is not a valid name {RULE}"


def test_group_member_that_is_a_path_is_refused(tmp_path: Path):
    path = write_group(tmp_path, "g", ["a", "/etc/passwd"])

    message = load_error(path)

    assert message.endswith(f"task.1: group member '/etc/passwd' is not a valid name {RULE}")


def test_every_builtin_task_group_and_tag_name_follows_the_rule():
    index = TaskIndex()

    assert index.names()
    assert [name for name in index.names() if NAME_PATTERN.fullmatch(name) is None] == []


@pytest.mark.parametrize("name", ["ImageNet-1K", "MSCOCO_i2t", "Visual7W-Pointing", "I-CLS", "mmeb_v2.image"])
def test_check_name_returns_a_valid_name(name: str):
    assert check_name(name, "task name") == name


def test_check_name_names_what_was_checked_and_the_rule():
    with pytest.raises(ValueError) as error:
        check_name("x/../y", "output prefix")

    assert str(error.value) == f"output prefix 'x/../y' is not a valid name {RULE}"


@pytest.mark.parametrize("name", ["text/BRIGHT/aops", "toolde/web/apigen", "memory/KnowMeBench", "GAE-GUIAct_q2t"])
def test_mmeb_v3_keys_with_segments_are_names(name: str):
    assert check_name(name, "task name") == name


def test_harness_tasks_refuses_a_bad_task_name_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write_task(tmp_path / "mine", "t", task="../../x")

    status = main(["tasks", "--include_path", str(tmp_path / "mine")])

    err = capsys.readouterr().err
    assert status == 2
    assert err.strip() == f"error: {path}:1: task: task name '../../x' is not a valid name {RULE}"
