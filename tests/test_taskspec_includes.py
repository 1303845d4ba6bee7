"""Where ``include:`` may read: the loaded file's folder, the built-in tasks, ``--include_path``.

A stranger's task file must not read other files of the machine, and the refusal must not echo
anything from the target: it names the include line and the path as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import minimal_task, write_task

from harness.cli import main
from harness.errors import TaskFileError
from harness.taskspec import LoadedTask, TaskIndex, load_task_file

OUTSIDE = "is outside the allowed folders (the loaded task file's folder, the built-in tasks, --include_path)"
SECRET = "leaked_secret_key"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_including(path: Path, include: str) -> Path:
    """A valid task file (named after the file) whose first line includes ``include``."""
    text = yaml.safe_dump(minimal_task(path.stem), sort_keys=False, width=1000)
    return write(path, f"include: {include!r}\n{text}")


def write_defaults(path: Path, description: str) -> Path:
    return write(path, f"description: {description}\n")


def load_error(path: Path, include_roots: list[Path] | None = None) -> str:
    with pytest.raises(TaskFileError) as error:
        load_task_file(path, include_roots or [])
    return str(error.value)


def description(path: Path, include_roots: list[Path] | None = None) -> str:
    loaded = load_task_file(path, include_roots or [])
    assert isinstance(loaded, LoadedTask)
    return loaded.spec.description


# --- refused -----------------------------------------------------------------------------------------


def test_absolute_include_of_a_system_file_is_refused_without_reading_it(tmp_path: Path):
    path = write_including(tmp_path / "t.yaml", "/etc/passwd")

    message = load_error(path)

    assert message == f"{path}:1: include: '/etc/passwd' {OUTSIDE}"


def test_include_climbing_out_of_the_task_folder_is_refused_and_its_content_not_shown(tmp_path: Path):
    write(tmp_path / "secret.yaml", f"{SECRET}: 1\n")
    path = write_including(tmp_path / "tasks" / "deep" / "t.yaml", "../../secret.yaml")

    message = load_error(path)

    assert message == f"{path}:1: include: '../../secret.yaml' {OUTSIDE}"
    assert SECRET not in message


def test_builtin_include_climbing_out_of_the_builtin_folder_is_refused(tmp_path: Path):
    path = write_including(tmp_path / "t.yaml", "harness:../../../etc/passwd")

    message = load_error(path)

    assert message == f"{path}:1: include: 'harness:../../../etc/passwd' is outside the built-in tasks folder"


def test_builtin_include_may_not_reach_the_users_folder_either(tmp_path: Path):
    write_defaults(tmp_path / "_mine.yaml", "mine")
    path = write_including(tmp_path / "t.yaml", f"harness:{'../' * 30}{tmp_path.relative_to('/')}/_mine.yaml")

    assert load_error(path).endswith("is outside the built-in tasks folder")


def test_symlink_pointing_outside_the_task_folder_is_refused(tmp_path: Path):
    write(tmp_path / "elsewhere" / f"{SECRET}.yaml", f"{SECRET}: 1\n")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "_link.yaml").symlink_to(tmp_path / "elsewhere" / f"{SECRET}.yaml")
    path = write_including(tmp_path / "tasks" / "t.yaml", "_link.yaml")

    assert load_error(path) == f"{path}:1: include: '_link.yaml' {OUTSIDE}"


def test_nested_include_may_not_leave_the_loaded_files_folder(tmp_path: Path):
    write(tmp_path / "outside.yaml", "description: outside\n")
    middle = write(tmp_path / "tasks" / "sub" / "_middle.yaml", "# shared\ninclude: ../../outside.yaml\n")
    path = write_including(tmp_path / "tasks" / "t.yaml", "sub/_middle.yaml")

    assert load_error(path) == f"{middle}:2: include: '../../outside.yaml' {OUTSIDE}"


def test_absolute_include_inside_an_allowed_folder_is_refused_as_not_relative(tmp_path: Path):
    defaults = write_defaults(tmp_path / "_d.yaml", "d")
    path = write_including(tmp_path / "t.yaml", str(defaults))

    message = load_error(path)

    assert message == f"{path}:1: include: '{defaults}' must be a relative path (or harness:<path> for a built-in file)"


def test_include_into_another_folder_is_refused_without_it_as_an_include_path(tmp_path: Path):
    write_defaults(tmp_path / "shared" / "_d.yaml", "shared")
    path = write_including(tmp_path / "tasks" / "t.yaml", "../shared/_d.yaml")

    assert load_error(path) == f"{path}:1: include: '../shared/_d.yaml' {OUTSIDE}"


def test_include_with_a_nul_byte_is_refused_on_one_line(tmp_path: Path):
    path = write(tmp_path / "t.yaml", 'include: "a\\0b.yaml"\ntask: t\n')

    message = load_error(path)

    assert message.startswith(f"{path}:1: include: 'a\\x00b.yaml' is not a usable path")
    assert "\n" not in message


# --- allowed -------------------------------------------------------------------------------------------


def test_include_of_a_file_below_the_task_folder_is_read(tmp_path: Path):
    write_defaults(tmp_path / "parts" / "_d.yaml", "from below")
    path = write_including(tmp_path / "t.yaml", "parts/_d.yaml")

    assert description(path) == "from below"


def test_nested_include_may_climb_back_within_the_loaded_files_folder(tmp_path: Path):
    write_defaults(tmp_path / "tasks" / "_root.yaml", "from the task folder")
    write(tmp_path / "tasks" / "sub" / "_middle.yaml", "include: ../_root.yaml\n")
    path = write_including(tmp_path / "tasks" / "t.yaml", "sub/_middle.yaml")

    assert description(path) == "from the task folder"


def test_user_file_may_include_a_builtin_parser_that_includes_its_siblings(tmp_path: Path):
    path = write(
        tmp_path / "mine.yaml",
        "include: harness:mmeb_v2/image/_image_cls.yaml\ntask: mine\ndataset:\n  files: [x.jsonl]\n",
    )

    loaded = load_task_file(path)

    assert isinstance(loaded, LoadedTask)
    assert loaded.spec.metrics.main == "hit@1"  # from _mmeb_image_defaults.yaml, a sibling of the parser


def test_include_path_root_is_an_allowed_folder(tmp_path: Path):
    write_defaults(tmp_path / "shared" / "_d.yaml", "shared")
    path = write_including(tmp_path / "tasks" / "t.yaml", "../shared/_d.yaml")

    assert description(path, include_roots=[tmp_path / "shared"]) == "shared"


def test_task_index_passes_its_include_paths_as_include_roots(tmp_path: Path):
    write_defaults(tmp_path / "shared" / "_d.yaml", "shared")
    write_including(tmp_path / "tasks" / "t.yaml", "../shared/_d.yaml")

    index = TaskIndex(include_paths=[tmp_path / "tasks", tmp_path / "shared"], include_builtin=False)

    assert index.tasks["t"].spec.description == "shared"


def test_validate_reads_includes_from_its_include_path(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    write_defaults(tmp_path / "shared" / "_d.yaml", "shared")
    path = write_task(tmp_path / "tasks", "t")
    path.write_text("include: ../shared/_d.yaml\n" + path.read_text(), encoding="utf-8")

    status = main(
        ["validate", str(path), "--data_basedir", str(mmeb_basedir), "--include_path", str(tmp_path / "shared")]
    )

    assert capsys.readouterr().out.splitlines()[0].startswith(f"ok    {path}:")
    assert status == 0
